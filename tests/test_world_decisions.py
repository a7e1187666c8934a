"""Decisions on the world: a skill fixed between day 2 and day 3 (one stale line
resolved), and the day-3 report says which line was resolved and which remain; a skill
added on day 3 covers some of day 2's gaps, which leave Future considerations.

Skipped when the world is not there (see tests/test_world.py).
"""

from __future__ import annotations

import pytest
from test_world import WORLD, World

pytestmark = pytest.mark.skipif(not (WORLD / "serve.py").is_file(),
                                reason=f"the world is not at {WORLD}")

DEPLOYMENT_SKILL = """---
name: phoenix-deployment
description: Shipping a Phoenix app as a release.
---
# Deploying Phoenix

Build a release with `mix phx.gen.release`, run migrations from `MyApp.Release`, and
cluster the nodes; broadcast across them with `Phoenix.PubSub.Redis` where there is no
distributed Erlang.
"""


def section(md: str, title: str) -> str:
    return md.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    world = World(tmp_path_factory.mktemp("world-decisions"))
    try:
        world.crawl(1)
        day2 = world.crawl(2)
        skill = world.tmp / "skills" / "phoenix-liveview" / "SKILL.md"
        text = skill.read_text(encoding="utf-8")
        assert "phx-feedback-for" in text
        # The maintainer rewrites the phx-feedback-for advice the day-2 report flagged,
        skill.write_text(text.replace("`phx-feedback-for={@name}`", "`used_input?/1`"),
                         encoding="utf-8")
        # and adds a deployment skill: it watches the releases guide and teaches a term
        # the deployment guide introduced on day 2.
        added = world.tmp / "skills" / "phoenix-deployment" / "SKILL.md"
        added.parent.mkdir()
        added.write_text(DEPLOYMENT_SKILL, encoding="utf-8")
        config = world.config_path.read_text(encoding="utf-8")
        world.config_path.write_text(config.rstrip("\n") + f"""
  - name: phoenix-deployment
    path: skills/phoenix-deployment/SKILL.md
    watches: ["{world.base}/hexdocs.pm/phoenix/releases.html"]
""", encoding="utf-8")
        yield day2, world.crawl(3)
    finally:
        world.stop()


def test_day3_decisions_name_the_resolved_line_and_the_open_ones(days):
    _, (_, data, md) = days

    decided = {d["skill"]: d for d in data["decisions"]}["phoenix-liveview"]
    assert decided["edited"] and decided["previous"] == "2026-02-23"
    assert [k["term"] for k in decided["resolved"]] == ["phx-feedback-for"]
    remaining = {k["term"]: k["since"] for k in decided["remaining"]}
    assert remaining["phx-page-loading"] == "2026-02-23" and "Floki" in remaining
    decisions = section(md, "Decisions")
    assert "resolved: line 47 (phx-feedback-for)" in decisions
    assert "still open: line 75 (phx-page-loading), since 2026-02-23" in decisions


def test_a_skill_added_on_day3_covers_day2_gaps_and_they_leave_future_considerations(days):
    (_, day2, _), (_, data, md) = days
    # Day 2 proposed these to a new deployment skill (no skill was close).
    deployment = {g["title"] for g in day2["gaps"] if g["new_skill"] == "phoenix-deployment"}
    covered = {"Deploying with Releases › Ecto migrations",
               "Deploying with Releases › Custom commands",
               "Deploying with Releases › Clustering", "Phoenix.PubSub.Redis"}
    assert covered < deployment

    decided = {d["skill"]: d for d in data["decisions"]}["phoenix-deployment"]
    assert decided["added"] and decided["previous"] == "2026-02-23"
    # Its watch covers the releases guide's sections, its text two terms: one of them
    # was a gap day 2 gave to the closest skill, phoenix-api-channels.
    assert {g["title"] for g in decided["covers"]} == covered | {"mix phx.gen.release"}
    decisions = section(md, "Decisions")
    assert "**phoenix-deployment**: added since 2026-02-23" in decisions
    assert "now covers: section [Deploying with Releases › Ecto migrations]" in decisions
    assert "term [Phoenix.PubSub.Redis]" in decisions

    # Seen on day 2 and still open on day 3, the other gaps persist. The deployment ones
    # are the new skill's to take now (it watches a page of their sidebar group): no new
    # skill is proposed for them any more; the introduction guides still want one.
    proposals = {p["name"]: p for p in data["proposed_skills"]}
    assert set(proposals) == {"phoenix-introduction"}
    intro = proposals["phoenix-introduction"]
    assert (intro["page_count"], intro["sections"], intro["terms"]) == (3, 4, 0)
    assert intro["first_seen"] == "2026-02-23"
    still_open = {g["title"]: g["suggested_skill"] for g in data["open_gaps"]}
    assert not (covered | {"mix phx.gen.release"}) & set(still_open)
    assert {t: still_open[t] for t in deployment - covered} == dict.fromkeys(
        deployment - covered, "phoenix-deployment")
    future = section(md, "Future considerations")
    assert "**Propose a new skill: phoenix-introduction**" in future
    assert "evidence: 3 pages, 4 sections, 0 terms" in future
    assert "Propose a new skill: phoenix-deployment" not in future
    assert "phoenix-deployment 2 (since 2026-02-23)" in future
