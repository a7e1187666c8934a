"""Deliver a written report: by e-mail, and optionally as a chat notification (Apprise).

Each way of sending is a :class:`Deliverer` of :data:`DELIVERERS`, found by its name.
Delivery never fails a run: the report is on disk already, and a problem here is
logged and returned, one line per failed delivery, so the caller can show it.

The e-mail is ``multipart/alternative``: the Markdown report as ``text/plain`` and the
HTML report as ``text/html``. The HTML comes from the ``.html`` file the renderer wrote
(it escapes crawled content); without one, the Markdown is escaped into a ``<pre>``.
Crawled text is never put into the HTML unescaped.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import os
import smtplib
import ssl
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from crawler.config import Config, EmailConfig
from crawler.report.model import Report
from crawler.report.render import render_markdown

log = logging.getLogger(__name__)


def has_news(report: Report) -> bool:
    """Whether the report has something to say: a change, release, post, flag or fetch error.

    Releases and posts are changes too (``report.changes`` holds every item kind), so a
    first crawl that only recorded a baseline has nothing to say.
    """
    return bool(report.changes or report.skills or report.errors)


def should_send(report: Report, mode: str) -> bool:
    """Apply a ``send`` setting (``always``, ``changes`` or ``never``) to ``report``."""
    if mode == "always":
        return True
    if mode == "changes":
        return has_news(report)
    return False


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def summary_line(report: Report) -> str:
    """What the report says, in a few words: ``3 skills need updates, 1 fetch problem``."""
    skills, errors = len(report.skills), len(report.errors)
    parts = []
    if skills:
        parts.append(_plural(skills, "skill needs an update", "skills need updates"))
    elif report.changes:
        parts.append("no skill needs an update")
    elif not errors:
        parts.append("no changes")
    # With fetch errors and nothing else, "no skill needs an update" would claim more
    # than the run could check: the fetch problems are the whole news.
    if errors:
        parts.append(_plural(errors, "fetch problem", "fetch problems"))
    line = ", ".join(parts)
    return f"{line} (run interrupted)" if report.interrupted else line


def _one_line(value: str) -> str:
    # A header value must stay one line whatever the configured title holds: CR/LF would
    # start a new header (Bcc: ...), other control characters only garble the subject.
    text = " ".join(value.split())
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cc")


# The top takeaway in a subject is cut at this many characters.
SUBJECT_TAKEAWAY = 120


def email_subject(report: Report) -> str:
    """``<title> — <date>: <top takeaway> (<summary>)``, or without a takeaway
    ``<title> — <date>: <summary>``; always a single line."""
    if report.takeaways:
        top = " ".join(report.takeaways[0].text.split())
        if len(top) > SUBJECT_TAKEAWAY:
            top = top[:SUBJECT_TAKEAWAY - 1].rstrip() + "…"
        return _one_line(f"{report.full_title}: {top} ({summary_line(report)})")
    return _one_line(f"{report.full_title}: {summary_line(report)}")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read %s for the e-mail, using a fallback: %s", path, exc)
        return None


def _markdown_path(paths: Sequence[Path]) -> Path | None:
    return next((p for p in paths if p.suffix == ".md"), None)


def _html_path(paths: Sequence[Path]) -> Path | None:
    """The HTML twin of the Markdown report: listed in ``paths`` or written next to it.

    Only ``<stem>.html`` of the report's own stem counts, so a directory page such as
    ``index.html`` is never mailed as the report.
    """
    md = _markdown_path(paths)
    listed = [p for p in paths if p.suffix == ".html" and (md is None or p.stem == md.stem)]
    candidates = [*listed, md.with_suffix(".html")] if md is not None else listed
    return next((p for p in candidates if p.is_file()), None)


def fallback_html(report: Report, markdown: str) -> str:
    """A minimal HTML version: the Markdown, escaped, in a ``<pre>`` block."""
    title = html.escape(report.full_title)
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{title}</title></head>\n<body>\n"
            f"<pre style=\"white-space: pre-wrap\">{html.escape(markdown)}</pre>\n"
            "</body></html>\n")


def _msgid_domain(sender: str) -> str:
    # make_msgid() would otherwise look up this host's FQDN; the sender's domain is the
    # one the message claims to come from anyway.
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2].strip()
    return domain if domain and address.count("@") == 1 else "docwatch.invalid"


def build_email(report: Report, paths: Sequence[Path], email: EmailConfig,
                now: dt.datetime | None = None) -> EmailMessage:
    """The report as a ``multipart/alternative`` message (plain Markdown + HTML).

    Raises ``ValueError`` for a sender or recipient that is not a valid header value.
    """
    md_path, html_path = _markdown_path(paths), _html_path(paths)
    # The files on disk are what the user archives: mail exactly those when readable.
    markdown = (_read_text(md_path) if md_path else None) or render_markdown(report)
    body_html = (_read_text(html_path) if html_path else None) or fallback_html(report,
                                                                                  markdown)

    msg = EmailMessage()
    msg["Subject"] = email_subject(report)
    msg["From"] = email.sender
    msg["To"] = ", ".join(email.to)
    msg["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    msg["Message-ID"] = make_msgid("docwatch", domain=_msgid_domain(email.sender))
    # RFC 3834: tells vacation responders and mailing lists not to answer a robot.
    msg["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps long diff lines and UTF-8 intact through any relay,
    # including servers that do not announce 8BITMIME.
    msg.set_content(markdown, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(body_html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def _smtp_reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


def _failure_reason(exc: BaseException, email: EmailConfig) -> str:
    """Say what went wrong in the words of someone running a mail setup."""
    where = f"{email.smtp_host}:{email.smtp_port}"
    # Order matters: SMTP exceptions and SSL errors are OSErrors too.
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (f"SMTP authentication failed for user {email.username!r} "
                f"({_smtp_reply(exc.smtp_code, exc.smtp_error)})")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{rcpt}: {_smtp_reply(code, text)}"
                            for rcpt, (code, text) in exc.recipients.items())
        return f"every recipient was refused ({refused})"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return (f"the server refused the sender {email.sender!r} "
                f"({_smtp_reply(exc.smtp_code, exc.smtp_error)})")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"{where} does not support what the configuration asks for: {exc}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the SMTP server answered {_smtp_reply(exc.smtp_code, exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib turns a read timeout into "Connection unexpectedly closed: timed out".
        if isinstance(exc.__context__, TimeoutError):
            return f"no answer from {where} within {email.timeout:g} s"
        return f"{where} closed the connection ({exc or 'no reason given'})"
    if isinstance(exc, smtplib.SMTPException):
        return f"SMTP error: {exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate of {where} not trusted ({exc.verify_message or exc})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error with {where} ({exc})"
    if isinstance(exc, TimeoutError):
        return f"no answer from {where} within {email.timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(exc, OSError):
        return f"cannot reach {where} ({exc.strerror or exc})"
    return f"{type(exc).__name__}: {exc}"


def _connect(email: EmailConfig, tls_context: ssl.SSLContext) -> smtplib.SMTP:
    if email.security == "ssl":
        return smtplib.SMTP_SSL(email.smtp_host, email.smtp_port, timeout=email.timeout,
                                context=tls_context)
    smtp = smtplib.SMTP(email.smtp_host, email.smtp_port, timeout=email.timeout)
    if email.security == "starttls":
        try:
            smtp.starttls(context=tls_context)
        except BaseException:
            smtp.close()
            raise
    return smtp


def _hang_up(smtp: smtplib.SMTP) -> None:
    # The message is accepted once DATA got its 250: a failing QUIT must not turn that
    # into a "not sent" problem.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError) as exc:
        log.debug("SMTP QUIT failed after the message was handled: %s", exc)
        smtp.close()


def send_email(report: Report, paths: Sequence[Path], email: EmailConfig, *,
               tls_context: ssl.SSLContext | None = None) -> list[str]:
    """E-mail ``report`` now, whatever ``email.send`` says; return the problems met.

    ``tls_context`` defaults to the system's trusted CAs with hostname checking.
    Nothing raises: every failure is logged and returned as one line.
    """
    recipients = ", ".join(email.to)

    def problem(reason: str) -> list[str]:
        line = f"e-mail to {recipients} not sent: {reason}"
        log.warning("%s", line)
        return [line]

    password = None
    if email.username:
        # Read before connecting: a missing secret should not cost a connection attempt.
        password = os.environ.get(email.password_env)
        if not password:
            return problem(f"environment variable {email.password_env} (the SMTP password "
                           f"for {email.username!r}) is not set or empty")
    try:
        message = build_email(report, paths, email)
    except Exception as exc:  # e.g. a newline in a configured address: header injection
        return problem(f"cannot build the message ({type(exc).__name__}: {exc})")

    if password is not None and email.security == "none":
        log.warning("logging in to %s:%d without TLS: the password crosses the network "
                    "in clear text", email.smtp_host, email.smtp_port)
    smtp = None
    try:
        smtp = _connect(email, tls_context or ssl.create_default_context())
        if email.username and password is not None:
            smtp.login(email.username, password)
        refused = smtp.send_message(message, from_addr=email.sender, to_addrs=email.to)
    except Exception as exc:  # any failure becomes a problem line: delivery never fails a run
        return problem(_failure_reason(exc, email))
    finally:
        if smtp is not None:
            _hang_up(smtp)
    if refused:
        # Some recipients got it: say exactly who did not.
        details = "; ".join(f"{rcpt}: {_smtp_reply(code, text)}"
                            for rcpt, (code, text) in refused.items())
        line = f"e-mail not delivered to {', '.join(refused)}: recipient refused ({details})"
        log.warning("%s", line)
        return [line]
    log.info("report e-mailed to %s", recipients)
    return []


def _redacted(url: str) -> str:
    # Apprise URLs carry tokens and passwords: only the service name goes into a problem.
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://…" if sep else "(unparsable URL)"


def notification_body(report: Report, paths: Sequence[Path]) -> str:
    """A short chat message: the summary, the flagged skills and where the report is.

    Only configured names (title, skill names) and local paths go in: crawled text has
    no business in a chat channel that may render Markdown.
    """
    lines = [email_subject(report)]
    lines += [f"- {_one_line(flag.name)}: {_plural(len(flag.reasons), 'reason', 'reasons')}"
              for flag in report.skills]
    report_file = _markdown_path(paths)
    if report_file is not None:
        lines.append(f"Report: {report_file}")
    return "\n".join(lines)


def notify_chat(report: Report, paths: Sequence[Path], urls: Sequence[str]) -> list[str]:
    """Send a short notification to each Apprise URL; return the problems met.

    Apprise is an optional extra: without it, a configured notification is a problem
    (so the user learns why nothing arrived), never an error.
    """
    if not urls:
        return []
    try:
        import apprise  # optional extra: pip install apprise
    except ImportError:
        line = ("chat notification not sent: the 'apprise' package is not installed "
                "(pip install apprise)")
        log.warning("%s", line)
        return [line]
    problems = []
    for url in urls:
        try:
            sender = apprise.Apprise()
            if not sender.add(url):
                problems.append(f"chat notification to {_redacted(url)} not sent: "
                                "Apprise does not understand this URL")
                continue
            if not sender.notify(title=email_subject(report),
                                 body=notification_body(report, paths),
                                 body_format=apprise.NotifyFormat.TEXT):
                problems.append(f"chat notification to {_redacted(url)} not sent: "
                                "the service did not accept it (see Apprise's log)")
        except Exception as exc:  # a plugin bug must not fail the run either
            problems.append(f"chat notification to {_redacted(url)} not sent: "
                            f"{type(exc).__name__}: {exc}")
    for line in problems:
        log.warning("%s", line)
    return problems


def _deliver_email(report: Report, paths: Sequence[Path], config: Config) -> list[str]:
    """E-mail the report when ``email:`` is configured and its ``send`` says so."""
    email = config.email
    if email is not None and should_send(report, email.send):
        return send_email(report, paths, email)
    if email is not None:
        log.info("no e-mail sent (send: %s; the report has %s)", email.send,
                 "news" if has_news(report) else "nothing new")
    return []


def _deliver_chat(report: Report, paths: Sequence[Path], config: Config) -> list[str]:
    """Notify the ``notify:`` Apprise URLs when its ``send`` says so."""
    notify = config.notify
    mode, urls = (notify.send, list(notify.apprise)) if notify else ("never", [])
    if urls and should_send(report, mode):
        return notify_chat(report, paths, urls)
    return []


@dataclass(frozen=True)
class Deliverer:
    """One way of sending a written report; returns the problems met, one line each."""

    name: str
    send: Callable[[Report, Sequence[Path], Config], list[str]]


# In the order they are tried.
DELIVERERS: dict[str, Deliverer] = {deliverer.name: deliverer for deliverer in (
    Deliverer("email", _deliver_email),
    Deliverer("chat", _deliver_chat),
)}


def deliver(report: Report, paths: list[Path], config: Config) -> list[str]:
    """Send ``report`` as configured; return the problems met (empty when all went well).

    ``email.send``: ``never`` sends nothing, ``changes`` only a report with news
    (:func:`has_news`), ``always`` every report; ``notify.send`` likewise. Never raises.
    """
    problems: list[str] = []
    try:
        for deliverer in DELIVERERS.values():
            problems += deliverer.send(report, paths, config)
    except Exception as exc:  # the report is written; delivery must not turn that into a crash
        log.exception("delivery failed")
        problems.append(f"delivery failed: {type(exc).__name__}: {exc}")
    return problems


__all__ = ["DELIVERERS", "Deliverer", "build_email", "deliver", "email_subject", "fallback_html",
           "has_news", "notification_body", "notify_chat", "send_email", "should_send",
           "summary_line"]
