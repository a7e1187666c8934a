"""APIs that disappear from the docs, through real crawls into a real database.

Two tiny ExDoc-shaped packages, "glimmer" and "lumen", are served from 127.0.0.1 under a
hexdocs.pm-like path (``/hexdocs.pm/<package>/``, as a mirror of hexdocs serves them).
Glimmer's guide teaches a function and an option (v1, then v2 in another section), drops
them (v3) and is edited again (v4); lumen's drops an option in v2. They are crawled
once a day: v1, v2, v3, v4, v4 with every page of glimmer failing (then ``prune``), and
v4 answering again. The reports a user reads say which skill lines are stale.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import exdoc_page

from crawler.analysis.queries import docs_facts
from crawler.config import load_config
from crawler.demo.server import DocServer, Fault
from crawler.pipeline import crawl
from crawler.store.db import open_database
from crawler.store.prune import prune

DAYS = [dt.date(2025, 5, 1) + dt.timedelta(days=i) for i in range(6)]

SIDEBAR = ('sidebarNodes={{"extras":[{extras}],"modules":[],"tasks":[]}}')

GLOWING_V1 = """<h1>Glowing</h1>
<h2 id="colours">Colours</h2>
<p>Mix the halo from two colours with <code class="inline">Glimmer.Palette.blend/3</code>;
<code class="inline">Glimmer.Palette.blend/3</code> takes the ratio last.</p>
<p>Darken it with <code class="inline">Glimmer.Palette.darken/2</code>.</p>
<h2 id="options">Options</h2>
<p>Pass <code class="inline">:glow_radius</code> to widen the halo; a
<code class="inline">:glow_radius</code> above 12 is slow on old phones.</p>"""
GLOWING_V2 = GLOWING_V1.replace('id="colours">Colours', 'id="mixing">Mixing')
GLOWING_V3 = """<h1>Glowing</h1>
<h2 id="colours">Colours</h2>
<p>Pick one colour for the halo, from <code class="inline">Glimmer.Palette</code>.</p>
<h2 id="options">Options</h2>
<p>Pass <code class="inline">:glow_color</code> to tint the halo.</p>"""
GLOWING_V4 = GLOWING_V3.replace("Pick one colour", "Pick a single colour")
OVERVIEW = """<h1>Overview</h1>
<p>Glimmer lights up server-rendered pages.</p>"""
BEAMS_V1 = """<h1>Beams</h1>
<h2 id="width">Width</h2>
<p>Set <code class="inline">:beam_width</code> in pixels; <code class="inline">:beam_width</code>
defaults to 2.</p>"""
BEAMS_V2 = """<h1>Beams</h1>
<h2 id="width">Width</h2>
<p>Beams are as wide as their element.</p>"""

PACKAGES = {
    "glimmer": {f"v{n}": {"overview": OVERVIEW, "glowing": glowing}
                for n, glowing in enumerate([GLOWING_V1, GLOWING_V2, GLOWING_V3, GLOWING_V4],
                                            start=1)},
    "lumen": {"v1": {"beams": BEAMS_V1}} | {f"v{n}": {"beams": BEAMS_V2} for n in (2, 3, 4)},
}

SKILL = """---
name: glimmer-effects
description: Effects with Glimmer and Lumen.
---
# Glimmer effects

Mix the halo with `Glimmer.Palette.blend(from, to, 0.5)`.
Widen it with `Glimmer.glow(el, glow_radius: 8)`.
Darken it with `Glimmer.Palette.darken(base, 0.2)`.
Tint it with `Glimmer.glow(el, glow_color: "gold")`.
Size beams with `Lumen.beam(el, beam_width: 3)`.
"""
# Line 7 (blend/3) and 8 (:glow_radius): the guide taught them twice, v3 names neither.
# Line 9: darken/2 was named once in passing: not enough to call it removed.
GLIMMER_STALE = [(7, "Glimmer.Palette.blend/3"), (8, ":glow_radius")]
LUMEN_STALE = [(11, ":beam_width")]


def write_site(root: Path) -> None:
    for package, versions in PACKAGES.items():
        for version, pages in versions.items():
            folder = root / version / "hexdocs.pm" / package
            (folder / "dist").mkdir(parents=True)
            first = next(iter(pages))
            (folder / "index.html").write_text(
                '<!DOCTYPE html><html><head><meta charset="utf-8">'
                f'<meta http-equiv="refresh" content="0; url={first}.html"></head>'
                "<body></body></html>\n")
            extras = ",".join(f'{{"id":"{p}","title":"{p.title()}","group":""}}'
                              for p in pages)
            (folder / "dist" / "sidebar_items-ABC.js").write_text(SIDEBAR.format(extras=extras))
            for page_id, body in pages.items():
                (folder / f"{page_id}.html").write_text(exdoc_page(page_id.title(), body))


def glimmer_paths() -> list[str]:
    """Every path of glimmer's docs a crawl asks for, listed or not."""
    base = "/hexdocs.pm/glimmer"
    names = ["", "index.html", "dist/sidebar_items-ABC.js", "llms.txt", "sitemap.xml",
             "docs_config.js", "search.html"]
    pages = {p for version in PACKAGES["glimmer"].values() for p in version}
    names += [f"{p}.html" for p in pages] + [f"{p}.md" for p in pages]
    return [f"{base}/{name}" for name in names] + [base]


def stale_of(report: dict) -> list[tuple[int, str]]:
    skill = next((s for s in report["skills"] if s["name"] == "glimmer-effects"), None)
    return [] if skill is None else [(s["line"], s["term"]) for s in skill["stale_lines"]]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """The six crawls (a report each), and ``prune`` to one report before the last."""
    folder = tmp_path_factory.mktemp("gone")
    write_site(folder / "site")
    skill = folder / "skills" / "glimmer-effects" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    skill.write_text(SKILL, encoding="utf-8")
    with DocServer(root=folder / "site", version="v1") as site:
        path = folder / "sources.yaml"
        path.write_text(f"""
report:
  title: "Glimmer Watch"
  dir: out
http: {{attempts: 1}}
history: {{keep: 1}}
sources:
  - name: docs
    kind: exdoc
    urls: [{site.base_url}/hexdocs.pm/glimmer/, {site.base_url}/hexdocs.pm/lumen/]
skills:
  - name: glimmer-effects
    path: skills/glimmer-effects/SKILL.md
    keywords: [Glimmer.Palette]
""")
        config = load_config(path)
        database = f"sqlite:///{folder}/db.sqlite3"
        reports = {}

        def run(day: int, version: str, failing: bool = False) -> None:
            site.set_version(version)
            for fault_path in glimmer_paths():
                site.set_fault(fault_path, Fault("status", status=500) if failing else None)
            outcome = crawl(config, date=DAYS[day], database=database)
            assert outcome.status == "completed"
            js = next(p for p in outcome.report_paths if p.suffix == ".json")
            reports[day] = json.loads(js.read_text(encoding="utf-8"))

        for day, version in enumerate(["v1", "v2", "v3", "v4"]):
            run(day, version)
        run(4, "v4", failing=True)
        engine = open_database(database)
        try:
            pruned = prune(engine, config, today=DAYS[4])
        finally:
            engine.dispose()
        run(5, "v4")
        yield {"base": f"{site.base_url}/hexdocs.pm", "reports": reports, "pruned": pruned,
               "database": database}


def test_nothing_is_stale_while_the_docs_teach_it(crawled):
    assert stale_of(crawled["reports"][0]) == []
    assert stale_of(crawled["reports"][1]) == LUMEN_STALE  # glimmer's v2 still teaches


def test_a_function_and_an_option_the_docs_stopped_teaching_are_removed(crawled):
    report = crawled["reports"][2]
    skill = next(s for s in report["skills"] if s["name"] == "glimmer-effects")

    assert stale_of(report) == [*GLIMMER_STALE, *LUMEN_STALE]
    assert {s["kind"] for s in skill["stale_lines"]} == {"removed"}
    blend, radius, beam = skill["stale_lines"]
    # Cited from the last text that taught them: v2, where the section is "Mixing".
    assert (blend["evidence"]["url"], blend["evidence"]["section"]) == (
        f"{crawled['base']}/glimmer/glowing.html", "Mixing")
    assert blend["evidence"]["sentence"] == ("Glimmer.Palette.blend/3 is no longer mentioned "
                                             "anywhere in the docs (last taught by Glowing)")
    assert radius["evidence"]["section"] == "Options"
    assert beam["evidence"]["url"] == f"{crawled['base']}/lumen/beams.html"
    assert stale_of(crawled["reports"][3]) == stale_of(report)


def test_a_package_whose_pages_all_failed_retires_nothing(crawled):
    report = crawled["reports"][4]

    failed = {e["url"].split("/hexdocs.pm/", 1)[-1].split("/")[0] for e in report["errors"]}
    assert failed == {"glimmer"}
    # Lumen was crawled: its option is still gone. Glimmer was not: nothing of it is.
    assert stale_of(report) == LUMEN_STALE


def test_prune_keeps_the_evidence_of_a_package_that_failed(crawled):
    # v2 of the guide is in no kept report (v3 -> v4 is the last change) and is neither
    # the page's first snapshot nor its latest: it is the one snapshot prune could
    # delete, and its being evidence keeps it.
    assert crawled["pruned"].kept_dates == {"docs": [DAYS[3]]}
    assert crawled["pruned"].deleted == {"docs": 0}
    report = crawled["reports"][5]

    assert stale_of(report) == [*GLIMMER_STALE, *LUMEN_STALE]
    evidence = [s["evidence"] for s in report["skills"][0]["stale_lines"]]
    assert evidence == [s["evidence"] for s in crawled["reports"][2]["skills"][0]["stale_lines"]]


def test_a_source_no_longer_in_the_config_retires_nothing(crawled):
    engine = open_database(crawled["database"])
    try:
        watched = {t.term.text for t in docs_facts(engine, ["docs"]).gone}
        dropped = docs_facts(engine, ["some-other-source"]).gone
    finally:
        engine.dispose()

    assert {"Glimmer.Palette.blend/3", ":glow_radius", ":beam_width"} <= watched
    assert dropped == ()
