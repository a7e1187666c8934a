"""A crawled page's control characters never reach the store, a report or a terminal.

A hostile page can hide terminal commands in its text: ESC ] 0 sets the window title,
ESC ] 52 writes the clipboard, a C1 CSI (U+009B) starts a command on some terminals.
docwatch stores the text without them, and every output drops them even from text
stored by an older version.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import zlib
from email.message import EmailMessage

import pytest
from click.testing import CliRunner
from conftest import QuietHandler, start_server, stop_server, write_config

from crawler.cli import cli
from crawler.config import EmailConfig, load_config
from crawler.demo.server import SITE_ROOT, Fault
from crawler.extract import extract_html, without_controls
from crawler.pipeline import crawl
from crawler.report.deliver import build_email

TITLE_SET = "\x1b]0;owned\x07"
CLIPBOARD = "\x1b]52;c;ZWNobyBvd25lZA==\x07"
C1_CSI = "\x9b31m"
HOSTILE = (f"<html><head><title>Routing{TITLE_SET}</title></head><body><main>"
           f"<h1>Routing{TITLE_SET}</h1><p>Routes map{CLIPBOARD} requests.{C1_CSI}</p>"
           "<pre><code>get \"/\", PageController, :home\x07\r\n</code></pre>"
           "<p>Newlines stay.\x1b[2J</p></main></body></html>")
CONTROL_BYTES = ("\x1b", "\x07", "\x9b", "\r", "\x00")
DAY1, DAY2 = dt.date(2024, 1, 2), dt.date(2024, 2, 2)


def assert_clean(text: str, where: str) -> None:
    found = [repr(c) for c in CONTROL_BYTES if c in text]
    assert not found, f"{where} carries {', '.join(found)}"


def test_extraction_drops_control_characters_but_keeps_tabs_and_newlines():
    extracted = extract_html(HOSTILE)

    assert extracted.title == "Routing]0;owned"
    assert_clean(extracted.text, "the normalised text")
    assert "Routes map]52;c;ZWNobyBvd25lZA== requests.31m" in extracted.text
    assert without_controls("a\x1b[31mb\x7f\x85c\td\n") == "a[31mbc\td\n"


@pytest.fixture
def crawled(tmp_path, site):
    """The demo crawled at v1, then with its routing guide turned hostile."""
    config = load_config(write_config(tmp_path, site.base_url))
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    crawl(config, date=DAY1, database=database)
    # The guide as it was, with terminal commands hidden in its title and first paragraph.
    guide = (SITE_ROOT / "v1" / "lumen" / "routing.html").read_text(encoding="utf-8")
    hostile = guide.replace("</h1>", f"{TITLE_SET}</h1>", 1).replace(
        "<p>", f"<p>Routes map{CLIPBOARD} requests.{C1_CSI}\x1b[2J ", 1)
    site.set_fault("/lumen/routing.html", Fault(kind="body", body=hostile))
    outcome = crawl(config, date=DAY2, database=database)
    return config, database, outcome, f"{site.base_url}/lumen/routing.html"


def test_a_hostile_page_is_stored_and_reported_without_its_control_characters(crawled):
    _config, database, outcome, _url = crawled

    assert (outcome.changed, outcome.errors) == (1, 0)
    with sqlite3.connect(database.removeprefix("sqlite:///")) as db:
        stored = db.execute("select title from snapshots").fetchall()
    assert all("\x1b" not in title for (title,) in stored)
    for path in outcome.report_paths:
        assert_clean(path.read_text(encoding="utf-8"), path.name)
    email = EmailConfig(to=["team@example.com"])
    message = build_email(outcome.report, outcome.report_paths, email)
    assert isinstance(message, EmailMessage)
    for part in message.walk():
        if part.get_content_maintype() == "text":
            assert_clean(part.get_content(), f"the e-mail's {part.get_content_type()} part")


# The colours --color adds itself (click.style: SGR sequences ending in "m").
OUR_STYLING = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("command", [["show"], ["diff", "--color"], ["diff", "--no-color"]])
def test_show_and_diff_print_no_control_characters(crawled, command):
    _config, database, _outcome, url = crawled

    result = CliRunner().invoke(cli, [*command, url, "--db", database])

    assert result.exit_code == 0, result.output
    assert "Routes map]52;c;ZWNobyBvd25lZA== requests.31m" in OUR_STYLING.sub("", result.output)
    assert_clean(OUR_STYLING.sub("", result.output), " ".join(command))
    if command == ["diff", "--color"]:
        assert OUR_STYLING.search(result.output)  # coloured all the same


def test_text_stored_by_an_older_version_is_cleaned_on_its_way_out(crawled):
    _config, database, _outcome, url = crawled
    # An older docwatch stored the raw text: write it back the way it would have.
    with sqlite3.connect(database.removeprefix("sqlite:///")) as db:
        db.execute("update pages set title = ? where url = ?", (f"Routing{TITLE_SET}", url))
        (snapshot_id, content), = db.execute(
            "select s.id, s.content from snapshots s join pages p on p.latest_snapshot_id = s.id"
            " where p.url = ?", (url,))
        raw = zlib.decompress(content).decode().replace("Routes map", f"Routes{CLIPBOARD} map")
        db.execute("update snapshots set content = ? where id = ?",
                   (zlib.compress(raw.encode(), 1), snapshot_id))
    runner = CliRunner()

    for command in (["history"], ["show"], ["diff", "--no-color"]):
        result = runner.invoke(cli, [*command, url, "--db", database])
        assert result.exit_code == 0, result.output
        assert "Routing]0;owned" in result.output or command != ["history"]
        assert "Routes]52;c;ZWNobyBvd25lZA== map" in result.output or command == ["history"]
        assert_clean(result.output, command[0])


def test_a_feed_entry_keeps_no_control_character_in_its_title_author_or_text():
    import feedparser

    from crawler.sources.feed import entry_document

    feed = feedparser.parse(
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        "<title>Blog&#x1b;]0;x&#x7;</title><entry><id>https://blog.test/1</id>"
        "<link href='https://blog.test/1'/><title>Release&#x1b;]52;c;eA==&#x7; 2.0</title>"
        "<author><name>Ada&#x9b;31m</name></author>"
        "<content type='html'>&lt;p&gt;Out now&#x1b;[2J&lt;/p&gt;</content></entry></feed>")

    [entry] = feed.entries
    doc = entry_document(entry, "https://blog.test/feed.xml", "Blog")

    assert doc is not None
    assert (doc.title, doc.meta["author"]) == ("Release]52;c;eA== 2.0", "Ada31m")
    assert_clean(doc.text, "the post's text")


def test_a_stuffed_title_is_cut_to_a_title():
    from crawler.extract import MAX_TITLE

    page = extract_html(f"<html><head><title>{'Spam ' * 20_000}</title></head>"
                        "<body><p>Hello.</p></body></html>")

    assert len(page.title) == MAX_TITLE and page.title.endswith("…")
    assert page.title.startswith("Spam Spam")



def test_a_stuffed_title_is_stored_and_reported_cut(tmp_path):
    from crawler.extract import MAX_TITLE

    served = {"body": "<html><head><title>Routing</title></head><body><p>Hi.</p></body></html>"}

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self.answer(200, served["body"].encode())

    server, base = start_server(Handler)
    try:
        config_path = tmp_path / "sources.yaml"
        config_path.write_text(f"report: {{title: Titles, dir: reports}}\n"
                               f"http: {{respect_robots: false}}\n"
                               f"sources:\n  - {{name: pages, kind: page, urls: ['{base}/r']}}\n")
        config = load_config(config_path)
        database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        crawl(config, date=DAY1, database=database)
        served["body"] = (f"<html><head><title>Routing{' spam' * 20_000}</title></head>"
                          "<body><p>Hi, again.</p></body></html>")
        outcome = crawl(config, date=DAY2, database=database)
    finally:
        stop_server(server)

    assert outcome.changed == 1
    with sqlite3.connect(database.removeprefix("sqlite:///")) as db:
        titles = [title for (title,) in db.execute("select title from snapshots")]
    assert max(len(title) for title in titles) == MAX_TITLE
    for path in outcome.report_paths:
        text = path.read_text(encoding="utf-8")
        assert "Routing spam spam" in text and " spam" * 1000 not in text, path.name
