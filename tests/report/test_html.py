"""The HTML report and REPORT_DIR/index.html, as a reader (and a hostile page) sees them.

Reports are built directly from the model for the hostile cases, and by the real
pipeline against the bundled demo site for the realistic one. When a Chromium binary
is installed, the page is also opened in a real headless browser.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from crawler.analysis.bumps import VersionBump
from crawler.analysis.facts import FetchProblem, PageChange, RunInfo, SourceSummary
from crawler.analysis.findings import Evidence
from crawler.analysis.flags import FlagReason, SkillFlag
from crawler.analysis.gaps import Gap
from crawler.analysis.prereleases import Prerelease
from crawler.analysis.stale import StaleLine
from crawler.analysis.takeaways import Takeaway
from crawler.demo.run import UPDATE_DATE
from crawler.report.model import Report
from crawler.report.render import html_report_path, render_html, render_markdown, write_report
from crawler.types import BumpKind, ChangeKind, GapKind, Item, NoticeKind, RunStatus

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JS_URL = "javascript:alert(1)"
DAY1, DAY2 = dt.date(2024, 1, 2), dt.date(2024, 2, 2)
# The research note's order, then the appendix of page changes and the fetch problems.
SECTIONS = ["sources", "takeaways", "skills", "gaps", "releases", "posts", "changes", "errors"]


class Dom(HTMLParser):
    """Every start tag with its attributes, and the text of each diff line, in order."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.diff_lines: list[tuple[str, str]] = []
        self._span: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "span" and self.elements[-1][1].get("class") in (
                "add", "del", "hunk", "ctx", "more"):
            self._span = self.elements[-1][1]["class"]
            self.diff_lines.append((self._span, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._span = None

    def handle_data(self, data: str) -> None:
        if self._span is not None:
            kind, text = self.diff_lines[-1]
            self.diff_lines[-1] = (kind, text + data)

    def ids(self) -> list[str]:
        return [a["id"] for _, a in self.elements if a.get("id")]

    def hrefs(self) -> list[str]:
        return [a["href"] for t, a in self.elements if t == "a" and a.get("href") is not None]

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.elements if t == name]


def change(title: str, url: str, kind: str = "modified", **extra) -> PageChange:
    return PageChange(source="docs", package="lumen", url=url, title=title,
                      change=ChangeKind(kind), **extra)


def hostile_report(date: dt.date = DAY2, status: str = "completed") -> Report:
    """A report whose every crawled string tries to inject markup or a script link."""
    diff = "\n".join(["@@ -1,3 +1,3 @@", " unchanged line", f"-old {SCRIPT}", f"+new {IMG}",
                      "… 2 more diff lines"])
    changes = [
        change(f"Routing {SCRIPT}", "https://docs.example/lumen/routing.html",
               summary="+1 -1 lines in 1 section(s)", sections=(f"Scopes {IMG}",), diff=diff,
               lines_added=1, lines_removed=1),
        change(f"Evil {IMG}", JS_URL, kind="added", group="Guides"),
        change("Data page", "data:text/html,<b>x</b>", kind="added"),
        change("Relative page", "/lumen/relative.html", kind="removed",
               summary="no longer listed by the package index"),
        PageChange(source="releases", package="lumen", url="https://hex.example/lumen/2.0.0",
                   title="lumen 2.0.0", change=ChangeKind.ADDED, item=Item.RELEASE,
                   meta={"package": "lumen", "version": "2.0.0",
                         "published_at": "2024-02-01T10:00:00Z", "prerelease": False,
                         "docs_url": JS_URL, "changelog_url": "https://hex.example/cl"}),
        PageChange(source="blog", package="blog", url="https://blog.example/post",
                   title=f"Post {SCRIPT}", change=ChangeKind.ADDED, item=Item.POST,
                   meta={"feed": "Lumen blog", "author": IMG, "summary": SCRIPT,
                         "published_at": "2024-02-01T09:00:00Z"}),
    ]
    return Report(
        title="Lumen Research", date=date,
        runs=(RunInfo(1, RunStatus(status), dt.datetime(2024, 2, 2, 3), None, None),),
        sources=(SourceSummary("docs", "exdoc", 9, 3, 4, 1, False),
                 SourceSummary("releases", "hexpm", 1, 0, 1, 0, False),
                 SourceSummary("blog", "feed", 1, 0, 1, 0, False)),
        changes=tuple(changes),
        skills=(SkillFlag(
            f"live {SCRIPT}", "skills/live/SKILL.md",
            (FlagReason("https://docs.example/lumen/routing.html", f"Routing {IMG}",
                        ChangeKind.MODIFIED, f"mentions {SCRIPT}"),
             FlagReason(JS_URL, "Sneaky", ChangeKind.ADDED, "watches *")),
            stale_lines=(StaleLine(12, f"use lm-feedback-for {SCRIPT}", "lm-feedback-for",
                                   NoticeKind.REMOVED,
                                   Evidence(JS_URL, f"2.0.0 {IMG}", "removed"),
                                   replacement=IMG),),
            actions=(f"Rewrite the {SCRIPT} section",)),),
        gaps=(Gap(GapKind.PAGE, f"Evil {IMG}", JS_URL, "docs", "lumen",
                  new_skill=f"evil {SCRIPT}"),),
        takeaways=(Takeaway(f"lumen 2.0.0 {SCRIPT} is out", JS_URL, 10),),
        errors=(FetchProblem("docs", f"https://docs.example/{SCRIPT}", f"HTTP 500 {IMG}",
                             3, 500),),
        bumps=(VersionBump("lumen", "1.4.2", "2.0.0", BumpKind.MAJOR,
                           "https://hex.example/lumen", ("live",)),),
    )


# --- files -----------------------------------------------------------------------------


def test_html_report_is_written_next_to_markdown_and_json(tmp_path):
    paths = write_report(hostile_report(), tmp_path)

    html = html_report_path(hostile_report(), tmp_path)
    assert [p.name for p in paths] == ["2024-02-02-lumen-research.md",
                                       "2024-02-02-lumen-research.json",
                                       "2024-02-02-lumen-research.html"]
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in paths)
    assert html == tmp_path / "2024-02-02-lumen-research.html"
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "index.html").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_markdown_report_is_still_markdown_not_html_escaped():
    md = render_markdown(hostile_report())

    assert "\\<script\\>" in md and "&lt;" not in md


# --- structure -------------------------------------------------------------------------


def test_the_note_comes_first_and_the_page_changes_are_a_collapsed_appendix():
    dom = Dom(render_html(hostile_report()))

    sections = [i for i in dom.ids() if i in SECTIONS]
    assert sections == SECTIONS
    # Nothing but the title, the summary line, the banner and the contents before it.
    before = dom.ids()[:dom.ids().index("sources")]
    assert set(before) <= {"summary", "interrupted"}
    # The per-page changes sit in a <details> element, closed until opened.
    html = render_html(hostile_report())
    details = html[html.index('<details id="changes-details">'):]
    assert "<details id=\"changes-details\">" in html and " open" not in details.split(">")[0]
    assert details.index("</details>") > details.index('<section id="changes-1"')


def test_table_of_contents_links_resolve_to_sections():
    dom = Dom(render_html(hostile_report()))

    anchors = [h[1:] for h in dom.hrefs() if h.startswith("#")]
    assert set(SECTIONS) <= set(anchors)
    assert set(anchors) <= set(dom.ids())


def test_sections_without_content_are_left_out_of_the_contents():
    full = hostile_report()
    report = dataclasses.replace(full, changes=tuple(c for c in full.changes
                                                     if c.item == Item.PAGE), bumps=())
    dom = Dom(render_html(report))

    anchors = {h[1:] for h in dom.hrefs() if h.startswith("#")}
    assert "releases" not in anchors and "posts" not in anchors
    assert anchors <= set(dom.ids())


def test_diff_lines_are_coloured_by_kind_and_escaped():
    dom = Dom(render_html(hostile_report()))

    assert dom.diff_lines == [("hunk", "@@ -1,3 +1,3 @@"), ("ctx", " unchanged line"),
                              ("del", f"-old {SCRIPT}"), ("add", f"+new {IMG}"),
                              ("more", "… 2 more diff lines")]
    assert [pre.get("class") for pre in dom.tags("pre")] == ["diff"]


def test_every_change_links_to_its_live_page():
    report = hostile_report()
    dom = Dom(render_html(report))

    links = dom.hrefs()
    for c in report.changes:
        if c.url.startswith("https://"):
            assert c.url in links, c.url
    assert "https://hex.example/cl" in links  # the release's changelog


def test_interrupted_run_shows_a_banner_and_a_complete_one_does_not():
    assert "This run was interrupted" in render_html(hostile_report(status="interrupted"))
    assert "This run was interrupted" not in render_html(hostile_report())


def test_skill_shows_its_stale_lines_and_suggested_actions():
    html = render_html(hostile_report())
    skills = html[html.index('id="skills"'):html.index('id="gaps"')]

    assert "Stale lines" in skills and "line 12:" in skills
    assert "<code>lm-feedback-for</code>" in skills
    assert "Suggested actions" in skills
    assert "Rewrite the &lt;script&gt;alert(1)&lt;/script&gt; section" in skills


def test_gaps_and_takeaways_are_listed_with_their_suggestions():
    html = render_html(hostile_report())

    assert "propose a new skill: evil &lt;script&gt;" in html
    assert "lumen 2.0.0 &lt;script&gt;alert(1)&lt;/script&gt; is out" in html


def test_a_source_failing_run_after_run_gets_a_banner_and_its_recovery_too():
    report = dataclasses.replace(hostile_report(), sources=(
        SourceSummary("docs", "exdoc", 9, 0, 0, 9, False, failing_runs=3, failing_since=DAY1),
        SourceSummary("blog", "feed", 1, 1, 0, 0, False, recovered_after=4)))
    html = render_html(report)
    header = html[:html.index('id="skills"')]

    assert "docs has failed on 3 runs in a row</strong> (since 2024-01-02)" in header
    assert "blog recovered</strong> after failing on 4 runs in a row" in header
    assert "has failed on" not in render_html(hostile_report())


def test_a_first_crawl_that_fetched_nothing_says_so_instead_of_a_baseline():
    report = dataclasses.replace(hostile_report(), sources=(
        SourceSummary("docs", "exdoc", 0, 0, 0, 2, True),  # both indexes
        SourceSummary("notes", "page", 3, 0, 0, 3, True),  # every page
        SourceSummary("blog", "feed", 4, 3, 0, 1, True)))
    md, html = render_markdown(report), render_html(report)

    nothing = ("no page could be fetched; the baseline is recorded on the first run that "
               "fetches one.")
    assert f"- **docs**: {nothing}" in md and f"- **notes**: {nothing}" in md
    assert "- **blog**: first crawl, baseline of 4 pages recorded" in md
    assert f"<strong>docs</strong>: {nothing}" in html
    assert f"<strong>notes</strong>: {nothing}" in html
    assert "<strong>blog</strong>: first crawl, baseline of 4 pages recorded" in html
    assert "baseline of 0 pages" not in md + html
    assert html.count('<span class="badge">baseline</span>') == 1  # blog's only


def test_summary_line_counts_what_the_reader_will_find():
    html = render_html(hostile_report())

    assert "1 skill needs an update · 6 changes from 3 sources · 1 fetch problem" in html


# --- hostile content -------------------------------------------------------------------


def test_hostile_titles_sections_diffs_and_urls_come_out_inert():
    html = render_html(hostile_report())
    dom = Dom(html)

    assert "<script" not in html.lower()
    assert not dom.tags("script") and not dom.tags("img")
    assert not [(t, name) for t, attrs in dom.elements for name in attrs
                if name.startswith("on")]
    # Every link is either in-page or an absolute http(s) URL.
    assert all(h.startswith(("#", "http://", "https://")) for h in dom.hrefs())
    assert 'href="javascript:' not in html and 'href="data:' not in html
    # The payloads are still there for the reader, as text.
    assert "Routing &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Evil &lt;img src=x onerror=alert(1)&gt;" in html
    # A page whose URL is not http(s) is still listed, as plain text.
    assert "<li>Relative page<" in html and "<li>Evil &lt;img" in html


def test_external_links_open_without_opener_or_referrer():
    dom = Dom(render_html(hostile_report()))

    external = [a for a in dom.tags("a") if (a.get("href") or "").startswith("http")]
    assert external
    assert all(a.get("rel") == "noopener noreferrer" for a in external)


def test_page_forbids_scripts_and_fetches_with_a_content_security_policy():
    dom = Dom(render_html(hostile_report()))

    csp = [m for m in dom.tags("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert [m.get("content") for m in csp] == [
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:"]


# --- index.html ------------------------------------------------------------------------


def test_index_lists_every_report_newest_first_with_counts(tmp_path):
    write_report(hostile_report(DAY2), tmp_path)
    older = dataclasses.replace(hostile_report(DAY1), skills=(), changes=(), errors=())
    write_report(older, tmp_path)  # written last, still listed last

    index = (tmp_path / "index.html").read_text()
    dom = Dom(index)
    assert dom.hrefs() == ["2024-02-02-lumen-research.html", "2024-01-02-lumen-research.html"]
    assert "index.html" not in dom.hrefs()
    first, second = index.split("2024-01-02-lumen-research.html")
    assert "1 skill flagged · 6 changes · 1 error" in first
    assert "0 skills flagged · 0 changes · 0 errors" in second


def test_index_lists_a_report_without_a_json_twin_by_its_file_name(tmp_path):
    write_report(hostile_report(DAY1), tmp_path)
    (tmp_path / "2024-03-01-hand-made.html").write_text("<p>hi</p>")
    (tmp_path / "2023-12-01-broken.html").write_text("<p>hi</p>")
    (tmp_path / "2023-12-01-broken.json").write_text("{not json")
    write_report(hostile_report(DAY2), tmp_path)

    dom = Dom((tmp_path / "index.html").read_text())
    assert dom.hrefs() == ["2024-03-01-hand-made.html", "2024-02-02-lumen-research.html",
                           "2024-01-02-lumen-research.html", "2023-12-01-broken.html"]


def test_index_shows_the_period_of_a_report_over_several_dates(tmp_path):
    report = dataclasses.replace(hostile_report(DAY2), since=DAY1)
    write_report(report, tmp_path)

    index = (tmp_path / "index.html").read_text()
    assert Dom(index).hrefs() == ["2024-01-02--2024-02-02-lumen-research.html"]
    assert "2024-01-02 to 2024-02-02" in index


# --- the real pipeline -----------------------------------------------------------------


def test_pipeline_writes_an_html_report_with_the_demo_changes(crawled_demo):
    html = crawled_demo.report_file(UPDATE_DATE, ".html").read_text()
    data = crawled_demo.data(UPDATE_DATE)
    dom = Dom(html)

    assert ("add", "+## Verified routes") in dom.diff_lines
    assert any(k == "del" and "Pipelines may also be nested" in t for k, t in dom.diff_lines)
    assert {c["url"] for c in data["changes"]} <= set(dom.hrefs())
    # The note (sources, takeaways, skills) before the appendix of page changes.
    assert html.index('id="sources"') < html.index('id="skills"') < html.index('id="changes"')
    index = Dom((crawled_demo.reports / "index.html").read_text())
    assert index.hrefs() == ["2024-02-01-lumen-docs-research.html",
                             "2024-01-01-lumen-docs-research.html"]


# --- a real browser --------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (apt-get install -y chromium)")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=60, check=True)


@needs_chromium
def test_chromium_renders_the_hostile_report_without_running_or_injecting_anything(tmp_path):
    write_report(hostile_report(status="interrupted"), tmp_path)
    url = html_report_path(hostile_report(), tmp_path).resolve().as_uri()

    dom_text = chromium(tmp_path, "--dump-dom", url).stdout
    dom = Dom(dom_text)
    assert "skills" in dom.ids() and "Skills needing updates" in dom_text
    assert "This run was interrupted" in dom_text
    assert not dom.tags("script") and not dom.tags("img")
    assert "<script" not in dom_text.lower()
    assert all(h.startswith(("#", "http://", "https://")) for h in dom.hrefs())

    png = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,2000", url)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000  # a rendered page, not a blank image


def test_a_pre_release_ahead_of_stable_is_a_future_consideration_in_both_reports():
    ahead = Prerelease("phoenix", "1.9.0-rc.0", "1.8.4", "https://hex.pm/packages/phoenix",
                       ("phoenix-api",))
    report = dataclasses.replace(hostile_report(), prereleases=(ahead,))

    html = render_html(report)
    assert html.index('id="gaps"') < html.index('id="future"') < html.index('id="changes"')
    assert "phoenix 1.9.0-rc.0" in html and "review phoenix-api when it is stable" in html
    md = render_markdown(report)
    future = md.split("## Future considerations", 1)[1].split("\n## ", 1)[0]
    assert "**phoenix 1.9.0-rc.0** is out as a pre-release, ahead of 1.8.4" in future
    assert "## Future considerations" not in render_markdown(hostile_report())
