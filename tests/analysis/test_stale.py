"""Stale skill lines: which lines of a SKILL.md teach what the docs deprecated or dropped.

The end-to-end tests serve a tiny ExDoc-shaped package ("glimmer", written below) from
127.0.0.1 in two versions, crawl it into a real SQLite database through the real
pipeline and read the reports a user reads.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from crawler.analysis.findings import Evidence, Finding, docs_findings
from crawler.analysis.queries import docs_facts
from crawler.analysis.skill_files import read_skill_files, skill_lines
from crawler.analysis.stale import check_skills, describe, stale_lines
from crawler.config import load_config
from crawler.demo.server import DocServer
from crawler.pipeline import crawl
from crawler.store.db import open_database
from crawler.types import NoticeKind, TermKind
from crawler.vocab import Term

FIXTURES = Path(__file__).parents[1] / "fixtures" / "skills"
SKILL = FIXTURES / "glimmer-effects" / "SKILL.md"
DAY1, DAY2, DAY3 = dt.date(2025, 3, 1), dt.date(2025, 3, 2), dt.date(2025, 3, 3)

# -- skill_lines / stale_lines ---------------------------------------------------------


def test_skill_lines_skip_front_matter_and_keep_file_line_numbers():
    lines = skill_lines(SKILL)

    assert lines[0] == (5, "# Glimmer effects")
    assert (7, 'Light up an element with `<div phx-glow="on">`.') in lines
    assert all(number > 4 for number, _ in lines)  # "description: ... phx-glow" is skipped


def test_skill_lines_without_front_matter_start_at_line_one(tmp_path):
    path = tmp_path / "SKILL.md"
    path.write_text("# Plain\n---\nUse phx-glow.\n")

    assert skill_lines(path) == [(1, "# Plain"), (2, "---"), (3, "Use phx-glow.")]


def finding(text, kind, how="deprecated", replacement=None):
    return Finding(Term(text, TermKind(kind)), NoticeKind(how),
                   Evidence("http://docs.test/changelog.html", "v2.0.0 › Deprecations", "…"),
                   replacement)


def test_stale_lines_flag_each_line_using_a_retired_term():
    lines = [(7, "Glow with `phx-glow`."), (8, "Then `Glimmer.old_fun(a, b)`."),
             (9, "Use phx-glowing-border for borders."), (10, "Glimmer.old_fun_two(a)")]
    findings = [finding("phx-glow", "attribute", "removed"),
                finding("Glimmer.old_fun/2", "function", replacement="Glimmer.new_fun/2")]

    stale = stale_lines(lines, findings)

    assert [(s.line, s.term, s.kind, s.replacement) for s in stale] == [
        (7, "phx-glow", "removed", None),
        (8, "Glimmer.old_fun/2", "deprecated", "Glimmer.new_fun/2")]
    assert describe(stale[1]) == "Glimmer.old_fun/2 is deprecated; use Glimmer.new_fun/2"


# -- a tiny ExDoc-shaped package, served in two versions -------------------------------

SIDEBAR = ('sidebarNodes={"extras":['
           '{"id":"overview","title":"Overview","group":""},'
           '{"id":"effects","title":"Effects","group":"Guides"},'
           '{"id":"changelog","title":"Changelog","group":""}],'
           '"modules":[],"tasks":[]}')

OVERVIEW = """<h1>Overview</h1>
<p>Glimmer adds light effects to server-rendered pages.</p>"""

EFFECTS_V1 = """<h1>Effects</h1>
<h2 id="glowing">Glowing</h2>
<p>Add <code class="inline">phx-glow="on"</code> to any element to make it glow.</p>
<h2 id="shimmer">Shimmer</h2>
<p>The <code class="inline">phx-shimmer</code> attribute makes text shimmer.</p>
<h2 id="sparkle">Sparkle</h2>
<p>Call <code class="inline">Glimmer.old_fun/2</code> with a color and a strength.</p>"""

# v2 never mentions phx-glow again; phx-shimmer only survives inside a code block.
EFFECTS_V2 = """<h1>Effects</h1>
<h2 id="shimmer">Shimmer</h2>
<p>Make text shimmer:</p>
<pre><code class="makeup html">&lt;span phx-shimmer&gt;Hello&lt;/span&gt;</code></pre>
<h2 id="sparkle">Sparkle</h2>
<p>Call <code class="inline">Glimmer.new_fun/2</code> with a color and a strength.</p>"""

CHANGELOG_V1 = """<h1>Changelog</h1>
<h2 id="v1-0-0">v1.0.0</h2>
<h3 id="enhancements">Enhancements</h3>
<ul><li>First release.</li></ul>"""

CHANGELOG_V2 = """<h1>Changelog</h1>
<h2 id="v2-0-0">v2.0.0</h2>
<h3 id="deprecations">Deprecations</h3>
<ul><li><code class="inline">Glimmer.old_fun/2</code> is deprecated in favor of
<code class="inline">Glimmer.new_fun/2</code>.</li></ul>
<h2 id="v1-0-0">v1.0.0</h2>
<h3 id="enhancements">Enhancements</h3>
<ul><li>First release.</li></ul>"""

VERSIONS = {
    "v1": {"overview": OVERVIEW, "effects": EFFECTS_V1, "changelog": CHANGELOG_V1},
    "v2": {"overview": OVERVIEW, "effects": EFFECTS_V2, "changelog": CHANGELOG_V2},
}


def page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} — Glimmer</title>
<script src="dist/sidebar_items-ABC.js"></script>
</head>
<body>
<nav class="sidebar">Glimmer</nav>
<main class="content"><div id="content">
<div id="top-content">
{body}
</div>
<footer class="footer">Built using ExDoc</footer>
</div></main>
</body>
</html>
"""


def write_site(root: Path, versions: dict[str, dict[str, str]] = VERSIONS) -> None:
    for version, pages in versions.items():
        package = root / version / "glimmer"
        (package / "dist").mkdir(parents=True)
        (package / "index.html").write_text(
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta http-equiv="refresh" content="0; url=overview.html"></head>'
            "<body></body></html>\n")
        (package / "dist" / "sidebar_items-ABC.js").write_text(SIDEBAR)
        for page_id, body in pages.items():
            (package / f"{page_id}.html").write_text(page(page_id.title(), body))


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """Crawl v1 (day 1), v2 (day 2) and v2 again (day 3, nothing changed) once."""
    tmp_path = tmp_path_factory.mktemp("glimmer")
    write_site(tmp_path / "site")
    skill = tmp_path / "skills" / "glimmer-effects" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    shutil.copy(SKILL, skill)
    with DocServer(root=tmp_path / "site", version="v1") as site:
        path = tmp_path / "sources.yaml"
        path.write_text(f"""
report:
  title: "Glimmer Watch"
  dir: out
sources:
  - name: docs
    kind: exdoc
    urls: [{site.base_url}/glimmer/]
skills:
  - name: glimmer-effects
    path: skills/glimmer-effects/SKILL.md
    keywords: [Glimmer.Palette]
  - name: fileless
    watches: ["{site.base_url}/glimmer/effects.html"]
    keywords: [phx-glow]
""")
        config = load_config(path)
        database = f"sqlite:///{tmp_path}/db.sqlite3"
        reports = {}
        for date, version in [(DAY1, "v1"), (DAY2, "v2"), (DAY3, "v2")]:
            site.set_version(version)
            outcome = crawl(config, date=date, database=database)
            assert outcome.status == "completed" and outcome.errors == 0
            md, js = outcome.report_paths[:2]
            reports[date] = (md.read_text(encoding="utf-8"),
                             json.loads(js.read_text(encoding="utf-8")))
        engine = open_database(database)
        yield {"base": f"{site.base_url}/glimmer", "config": config, "engine": engine,
               "reports": reports}
        engine.dispose()


def skill_entry(data, name):
    return next((s for s in data["skills"] if s["name"] == name), None)


# -- end to end --------------------------------------------------------------------------


def test_nothing_is_stale_while_the_docs_still_teach_it(crawled):
    _, data = crawled["reports"][DAY1]

    assert skill_entry(data, "glimmer-effects") is None


def test_report_lists_the_stale_lines_of_a_skill_with_evidence(crawled):
    md, data = crawled["reports"][DAY2]
    base = crawled["base"]

    skill = skill_entry(data, "glimmer-effects")
    assert skill is not None
    stale = skill["stale_lines"]
    # Line 3 (front matter) mentions phx-glow too, and lines 9-10 are still valid.
    assert [(s["line"], s["text"], s["term"], s["kind"], s["replacement"]) for s in stale] == [
        (7, 'Light up an element with `<div phx-glow="on">`.', "phx-glow", "removed", None),
        (8, "Compute the sparkle with `Glimmer.old_fun(a, b)`.", "Glimmer.old_fun/2",
         "deprecated", "Glimmer.new_fun/2")]
    # phx-glow: gone from every page, last taught in the "Glowing" section of Effects.
    assert (stale[0]["evidence"]["url"], stale[0]["evidence"]["section"]) == (
        f"{base}/effects.html", "Glowing")
    assert "phx-glow is no longer mentioned" in stale[0]["evidence"]["sentence"]
    # Glimmer.old_fun/2: announced by the changelog.
    assert (stale[1]["evidence"]["url"], stale[1]["evidence"]["section"]) == (
        f"{base}/changelog.html", "v2.0.0 › Deprecations")
    assert stale[1]["evidence"]["sentence"].endswith(
        "`Glimmer.old_fun/2` is deprecated in favor of `Glimmer.new_fun/2`.")

    assert [a.split(":")[0] for a in skill["actions"][:2]] == ["Update line 7",
                                                               "Update line 8"]
    assert "Glimmer.new_fun/2" in skill["actions"][1]

    section = md.split("## Skills needing updates", 1)[1].split("## Skill gaps", 1)[0]
    assert "glimmer-effects" in section and "Stale lines" in section
    assert "line 7:" in section and "line 8:" in section
    assert "line 9:" not in section and "line 10:" not in section


def test_attribute_kept_in_a_code_block_of_current_docs_is_not_removed(crawled):
    found = {f.term.text: f.kind for f in docs_findings(docs_facts(crawled["engine"]))}

    # phx-shimmer left the prose of v2 but is still in its code example.
    assert found == {"phx-glow": "removed", "Glimmer.old_fun/2": "deprecated"}


def test_skill_without_a_file_is_skipped(crawled):
    _, data = crawled["reports"][DAY2]

    stale = check_skills(read_skill_files(crawled["config"]),
                         docs_findings(docs_facts(crawled["engine"])))
    assert set(stale) == {"glimmer-effects"}
    # Flagged by its watch, but with no file there is no line to point at.
    fileless = skill_entry(data, "fileless")
    assert fileless is not None and fileless["stale_lines"] == []


def test_stale_lines_are_reported_even_when_nothing_changed(crawled):
    md, data = crawled["reports"][DAY3]

    assert data["changes"] == []
    skill = skill_entry(data, "glimmer-effects")
    assert skill is not None
    assert [(s["line"], s["term"]) for s in skill["stale_lines"]] == [
        (7, "phx-glow"), (8, "Glimmer.old_fun/2")]
    assert skill["actions"][0].startswith("Update line 7")
    assert "Stale lines" in md and "line 7:" in md


def _last_taught(folder, v1: dict[str, str]):
    """The finding of a term that the pages of ``v1`` teach and v2 no longer does."""
    v2 = {page: f"<h1>{page.title()}</h1>\n<p>Nothing to see.</p>"
          for page in ("effects", "changelog")} | {"overview": OVERVIEW}
    write_site(folder / "site", {"v1": v2 | v1, "v2": v2})
    with DocServer(root=folder / "site", version="v1") as site:
        path = folder / "sources.yaml"
        path.write_text(f"sources:\n  - name: docs\n    kind: exdoc\n"
                        f"    urls: [{site.base_url}/glimmer/]\n")
        database = f"sqlite:///{folder}/db.sqlite3"
        for date, version in [(DAY1, "v1"), (DAY2, "v2")]:
            site.set_version(version)
            assert crawl(load_config(path), date=date, database=database).errors == 0
        engine = open_database(database)
        try:
            [finding] = docs_findings(docs_facts(engine))
        finally:
            engine.dispose()
    assert (finding.term.text, finding.kind) == ("phx-glow", NoticeKind.REMOVED)
    return site.base_url, finding


def test_a_term_several_pages_stopped_teaching_cites_the_first_of_them_by_url(tmp_path):
    # Both pages teach phx-glow in v1, neither in v2: which one the report cites must not
    # depend on which of them happened to be fetched last.
    taught = ('<h1>{0}</h1>\n<h2 id="glow">Glow</h2>\n'
              '<p>Use <code class="inline">phx-glow</code>.</p>')
    base, finding = _last_taught(tmp_path, {"overview": taught.format("Overview"),
                                            "effects": taught.format("Effects")})

    assert (finding.evidence.url, finding.evidence.section) == (
        f"{base}/glimmer/effects.html", "Glow")


GLOW_TWICE = ('<h1>Glowing</h1>\n<h2 id="glow">Glowing</h2>\n'
              '<p>Add <code class="inline">phx-glow</code> to an element.</p>\n'
              '<p>A <code class="inline">phx-glow</code> value is a colour.</p>')


def test_a_vanished_term_cites_the_page_that_taught_it_most(tmp_path):
    # The effects guide names phx-glow in passing; the overview is about it.
    passing = ('<h1>Effects</h1>\n<h2 id="bindings">Bindings</h2>\n'
               '<p>See <code class="inline">phx-glow</code>.</p>')
    base, finding = _last_taught(tmp_path, {"effects": passing, "overview": GLOW_TWICE})

    assert (finding.evidence.url, finding.evidence.section) == (
        f"{base}/glimmer/overview.html", "Glowing")


def test_a_vanished_term_cites_a_guide_before_a_changelog(tmp_path):
    # A changelog names a binding in every entry that touched it; a guide teaches it.
    entries = "\n".join(f'<h2 id="v{n}">v0.{n}.0</h2>\n<p>Fix <code class="inline">'
                         f'phx-glow</code> on forms.</p>' for n in range(1, 5))
    base, finding = _last_taught(tmp_path, {"changelog": f"<h1>Changelog</h1>\n{entries}",
                                            "effects": GLOW_TWICE})

    assert (finding.evidence.url, finding.evidence.section) == (
        f"{base}/glimmer/effects.html", "Glowing")
