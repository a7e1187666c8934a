"""Skill gaps over several reports: a gap seen by two reports persists and is proposed
as a new skill with its evidence; a skill that then covers it takes it out of Future
considerations, and the Decisions say which skill covers what.

End to end: a tiny ExDoc-shaped "glimmer" package whose v2 adds a Deployment guide and a
section to the Hosting guide, crawled on day 1 (v1), days 2 and 3 (v2), and day 4 after
a deployment skill was added.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from test_stale import page

from crawler.analysis.gaps import Gap
from crawler.analysis.proposals import OpenGap, carry_gaps, propose_skills
from crawler.config import SkillConfig, load_config
from crawler.demo.server import DocServer
from crawler.pipeline import crawl
from crawler.types import GapKind, TermKind

DAY1, DAY2, DAY3, DAY4, DAY5 = (dt.date(2025, 4, d) for d in (1, 2, 3, 4, 5))


def sidebar(*extras: tuple[str, str, str]) -> str:
    nodes = ",".join(f'{{"id":"{i}","title":"{t}","group":"{g}"}}' for i, t, g in extras)
    return f'sidebarNodes={{"extras":[{nodes}],"modules":[],"tasks":[]}}'


OVERVIEW = "<h1>Overview</h1>\n<p>Glimmer adds light effects to pages.</p>"
HOSTING_V1 = "<h1>Hosting</h1>\n<h2 id=\"servers\">Servers</h2>\n<p>Run it anywhere.</p>"
HOSTING_V2 = HOSTING_V1 + ("\n<h2 id=\"clustering\">Clustering</h2>\n<p>Join the nodes with"
                           " <code class=\"inline\">mix glimmer.cluster</code>.</p>")
DEPLOYING = ("<h1>Deploying</h1>\n<h2 id=\"build\">Build</h2>\n"
             "<p>Build a release and ship it.</p>")
SITES = {
    "v1": ([("overview", "Overview", ""), ("hosting", "Hosting", "Deployment")],
           {"overview": OVERVIEW, "hosting": HOSTING_V1}),
    "v2": ([("overview", "Overview", ""), ("hosting", "Hosting", "Deployment"),
            ("deploying", "Deploying", "Deployment")],
           {"overview": OVERVIEW, "hosting": HOSTING_V2, "deploying": DEPLOYING}),
}

DEPLOYMENT_SKILL = """---
name: glimmer-deployment
---
# Deploying Glimmer

Cluster the nodes with `mix glimmer.cluster`.
"""


def write_site(root: Path) -> None:
    for version, (extras, pages) in SITES.items():
        package = root / version / "glimmer"
        (package / "dist").mkdir(parents=True)
        (package / "index.html").write_text(
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta http-equiv="refresh" content="0; url=overview.html"></head></html>\n')
        # A new sidebar, a new digest in its name (as ExDoc builds it).
        digest = f"{version.upper()}0"
        (package / "dist" / f"sidebar_items-{digest}.js").write_text(sidebar(*extras))
        for page_id, body in pages.items():
            (package / f"{page_id}.html").write_text(
                page(page_id.title(), body).replace("sidebar_items-ABC", f"sidebar_items-{digest}"))


def section(md: str, title: str) -> str:
    return md.split(f"## {title}", 1)[1].split("\n## ", 1)[0] if f"## {title}" in md else ""


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("proposals")
    write_site(tmp / "site")
    with DocServer(root=tmp / "site", version="v1") as site:
        config_path = tmp / "sources.yaml"
        config_path.write_text(f"""
report: {{title: "Glimmer Watch", dir: out}}
sources:
  - {{name: docs, kind: exdoc, urls: ["{site.base_url}/glimmer/"]}}
""")
        database = f"sqlite:///{tmp}/db.sqlite3"
        out: dict[object, tuple[str, dict]] = {}

        def run(date: dt.date, version: str, key: object = None) -> None:
            site.set_version(version)
            outcome = crawl(load_config(config_path), date=date, database=database)
            assert outcome.status == "completed" and outcome.errors == 0
            md, js = outcome.report_paths[:2]
            out[key or date] = (md.read_text(encoding="utf-8"),
                                json.loads(js.read_text(encoding="utf-8")))

        run(DAY1, "v1")
        run(DAY2, "v2")
        run(DAY3, "v2")
        # A deployment skill: it watches the new guide and teaches the new Mix task.
        skill = tmp / "skills" / "glimmer-deployment" / "SKILL.md"
        skill.parent.mkdir(parents=True)
        skill.write_text(DEPLOYMENT_SKILL)
        config_path.write_text(config_path.read_text() + f"""
skills:
  - name: glimmer-deployment
    path: skills/glimmer-deployment/SKILL.md
    watches: ["{site.base_url}/glimmer/deploying.html"]
""")
        run(DAY4, "v2")
        run(DAY4, "v2", key="day 4 again")
        run(DAY5, "v2")
    return site.base_url, out


def test_a_gap_is_proposed_once_a_second_report_still_sees_it(reports):
    _, out = reports
    _, day2 = out[DAY2]
    assert {(g["kind"], g["title"], g["new_skill"]) for g in day2["gaps"]} == {
        ("page", "Deploying", "glimmer-deployment"),
        ("section", "Hosting › Clustering", "glimmer-deployment"),
        ("term", "mix glimmer.cluster", "glimmer-deployment")}
    assert day2["proposed_skills"] == []  # seen once: not yet persistent
    assert "## Future considerations" not in out[DAY2][0]

    md, day3 = out[DAY3]
    assert day3["gaps"] == []  # nothing new on day 3 ...
    [proposal] = day3["proposed_skills"]  # ... but day 2's gaps are still open
    assert (proposal["name"], proposal["package"], proposal["group"]) == (
        "glimmer-deployment", "glimmer", "Deployment")
    assert (proposal["page_count"], proposal["sections"], proposal["terms"]) == (2, 1, 1)
    assert proposal["pages"] == ["Deploying", "Hosting"]
    assert proposal["first_seen"] == DAY2.isoformat()
    assert len(day3["open_gaps"]) == 3
    future = section(md, "Future considerations")
    assert ("**Propose a new skill: glimmer-deployment**, scope: glimmer docs › Deployment "
            "(Deploying, Hosting); evidence: 2 pages, 1 section, 1 term, uncovered since "
            f"{DAY2.isoformat()}") in future


def test_a_skill_that_covers_gaps_takes_them_out_of_future_considerations(reports):
    base, out = reports
    for key in (DAY4, "day 4 again"):  # a second run of the day reports the same
        md, data = out[key]
        [decided] = data["decisions"]
        assert (decided["skill"], decided["added"], decided["previous"]) == (
            "glimmer-deployment", True, DAY3.isoformat())
        # Its watch covers the new page, its text the new term; the section it misses.
        assert [(g["kind"], g["title"]) for g in decided["covers"]] == [
            ("page", "Deploying"), ("term", "mix glimmer.cluster")]
        decisions = section(md, "Decisions")
        assert "**glimmer-deployment**: added since 2025-04-03" in decisions
        assert (f"now covers: page [Deploying](<{base}/glimmer/deploying.html>); "
                f"term [mix glimmer.cluster](<{base}/glimmer/hosting.html>)") in decisions
        # The section it misses is now the new skill's to take (it watches a page of
        # the same sidebar group): no new skill is proposed any more.
        assert data["proposed_skills"] == []
        assert [(g["title"], g["suggested_skill"], g["first_seen"]) for g in data["open_gaps"]
                ] == [("Hosting › Clustering", "glimmer-deployment", DAY2.isoformat())]
        future = section(md, "Future considerations")
        assert "Propose a new skill" not in future
        assert ("Gaps still open that existing skills could take: glimmer-deployment 1 "
                "(since 2025-04-02)") in future

    md, day5 = out[DAY5]
    assert day5["decisions"] == []  # covered once: not news again
    assert [g["title"] for g in day5["open_gaps"]] == ["Hosting › Clustering"]


def gap(kind: GapKind, title: str, url: str, new_skill: str | None = "p-deploy",
        suggested: str | None = None, page_title: str = "Deploy",
        term_kind: TermKind | None = None) -> Gap:
    return Gap(kind, title, url, "docs", "p", suggested, new_skill, "Deploy", page_title,
               term_kind)


def test_a_gap_the_docs_took_back_no_longer_persists():
    earlier = [OpenGap(gap(GapKind.PAGE, "Deploy", "https://d/deploy.html"), DAY2),
               OpenGap(gap(GapKind.SECTION, "Deploy › Nodes", "https://d/deploy.html"), DAY2),
               OpenGap(gap(GapKind.TERM, "mix p.nodes", "https://d/deploy.html",
                           term_kind=TermKind.MIX_TASK), DAY2),
               OpenGap(gap(GapKind.PAGE, "Gone", "https://d/gone.html"), DAY2)]

    # The page lost its section and its term; gone.html is no page any more.
    carried = carry_gaps(earlier, [], [], {"https://d/deploy.html": "# Deploy\n\nShip."})

    assert [o.gap.title for o in carried.still_open] == ["Deploy"]
    assert carried.covered == ()


def test_a_covered_gap_goes_to_a_new_or_edited_skill_first():
    earlier = [OpenGap(gap(GapKind.PAGE, "Deploy", "https://d/deploy.html"), DAY2)]
    skills = [SkillConfig(name="old", watches=["https://d/*"]),
              SkillConfig(name="new", keywords=["Deploy"])]

    carried = carry_gaps(earlier, skills, [], {"https://d/deploy.html": "# Deploy"},
                         prefer=["new"])

    assert [(c.skill, c.first_seen) for c in carried.covered] == [("new", DAY2)]
    assert carry_gaps(earlier, skills, [], {"https://d/deploy.html": "# Deploy"}
                      ).covered[0].skill == "old"


def test_proposals_leave_out_gaps_an_existing_skill_is_close_to_and_rank_by_evidence():
    persistent = [
        OpenGap(gap(GapKind.PAGE, "Deploy", "https://d/deploy.html"), DAY3),
        OpenGap(gap(GapKind.SECTION, "Deploy › Nodes", "https://d/deploy.html"), DAY2),
        OpenGap(gap(GapKind.PAGE, "Tune", "https://d/tune.html", new_skill="p-perf",
                    page_title="Tune"), DAY2),
        OpenGap(gap(GapKind.PAGE, "Forms", "https://d/forms.html", new_skill=None,
                    suggested="forms"), DAY2)]

    proposals = propose_skills(persistent)

    assert [(p.name, p.evidence, p.first_seen) for p in proposals] == [
        ("p-deploy", "1 page, 1 section, 0 terms", DAY2),
        ("p-perf", "1 page, 0 sections, 0 terms", DAY2)]
    assert proposals[0].scope == "p docs › Deploy (Deploy)"
