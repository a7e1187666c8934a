"""``REPORT_DIR/feed.xml``: the Atom feed a subscriber's feed reader polls.

The project ``docwatch demo`` makes of the bundled site (v1, then v2, which flags two
skills) is read as it is; tests that change anything work on a copy of it.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import load_config
from crawler.demo.run import BASELINE_DATE, UPDATE_DATE
from crawler.demo.server import DocServer
from crawler.pipeline import crawl
from crawler.report.atom import write_feed

A = "{http://www.w3.org/2005/Atom}"
DAY1, DAY2 = BASELINE_DATE, UPDATE_DATE
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
TITLE = "Lumen Docs Research"


@dataclass
class Project:
    folder: Path

    @property
    def config_path(self) -> Path:
        return self.folder / "sources.yaml"

    @property
    def reports(self) -> Path:
        return self.folder / "reports"

    @property
    def database(self) -> str:
        return f"sqlite:///{self.folder / 'docwatch.sqlite3'}"

    def feed(self) -> ET.Element:
        return ET.parse(self.reports / "feed.xml").getroot()

    def set_report_options(self, options: str) -> None:
        text = self.config_path.read_text(encoding="utf-8")
        self.config_path.write_text(
            text.replace("  dir: reports\n", f"  dir: reports\n{options}"), encoding="utf-8")


@pytest.fixture
def crawled(crawled_demo) -> Project:
    """The demo project (its second run flags two skills): read-only."""
    return Project(crawled_demo.folder)


@pytest.fixture
def project(crawled_demo, tmp_path: Path) -> Project:
    """A copy of the demo project, for a test that changes it."""
    return Project(crawled_demo.copy_to(tmp_path / "project").folder)


def children(element: ET.Element, name: str) -> list[ET.Element]:
    return element.findall(A + name)


def one(element: ET.Element, name: str) -> ET.Element:
    found = children(element, name)
    assert len(found) == 1, f"expected one <{name}>, found {len(found)}"
    return found[0]


def link(element: ET.Element, rel: str) -> str:
    [found] = [e for e in children(element, "link") if e.get("rel") == rel]
    return found.get("href")


def entry_ids(root: ET.Element) -> list[str]:
    return [one(e, "id").text for e in children(root, "entry")]


# -- the feed's shape -------------------------------------------------------------------


def test_feed_is_atom_with_one_id_title_updated_and_a_self_link(crawled):
    root = crawled.feed()

    assert root.tag == A + "feed"
    assert one(root, "title").text == TITLE
    assert one(root, "id").text
    assert RFC3339.match(one(root, "updated").text)
    assert link(root, "self").endswith("/reports/feed.xml")


def test_entries_are_the_reports_newest_first_with_their_headline_counts(crawled):
    entries = children(crawled.feed(), "entry")

    titles = [one(e, "title").text for e in entries]
    assert titles == [
        f"{TITLE} — {DAY2}: 2 skills need updates, 7 changes",
        f"{TITLE} — {DAY1}: no skill needs an update, 0 changes",
    ]
    for entry, day in zip(entries, (DAY2, DAY1), strict=True):
        assert one(entry, "id").text
        assert RFC3339.match(one(entry, "updated").text)
        href = link(entry, "alternate")
        assert href.endswith(f"/reports/{day}-lumen-docs-research.html")
        # Without base_url the link is a file: URI of the HTML report that exists.
        assert urlsplit(href).scheme == "file" and Path(unquote(urlsplit(href).path)).is_file()
        content = one(entry, "content")
        assert content.get("type") == "html"
        assert content.text.startswith("<p>")
    # An entry's summary is its report's key takeaways (its counts when it has none).
    newest, oldest = entries
    assert one(newest, "summary").text.startswith("Changelog: lm-feedback-for removed · ")
    assert one(oldest, "summary").text == "no skill needs an update, 0 changes"


def test_feed_updated_is_the_latest_entry_update(crawled):
    root = crawled.feed()

    entries = [one(e, "updated").text for e in children(root, "entry")]
    assert one(root, "updated").text == max(entries)
    assert entries == sorted(entries, reverse=True)


def test_flagged_skills_are_summarised_in_the_entry_content(crawled):
    newest = children(crawled.feed(), "entry")[0]

    content = one(newest, "content").text
    assert "<h3>Skills needing updates</h3>" in content
    assert "<li>lumen-live: " in content and "<li>lumen-routing: " in content


def test_feed_is_valid_for_a_feed_reader(crawled):
    parsed = feedparser.parse(str(crawled.reports / "feed.xml"))

    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == TITLE
    assert [e.link.rsplit("/", 1)[-1] for e in parsed.entries] == [
        f"{DAY2}-lumen-docs-research.html", f"{DAY1}-lumen-docs-research.html"]
    assert all(e.id and e.updated for e in parsed.entries)


# -- identity -----------------------------------------------------------------------------


def test_entry_ids_are_unique_and_stable_when_the_feed_is_rewritten(project):
    write_feed(project.reports, TITLE)  # the copy's own folder (ids are URIs under it)
    before = entry_ids(project.feed())

    write_feed(project.reports, TITLE)

    assert entry_ids(project.feed()) == before
    assert len(set(before)) == len(before) == 2


def test_re_rendering_an_old_report_keeps_ids_and_order(project):
    write_feed(project.reports, TITLE)
    before = entry_ids(project.feed())

    result = CliRunner().invoke(cli, ["report", "--date", DAY1.isoformat(), "--config",
                                      str(project.config_path), "--db", project.database])

    assert result.exit_code == 0, result.output
    assert entry_ids(project.feed()) == before


# -- configuration ------------------------------------------------------------------------


def test_base_url_makes_every_link_absolute_under_it(project):
    project.set_report_options('  base_url: "https://reports.example.org/lumen"\n')

    result = CliRunner().invoke(cli, ["report", "--date", DAY2.isoformat(), "--config",
                                      str(project.config_path), "--db", project.database])

    assert result.exit_code == 0, result.output
    root = project.feed()
    base = "https://reports.example.org/lumen/"
    assert link(root, "self") == base + "feed.xml"
    assert [link(e, "alternate") for e in children(root, "entry")] == [
        f"{base}{DAY2}-lumen-docs-research.html", f"{base}{DAY1}-lumen-docs-research.html"]
    assert all(i.startswith(base) for i in entry_ids(root))
    assert "file:" not in (project.reports / "feed.xml").read_text(encoding="utf-8")


def test_feed_entries_limits_the_feed_to_the_newest_reports(project):
    project.set_report_options("  feed_entries: 1\n")

    result = CliRunner().invoke(cli, ["report", "--date", DAY1.isoformat(), "--config",
                                      str(project.config_path), "--db", project.database])

    assert result.exit_code == 0, result.output
    entries = children(project.feed(), "entry")
    assert [link(e, "alternate").rsplit("/", 1)[-1] for e in entries] == [
        f"{DAY2}-lumen-docs-research.html"]


def test_a_report_over_a_period_is_not_mistaken_for_a_nightly_one(project):
    result = CliRunner().invoke(cli, ["report", "--since", DAY1.isoformat(), "--until",
                                      DAY2.isoformat(), "--config", str(project.config_path),
                                      "--db", project.database])
    assert result.exit_code == 0, result.output

    entries = {link(e, "alternate").rsplit("/", 1)[-1]: one(e, "title").text
               for e in children(project.feed(), "entry")}

    # The feed follows the nightly reports; an ad-hoc period report is not one of them.
    assert f"{DAY1}--{DAY2}-lumen-docs-research.html" not in entries
    assert f"{DAY2}-lumen-docs-research.html" in entries


# -- escaping -------------------------------------------------------------------------------

HOSTILE = '<script>alert(1)</script> & "quotes"'


def test_crawled_text_cannot_inject_markup_into_the_feed(project):
    # A report whose title and takeaway carry markup (e.g. quoted from a crawled page).
    (project.reports / "2024-03-18-lumen-research.json").write_text(json.dumps({
        "title": f"Lumen {HOSTILE}",
        "date": "2024-03-18",
        "runs": [{"id": 3, "status": "completed", "started_at": "2024-03-18T03:00:00Z",
                  "finished_at": "2024-03-18T03:01:00Z"}],
        "changes": [], "errors": [],
        "takeaways": [{"text": f"Bindings: {HOSTILE} is deprecated", "url": "https://x.test/"}],
        "skills": [{"name": "live<img src=x onerror=alert(2)>", "reasons": [],
                    "stale_lines": []}],
    }), encoding="utf-8")

    write_feed(project.reports, TITLE)

    raw = (project.reports / "feed.xml").read_text(encoding="utf-8")
    assert "<script" not in raw and "<img" not in raw
    newest = children(project.feed(), "entry")[0]  # still well-formed XML
    assert one(newest, "title").text.startswith(f"Lumen {HOSTILE} — 2024-03-18: ")
    content = one(newest, "content").text  # the HTML a reader renders
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in content
    assert "<script" not in content and "<img" not in content
    assert "live&lt;img src=x onerror=alert(2)&gt;" in content
    parsed = feedparser.parse(str(project.reports / "feed.xml"))
    assert parsed.bozo == 0 and len(parsed.entries) == 3


def test_files_that_are_not_dated_reports_are_ignored(project):
    (project.reports / "notes.json").write_text("{}", encoding="utf-8")
    (project.reports / "2024-03-25-half-written.json").write_text('{"title": ', encoding="utf-8")

    write_feed(project.reports, TITLE)

    assert len(children(project.feed(), "entry")) == 2


def exdoc_build(root: Path, version: str, guides: dict[str, str]) -> None:
    """A minimal ExDoc package "kite": a redirect stub, a sidebar and one page per guide."""
    package = root / version / "kite"
    (package / "dist").mkdir(parents=True)
    (package / "index.html").write_text(
        '<html><head><meta http-equiv="refresh" content="0; url=intro.html"></head></html>')
    extras = [{"id": i, "title": t, "group": "Guides"} for i, t in guides.items()]
    (package / f"dist/sidebar_items-{version}.js").write_text(
        "sidebarNodes=" + json.dumps({"extras": extras}), encoding="utf-8")
    for page_id, title in guides.items():
        (package / f"{page_id}.html").write_text(
            f'<html><head><script src="dist/sidebar_items-{version}.js"></script></head><body>'
            f'<div id="top-content"><h1>{title}</h1><p>How {page_id} works in Kite, with an '
            "example for each option.</p></div></body></html>", encoding="utf-8")


def test_control_characters_in_crawled_text_keep_the_feed_well_formed(tmp_path):
    exdoc_build(tmp_path / "site", "v1", {"intro": "Introduction"})
    exdoc_build(tmp_path / "site", "v2", {"intro": "Introduction", "knots": "Knots\b"})
    config_path = tmp_path / "sources.yaml"
    with DocServer(root=tmp_path / "site", version="v1") as site:
        config_path.write_text(f"report: {{title: Kite, dir: out}}\nsources:\n"
                               f"  - {{name: kite, kind: exdoc, urls: [{site.base_url}/kite/]}}\n",
                               encoding="utf-8")
        config = load_config(config_path)
        database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        crawl(config, date=DAY1, database=database)
        site.set_version("v2")
        outcome = crawl(config, date=DAY2, database=database)
    takeaways = json.loads(outcome.report_paths[1].read_text(encoding="utf-8"))["takeaways"]
    assert any("Knots" in t["text"] for t in takeaways)  # the new guide is a takeaway

    root = ET.parse(tmp_path / "out" / "feed.xml").getroot()

    assert "Knots" in one(children(root, "entry")[0], "content").text
    assert feedparser.parse(str(tmp_path / "out" / "feed.xml")).bozo == 0
