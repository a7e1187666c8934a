"""``kind: page``: one watched page, its content selector, ignored lines and removal rule.

The guide page versions are in ``tests/fixtures/sources/page``: v2 changes only
volatile text (a date line, a promo banner and a counter outside the selected
content), v3 also rewrites one sentence in the "Lighting" section.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler.config import Config, ConfigError, load_config
from crawler.demo.server import DocServer, Fault
from crawler.http import Fetcher, FetchSettings
from crawler.pipeline import RunOutcome, crawl
from crawler.sources.base import CrawlContext, Document, Result, TargetDone
from crawler.sources.page import PageConfig, PageSource

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "page"
GUIDE = "/guide.html"
SELECT = "#doc"
IGNORE = r"^Last updated: \d{4}-\d{2}-\d{2}$"


# --- helpers -----------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DocServer]:
    site = tmp_path / "site"
    for version in ("v1", "v2", "v3"):
        (site / version).mkdir(parents=True)
        (site / version / GUIDE.lstrip("/")).write_bytes(
            (FIXTURES / f"guide-{version}.html").read_bytes())
    with DocServer(site, "v1") as srv:
        yield srv


def write_config(folder: Path, server: DocServer) -> Config:
    path = folder / "sources.yaml"
    path.write_text(f"""\
report:
  dir: reports
http:
  attempts: 1
sources:
  - name: guide
    kind: page
    select: "{SELECT}"
    ignore: ['{IGNORE}']
    urls: [{server.url(GUIDE)}]
""", encoding="utf-8")
    return load_config(path)


@dataclass
class Run:
    outcome: RunOutcome
    data: dict
    markdown: str

    def changes(self, kind: str | None = None) -> list[dict]:
        return [c for c in self.data["changes"] if kind is None or c["change"] == kind]


def run(config: Config, folder: Path, day: int) -> Run:
    outcome = crawl(config, date=dt.date(2024, 3, day),
                    database=f"sqlite:///{folder}/db.sqlite3")
    md_path, json_path = outcome.report_paths[:2]
    assert (md_path.suffix, json_path.suffix) == (".md", ".json")
    return Run(outcome, json.loads(json_path.read_text(encoding="utf-8")),
               md_path.read_text(encoding="utf-8"))


def crawl_page(url: str, **config: object) -> list[Result]:
    """Source level: what PageSource yields for ``url`` with nothing stored yet."""
    async def go() -> list[Result]:
        settings = FetchSettings(attempts=2, backoff=0.01, max_retry_after=5)
        async with Fetcher(settings) as fetcher:
            ctx = CrawlContext(fetcher, validators_for=lambda u: None, has_page=lambda u: False)
            source = PageSource(PageConfig(name="guide", kind="page", urls=[url], **config))
            return [r async for r in source.crawl(ctx) if not isinstance(r, TargetDone)]
    return asyncio.run(go())


# --- select and ignore -----------------------------------------------------------------------


def test_select_keeps_only_the_content_and_ignore_drops_matching_lines(server: DocServer):
    [page] = crawl_page(server.url(GUIDE), select=SELECT, ignore=[IGNORE])

    assert isinstance(page, Document)
    assert page.title == "Lantern guide"
    assert [line for line in page.text.splitlines() if line] == [
        "# Lantern guide",
        "## Installation",
        "Add lantern to your dependencies and fetch it.",
        "## Lighting",
        "Call light/1 with a wick to start a flame.",
    ]


def test_volatile_lines_and_text_outside_select_are_no_change(server: DocServer,
                                                               tmp_path: Path):
    config = write_config(tmp_path, server)
    first = run(config, tmp_path, 1)
    assert first.data["errors"] == []
    server.set_version("v2")  # new date line, new promo banner, new visit counter

    second = run(config, tmp_path, 2)

    assert server.log.statuses(GUIDE) == [200, 200]  # v2 really was fetched
    assert second.data["errors"] == []
    assert second.data["changes"] == []
    assert "No substantive changes in the watched pages." in second.markdown


def test_changed_sentence_is_a_modified_change_with_its_section(server: DocServer,
                                                                 tmp_path: Path):
    config = write_config(tmp_path, server)
    run(config, tmp_path, 1)
    server.set_version("v3")

    second = run(config, tmp_path, 2)

    [change] = second.changes()
    assert change["change"] == "modified"
    assert change["url"] == server.url(GUIDE)
    assert change["sections"] == ["Lighting"]
    assert (change["lines_added"], change["lines_removed"]) == (1, 1)
    assert "-Call light/1 with a wick to start a flame." in change["diff"]
    assert "+Call ignite/2 with a wick and a match to start a flame." in change["diff"]
    assert "Last updated" not in change["diff"]
    assert "**Modified pages**" in second.markdown
    assert f"- [Lantern guide](<{server.url(GUIDE)}>): +1 -1 lines in 1 section(s)" \
        in second.markdown
    assert "Changed sections: Lighting" in second.markdown


def test_select_that_no_longer_matches_is_a_fetch_problem_not_a_change(server: DocServer,
                                                                        tmp_path: Path):
    config = write_config(tmp_path, server)
    run(config, tmp_path, 1)
    redesigned = (FIXTURES / "guide-v1.html").read_text(encoding="utf-8").replace(
        'id="doc"', 'class="content"')
    server.set_fault(GUIDE, Fault(kind="body", body=redesigned))

    second = run(config, tmp_path, 2)

    assert second.changes() == []
    assert [e["error"] for e in second.data["errors"]] == [
        "no content found in selector '#doc'"]


def test_invalid_ignore_regex_is_a_config_error_naming_the_field(tmp_path: Path):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n"
                    "  - name: guide\n"
                    "    kind: page\n"
                    "    urls: [http://127.0.0.1:9/guide.html]\n"
                    "    ignore: ['Last updated: ([0-9]+']\n", encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    [problem] = raised.value.problems
    assert problem.startswith(f"{path}:5: sources[0].ignore: bad regular expression")
    assert "'Last updated: ([0-9]+'" in problem
    assert "unterminated subpattern" in problem


# --- missing pages and wrong content types -----------------------------------------------


def test_page_answering_404_once_is_a_fetch_problem_not_a_removal(server: DocServer,
                                                                   tmp_path: Path):
    config = write_config(tmp_path, server)
    run(config, tmp_path, 1)

    server.set_fault(GUIDE, Fault(kind="status", status=404, times=1))
    missing = run(config, tmp_path, 2)
    assert [(e["url"], e["status"]) for e in missing.data["errors"]] == [
        (server.url(GUIDE), 404)]
    assert missing.changes() == []
    assert "Removed pages" not in missing.markdown

    back = run(config, tmp_path, 3)
    assert back.data["errors"] == []
    assert back.changes() == []  # neither removed nor "new" again

    # Missing again, but not on two consecutive runs: still not removed.
    server.set_fault(GUIDE, Fault(kind="status", status=404, times=1))
    again = run(config, tmp_path, 4)
    assert [e["status"] for e in again.data["errors"]] == [404]
    assert again.changes() == []


def test_page_answering_404_on_two_runs_in_a_row_is_removed(server: DocServer,
                                                             tmp_path: Path):
    config = write_config(tmp_path, server)
    run(config, tmp_path, 1)
    server.set_fault(GUIDE, Fault(kind="status", status=404))
    assert run(config, tmp_path, 2).changes() == []

    second_miss = run(config, tmp_path, 3)

    assert [(c["change"], c["url"]) for c in second_miss.changes()] == [
        ("removed", server.url(GUIDE))]
    assert "**Removed pages**" in second_miss.markdown
    assert (f"- [Lantern guide](<{server.url(GUIDE)}>): answered HTTP 404 on 2 runs in a row"
            in second_miss.markdown)


def test_non_html_content_type_is_an_error_not_a_page(server: DocServer, tmp_path: Path):
    config = write_config(tmp_path, server)
    run(config, tmp_path, 1)
    server.set_fault(GUIDE, Fault(kind="body", body=b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
                                  content_type="application/pdf"))

    second = run(config, tmp_path, 2)

    assert [(e["url"], e["error"]) for e in second.data["errors"]] == [
        (server.url(GUIDE), "unexpected content type 'application/pdf'")]
    assert second.changes() == []
    assert second.outcome.all_failed
