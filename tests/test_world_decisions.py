"""Decisions on the world: a skill fixed between day 2 and day 3 (one stale line
resolved), and the day-3 report says which line was resolved and which remain.

Skipped when the world is not there (see tests/test_world.py).
"""

from __future__ import annotations

import pytest
from test_world import WORLD, World

pytestmark = pytest.mark.skipif(not (WORLD / "serve.py").is_file(),
                                reason=f"the world is not at {WORLD}")


@pytest.fixture(scope="module")
def day3(tmp_path_factory):
    world = World(tmp_path_factory.mktemp("world-decisions"))
    try:
        world.crawl(1)
        world.crawl(2)
        skill = world.tmp / "skills" / "phoenix-liveview" / "SKILL.md"
        text = skill.read_text(encoding="utf-8")
        assert "phx-feedback-for" in text
        # The maintainer rewrites the phx-feedback-for advice the day-2 report flagged.
        skill.write_text(text.replace("`phx-feedback-for={@name}`", "`used_input?/1`"),
                         encoding="utf-8")
        yield world.crawl(3)
    finally:
        world.stop()


def test_day3_decisions_name_the_resolved_line_and_the_open_ones(day3):
    _, data, md = day3

    decided = {d["skill"]: d for d in data["decisions"]}["phoenix-liveview"]
    assert decided["edited"] and decided["previous"] == "2026-02-23"
    assert [k["term"] for k in decided["resolved"]] == ["phx-feedback-for"]
    remaining = {k["term"]: k["since"] for k in decided["remaining"]}
    assert remaining["phx-page-loading"] == "2026-02-23" and "Floki" in remaining
    section = md.split("## Decisions", 1)[1].split("\n## ", 1)[0]
    assert "resolved: line 47 (phx-feedback-for)" in section
    assert "still open: line 75 (phx-page-loading), since 2026-02-23" in section
