"""E-mail delivery of the report, against a real SMTP server (aiosmtpd) on 127.0.0.1.

What a user sees is what is asserted: the message that arrives (headers, parts,
recipients), the problem line a failed delivery leaves in the run's outcome, and that
a failed delivery never fails a run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import json
import logging
import shutil
import socket
import ssl
import subprocess
import sys
import types
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from conftest import write_config

from crawler.analysis.facts import FetchProblem, PageChange
from crawler.analysis.flags import FlagReason, SkillFlag
from crawler.analysis.takeaways import Takeaway
from crawler.config import Config, EmailConfig, load_config
from crawler.demo.server import DocServer
from crawler.pipeline import crawl
from crawler.report.deliver import deliver, email_subject, notify_chat, send_email
from crawler.report.model import Report
from crawler.types import ChangeKind

# The login tests use plain-text AUTH on purpose (no certificate needed); aiosmtpd warns.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning")

DATE = dt.date(2025, 12, 5)
TITLE = "Phoenix (Official + Community) Research"
USER, PASSWORD, PASSWORD_ENV = "docwatch", "correct horse battery", "DOCWATCH_TEST_SMTP_PASSWORD"


# --- a real SMTP server ------------------------------------------------------------

@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


class Inbox:
    """aiosmtpd handler: keeps every accepted message; refuses the addresses in ``refuse``."""

    def __init__(self, refuse: tuple[str, ...] = ()):
        self.messages: list[Received] = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.content, message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def authenticator(attempts: list[tuple[str, str]], accept: bool):
    """An aiosmtpd authenticator that records each login and accepts or refuses it."""

    def check(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        attempts.append((login, password))
        # handled=False: aiosmtpd itself answers a refusal with "535 ... invalid".
        return AuthResult(success=accept and (login, password) == (USER, PASSWORD),
                          handled=False)

    return check


@pytest.fixture
def smtp_server():
    """Start aiosmtpd servers on free loopback ports: ``start(**kwargs) -> (inbox, port)``."""
    controllers: list[Controller] = []

    def start(inbox: Inbox | None = None, **kwargs) -> tuple[Inbox, int]:
        inbox = inbox or Inbox()
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return inbox, port

    yield start
    for controller in controllers:
        controller.stop()


def auth_server(start, accept: bool, **kwargs) -> tuple[Inbox, int, list[tuple[str, str]]]:
    attempts: list[tuple[str, str]] = []
    # auth_required: a message sent without logging in would be refused, so a delivery
    # proves the login happened. Plain-text AUTH is allowed only because this is a test.
    inbox, port = start(authenticator=authenticator(attempts, accept), auth_required=True,
                        auth_require_tls=False, **kwargs)
    return inbox, port, attempts


def email_config(port: int, **overrides) -> EmailConfig:
    settings = {"smtp_host": "127.0.0.1", "smtp_port": port, "security": "none",
                "from": "docwatch@example.com", "to": ["a@example.com", "b@example.com"],
                "send": "changes", "timeout": 5}
    settings.update(overrides)
    return EmailConfig.model_validate(settings)


# --- reports -----------------------------------------------------------------------

def change(title: str = "Routing", url: str = "https://hexdocs.pm/phoenix/routing.html",
           kind: str = "modified") -> PageChange:
    return PageChange(source="hexdocs", package="phoenix", url=url, title=title,
                      change=ChangeKind(kind), summary="+3 -1 lines in 1 section(s)",
                      sections=("Scoped routes",))


def flag(name: str) -> SkillFlag:
    return SkillFlag(name, None, (FlagReason("https://hexdocs.pm/phoenix/routing.html",
                                             "Routing", ChangeKind.MODIFIED, "watches it"),))


def error(url: str = "https://hexdocs.pm/ecto/") -> FetchProblem:
    return FetchProblem("hexdocs", url, "HTTP 500", 3, 500)


def report_with_changes(skills: int = 3, title: str = TITLE) -> Report:
    return Report(title, DATE, changes=(change(),),
                  skills=tuple(flag(f"skill-{i}") for i in range(skills)))


def quiet_report() -> Report:
    return Report(TITLE, DATE)


def write_files(tmp_path: Path, html_text: str | None = None) -> list[Path]:
    md = tmp_path / "report.md"
    md.write_text("# Phoenix research — 2025-12-05\n\nRouting changed: `scope/3` — naïve\n",
                  encoding="utf-8")
    js = tmp_path / "report.json"
    js.write_text("{}\n")
    paths = [md, js]
    if html_text is not None:
        page = tmp_path / "report.html"
        page.write_text(html_text, encoding="utf-8")
        paths.append(page)
    return paths


def parts(message: EmailMessage) -> dict[str, str]:
    """Each part's text as a mail client shows it (SMTP carries lines as CRLF)."""
    return {part.get_content_type(): part.get_content().replace("\r\n", "\n")
            for part in message.iter_parts()}


# --- what is sent --------------------------------------------------------------------

def test_report_with_changes_arrives_as_text_and_html_alternatives(smtp_server, tmp_path):
    inbox, port = smtp_server()
    report_html = "<!DOCTYPE html><html><body><h1>Phoenix research</h1>" \
                  "<p>Routing changed</p></body></html>\n"
    paths = write_files(tmp_path, report_html)

    problems = deliver(report_with_changes(3), paths, Config(email=email_config(port)))

    assert problems == []
    [got] = inbox.messages
    assert got.rcpt_tos == ["a@example.com", "b@example.com"]
    assert got.mail_from == "docwatch@example.com"
    msg = got.message
    assert msg["Subject"] == f"{TITLE} — 2025-12-05: 3 skills need updates"
    assert msg["From"] == "docwatch@example.com"
    assert msg["To"] == "a@example.com, b@example.com"
    assert msg["Date"] and msg["Message-ID"].endswith("@example.com>")
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in msg.iter_parts())
    body = parts(msg)
    assert body["text/plain"] == paths[0].read_text(encoding="utf-8")
    assert body["text/html"] == report_html


def test_without_an_html_report_the_html_part_is_the_escaped_markdown(smtp_server, tmp_path):
    inbox, port = smtp_server()
    hostile = Report(TITLE, DATE,
                     changes=(change('<script>alert("x")</script> <b>Routing</b>'),),
                     skills=(flag("phoenix-routing"),))

    assert deliver(hostile, [], Config(email=email_config(port))) == []

    html_part = parts(inbox.messages[0].message)["text/html"]
    assert "<script>" not in html_part and "<b>" not in html_part
    assert "&lt;script" in html_part and "https://hexdocs.pm/phoenix/routing.html" in html_part
    assert html_part.count("<pre") == 1


def test_the_html_report_next_to_the_markdown_is_used_even_when_not_listed(smtp_server,
                                                                          tmp_path):
    inbox, port = smtp_server()
    md, js, page = write_files(tmp_path, "<html><body><p>the HTML report</p></body></html>\n")
    (tmp_path / "index.html").write_text("<html><body>list of every report</body></html>")

    assert deliver(report_with_changes(), [md, js, tmp_path / "index.html"],
                   Config(email=email_config(port))) == []

    assert parts(inbox.messages[0].message)["text/html"] == page.read_text()


@pytest.mark.parametrize(("report", "summary"), [
    (report_with_changes(1), "1 skill needs an update"),
    (report_with_changes(2), "2 skills need updates"),
    (report_with_changes(0), "no skill needs an update"),
    (Report(TITLE, DATE, changes=(change(),), skills=(flag("x"),), errors=(error(),)),
     "1 skill needs an update, 1 fetch problem"),
    (Report(TITLE, DATE, errors=(error(), error("https://hexdocs.pm/plug/"))),
     "2 fetch problems"),
    (quiet_report(), "no changes"),
])
def test_subject_says_what_the_report_found(report, summary):
    assert email_subject(report) == f"{TITLE} — 2025-12-05: {summary}"


def test_subject_carries_the_top_takeaway_cut_to_a_readable_length():
    long = Takeaway("phoenix 1.7.14 → 1.8.4: a minor release; " + "review it " * 30, "u", 1)
    report = dataclasses.replace(report_with_changes(2), takeaways=(
        Takeaway("phx-feedback-for was removed", "u", 2), long))

    assert email_subject(report) == (f"{TITLE} — 2025-12-05: phx-feedback-for was removed "
                                     "(2 skills need updates)")
    report = dataclasses.replace(report, takeaways=(long,))
    top = email_subject(report).split(": ", 1)[1]
    assert top.endswith("… (2 skills need updates)") and len(top) < 160


def test_a_title_with_line_breaks_cannot_add_headers(smtp_server, tmp_path):
    inbox, port = smtp_server()
    report = report_with_changes(1, title="Research\r\nBcc: victim@example.net\nX-Evil: 1")

    assert deliver(report, [], Config(email=email_config(port))) == []

    [got] = inbox.messages
    assert got.rcpt_tos == ["a@example.com", "b@example.com"]
    assert got.message["Bcc"] is None and got.message["X-Evil"] is None
    assert got.message["Subject"] == ("Research Bcc: victim@example.net X-Evil: 1 — "
                                      "2025-12-05: 1 skill needs an update")
    header_block = got.raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    assert not any(line.startswith((b"Bcc", b"X-Evil")) for line in header_block.split(b"\n"))


def test_a_recipient_with_a_line_break_is_a_problem_not_an_injection(smtp_server):
    inbox, port = smtp_server()
    config = Config(email=email_config(port, to=["a@example.com\r\nBcc: victim@example.net"]))

    problems = deliver(report_with_changes(), [], config)

    assert len(problems) == 1 and "cannot build the message" in problems[0]
    assert inbox.messages == []


# --- when it is sent -----------------------------------------------------------------

def test_send_changes_skips_a_report_with_nothing_new(smtp_server, tmp_path):
    inbox, port = smtp_server()

    problems = deliver(quiet_report(), write_files(tmp_path), Config(email=email_config(port)))

    assert problems == [] and inbox.messages == []


def test_send_changes_sends_when_only_fetch_errors_happened(smtp_server):
    inbox, port = smtp_server()

    assert deliver(Report(TITLE, DATE, errors=(error(),)), [],
                   Config(email=email_config(port))) == []

    assert inbox.messages[0].message["Subject"].endswith(": 1 fetch problem")


def test_send_always_sends_a_report_with_nothing_new(smtp_server, tmp_path):
    inbox, port = smtp_server()

    problems = deliver(quiet_report(), write_files(tmp_path),
                       Config(email=email_config(port, send="always")))

    assert problems == []
    assert inbox.messages[0].message["Subject"] == f"{TITLE} — 2025-12-05: no changes"


def test_send_never_sends_nothing_even_with_news(smtp_server, tmp_path):
    inbox, port = smtp_server()

    problems = deliver(report_with_changes(), write_files(tmp_path),
                       Config(email=email_config(port, send="never")))

    assert problems == [] and inbox.messages == []


def test_no_email_block_means_no_email(smtp_server, tmp_path):
    assert deliver(report_with_changes(), write_files(tmp_path), Config()) == []


# --- login -----------------------------------------------------------------------------

def test_login_uses_the_password_from_the_environment(smtp_server, monkeypatch):
    inbox, port, attempts = auth_server(smtp_server, accept=True)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    config = Config(email=email_config(port, username=USER, password_env=PASSWORD_ENV))

    assert deliver(report_with_changes(), [], config) == []

    assert attempts == [(USER, PASSWORD)]
    assert len(inbox.messages) == 1


def test_refused_login_is_a_problem_not_a_crash(smtp_server, monkeypatch, caplog):
    inbox, port, attempts = auth_server(smtp_server, accept=False)
    monkeypatch.setenv(PASSWORD_ENV, "wrong password")
    config = Config(email=email_config(port, username=USER, password_env=PASSWORD_ENV))

    with caplog.at_level(logging.WARNING, logger="crawler.report.deliver"):
        problems = deliver(report_with_changes(), [], config)

    assert len(problems) == 1
    assert problems[0].startswith("e-mail to a@example.com, b@example.com not sent: "
                                  "SMTP authentication failed for user 'docwatch' (535")
    assert attempts and inbox.messages == []
    assert problems[0] in caplog.text
    assert "wrong password" not in problems[0] and "wrong password" not in caplog.text


def test_missing_password_variable_is_a_problem_and_nothing_is_sent(smtp_server, monkeypatch):
    inbox, port, attempts = auth_server(smtp_server, accept=True)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    config = Config(email=email_config(port, username=USER, password_env=PASSWORD_ENV))

    problems = deliver(report_with_changes(), [], config)

    assert len(problems) == 1
    assert f"environment variable {PASSWORD_ENV}" in problems[0]
    assert "not set" in problems[0]
    assert attempts == [] and inbox.messages == []


# --- the server is not there, or says no ---------------------------------------------

def test_connection_refused_is_a_problem():
    port = free_port()  # nothing listens there

    problems = deliver(report_with_changes(), [], Config(email=email_config(port)))

    assert problems == [f"e-mail to a@example.com, b@example.com not sent: "
                        f"connection refused by 127.0.0.1:{port}"]


def test_a_server_that_never_answers_times_out_with_a_problem():
    with socket.socket() as silent:
        # Accepted by the kernel's backlog, never greeted: the SMTP banner never comes.
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        problems = deliver(report_with_changes(), [],
                           Config(email=email_config(port, timeout=0.3)))

    assert problems == [f"e-mail to a@example.com, b@example.com not sent: "
                        f"no answer from 127.0.0.1:{port} within 0.3 s"]


def test_a_refused_recipient_is_named_and_the_others_still_get_it(smtp_server):
    inbox, port = smtp_server(Inbox(refuse=("b@example.com",)))

    problems = deliver(report_with_changes(), [], Config(email=email_config(port)))

    assert [m.rcpt_tos for m in inbox.messages] == [["a@example.com"]]
    assert len(problems) == 1
    assert problems[0].startswith("e-mail not delivered to b@example.com: recipient refused")
    assert "550" in problems[0]


def test_every_recipient_refused_is_a_problem(smtp_server):
    inbox, port = smtp_server(Inbox(refuse=("a@example.com", "b@example.com")))

    problems = deliver(report_with_changes(), [], Config(email=email_config(port)))

    assert inbox.messages == []
    assert len(problems) == 1 and "every recipient was refused" in problems[0]
    assert "a@example.com: 550" in problems[0] and "b@example.com: 550" in problems[0]


# --- TLS ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (made with the openssl CLI)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def server_tls(certificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def client_tls(certificate) -> ssl.SSLContext:
    # The default, verifying context, trusting the test certificate as its only CA.
    return ssl.create_default_context(cafile=str(certificate[0]))


def test_starttls_encrypts_before_logging_in(smtp_server, certificate, monkeypatch):
    attempts: list[tuple[str, str]] = []
    # auth_require_tls stays on: the server refuses AUTH on a connection not yet upgraded.
    inbox, port = smtp_server(tls_context=server_tls(certificate), require_starttls=True,
                              authenticator=authenticator(attempts, True), auth_required=True)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    config = email_config(port, security="starttls", username=USER, password_env=PASSWORD_ENV)

    assert send_email(report_with_changes(), [], config,
                      tls_context=client_tls(certificate)) == []

    assert attempts == [(USER, PASSWORD)] and len(inbox.messages) == 1


def test_starttls_with_an_untrusted_certificate_sends_nothing(smtp_server, certificate):
    inbox, port = smtp_server(tls_context=server_tls(certificate), require_starttls=True)
    config = Config(email=email_config(port, security="starttls"))

    problems = deliver(report_with_changes(), [], config)  # the system's CAs: not trusted

    assert inbox.messages == []
    assert len(problems) == 1
    assert f"TLS certificate of 127.0.0.1:{port} not trusted" in problems[0]


def test_starttls_against_a_server_without_it_is_a_problem(smtp_server):
    inbox, port = smtp_server()

    problems = deliver(report_with_changes(), [],
                       Config(email=email_config(port, security="starttls")))

    assert inbox.messages == []
    assert len(problems) == 1 and "STARTTLS" in problems[0]


def test_implicit_tls_delivers(smtp_server, certificate):
    inbox, port = smtp_server(ssl_context=server_tls(certificate))

    assert send_email(report_with_changes(), [], email_config(port, security="ssl"),
                      tls_context=client_tls(certificate)) == []

    assert len(inbox.messages) == 1


# --- chat notifications (Apprise is an optional extra) --------------------------------

def fake_apprise(sent: list[dict], accept_url: bool = True, deliver_ok: bool = True):
    """Stand-in for the ``apprise`` package: records what would have been posted."""

    class Apprise:
        def __init__(self):
            self.urls: list[str] = []

        def add(self, url: str) -> bool:
            self.urls.append(url)
            return accept_url

        def notify(self, title: str, body: str, body_format: str) -> bool:
            sent.append({"urls": self.urls, "title": title, "body": body,
                         "format": body_format})
            return deliver_ok

    return types.SimpleNamespace(Apprise=Apprise,
                                 NotifyFormat=types.SimpleNamespace(TEXT="text"))


def test_chat_notification_is_a_short_summary(monkeypatch, tmp_path):
    sent: list[dict] = []
    monkeypatch.setitem(sys.modules, "apprise", fake_apprise(sent))
    report = Report(TITLE, DATE, changes=(change("<img src=x onerror=alert(1)>"),),
                    skills=(flag("phoenix-routing"),))
    paths = write_files(tmp_path)

    assert notify_chat(report, paths, ["slack://token-a/token-b/token-c"]) == []

    [post] = sent
    assert post["urls"] == ["slack://token-a/token-b/token-c"]
    assert post["title"] == f"{TITLE} — 2025-12-05: 1 skill needs an update"
    assert "phoenix-routing: 1 reason" in post["body"] and str(paths[0]) in post["body"]
    assert "onerror" not in post["body"]  # crawled text stays out of chat
    assert post["format"] == "text"


def test_chat_notification_failure_is_a_problem_without_the_secret_url(monkeypatch):
    sent: list[dict] = []
    monkeypatch.setitem(sys.modules, "apprise", fake_apprise(sent, deliver_ok=False))

    problems = notify_chat(report_with_changes(), [], ["slack://secret-token/x/y"])

    assert problems == ["chat notification to slack://… not sent: the service did not "
                        "accept it (see Apprise's log)"]


def test_chat_notification_without_apprise_installed_is_a_problem(monkeypatch):
    monkeypatch.setitem(sys.modules, "apprise", None)  # makes "import apprise" fail

    problems = notify_chat(report_with_changes(), [], ["slack://t/x/y"])

    assert len(problems) == 1 and "'apprise' package is not installed" in problems[0]
    assert notify_chat(report_with_changes(), [], []) == []  # not configured: no problem


# --- end to end: the real pipeline against the demo docs site -------------------------

DAY1, DAY2 = dt.date(2024, 1, 2), dt.date(2024, 2, 2)


def pipeline_config(tmp_path: Path, base: str, smtp_port: int) -> Path:
    """The demo's sources.yaml, mailing each report through the SMTP server on ``smtp_port``."""
    return write_config(tmp_path, base, extra=f"""\
email:
  send: changes
  smtp_host: 127.0.0.1
  smtp_port: {smtp_port}
  security: none
  username: {USER}
  password_env: {PASSWORD_ENV}
  from: docwatch@example.com
  to: [team@example.com]
  timeout: 5
""")


def crawl_v1_then_v2(tmp_path: Path, smtp_port: int):
    database = f"sqlite:///{tmp_path / 'db' / 'docwatch.sqlite3'}"
    with DocServer(version="v1") as site:
        config = load_config(pipeline_config(tmp_path, site.base_url, smtp_port))
        first = crawl(config, date=DAY1, database=database)
        site.set_version("v2")
        second = crawl(config, date=DAY2, database=database)
        return first, second, site.base_url


def test_refused_login_does_not_fail_the_run(smtp_server, monkeypatch, tmp_path):
    inbox, port, attempts = auth_server(smtp_server, accept=False)
    monkeypatch.setenv(PASSWORD_ENV, "expired password")

    first, second, _ = crawl_v1_then_v2(tmp_path, port)

    assert first.delivery_problems == []  # a baseline has no news: nothing to send
    assert second.status == "completed"
    assert all(p.is_file() for p in second.report_paths)
    assert json.loads(second.report_paths[1].read_text())["changes"]
    assert len(second.delivery_problems) == 1
    assert second.delivery_problems[0].startswith(
        "e-mail to team@example.com not sent: SMTP authentication failed")
    assert len(attempts) >= 1 and inbox.messages == []


def test_the_run_emails_its_report(smtp_server, monkeypatch, tmp_path):
    inbox, port, attempts = auth_server(smtp_server, accept=True)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)

    first, second, base = crawl_v1_then_v2(tmp_path, port)

    assert first.delivery_problems == [] and second.delivery_problems == []
    assert attempts == [(USER, PASSWORD)]  # one login: the run with news
    [got] = inbox.messages  # only the run with changes sent one
    assert got.rcpt_tos == ["team@example.com"]
    # The top takeaway, then the counts.
    assert got.message["Subject"] == ("Lumen Docs Research — 2024-02-02: "
                                      "Changelog: lm-feedback-for removed (2 skills need updates)")
    body = parts(got.message)
    md_path = next(p for p in second.report_paths if p.suffix == ".md")
    assert body["text/plain"] == md_path.read_text(encoding="utf-8")
    assert f"{base}/lumen/routing.html" in body["text/html"]
