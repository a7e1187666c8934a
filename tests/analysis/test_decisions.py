"""Decisions: a report says what changed in the skills since the previous one, from
the digest and stale lines each report records.

End to end: the tiny "glimmer" package of ``test_stale`` crawled at v1, then v2 (two
stale lines), then v2 again after the skill file fixed one of them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from test_stale import SKILL, write_site

from crawler.analysis.decisions import SkillCheckFact, StaleKey, decisions
from crawler.analysis.gaps import Gap
from crawler.config import load_config
from crawler.demo.server import DocServer
from crawler.pipeline import crawl
from crawler.types import GapKind

DAY1, DAY2, DAY3 = dt.date(2025, 3, 1), dt.date(2025, 3, 2), dt.date(2025, 3, 3)


def check(date: dt.date, digest: str, *keys: StaleKey) -> SkillCheckFact:
    return SkillCheckFact("s", date, digest, keys)


GLOW, FUN = StaleKey("phx-glow", "Glow.", 7), StaleKey("Glimmer.old_fun/2", "Fun.", 8)


def test_a_fixed_line_is_resolved_and_the_others_are_open_since_their_first_report():
    history = {"s": [check(DAY2, "b", GLOW, FUN), check(DAY1, "a", FUN)]}

    [decided] = decisions([check(DAY3, "c", StaleKey("Glimmer.old_fun/2", "Fun.", 6))],
                          history)

    assert decided.edited and decided.previous == DAY2
    assert decided.resolved == (GLOW,)
    # Known by its term and text: the line moved up (8 → 6) and is still the same one.
    [still] = decided.remaining
    assert (still.key.line, still.since) == (6, DAY1)
    assert decided.new == ()


def test_nothing_changed_is_no_decision_and_a_first_check_has_none():
    history = {"s": [check(DAY2, "b", GLOW)]}

    assert decisions([check(DAY3, "b", GLOW)], history) == ()
    assert decisions([check(DAY3, "b", GLOW)], {}) == ()
    [decided] = decisions([check(DAY3, "b", GLOW, FUN)], history)
    assert (decided.edited, decided.new) == (False, (FUN,))


def test_a_skill_no_earlier_report_checked_is_added_and_says_what_it_covers():
    history = {"s": [check(DAY2, "b", GLOW)]}
    page = Gap(GapKind.PAGE, "Deploying", "https://d/deploying.html", "docs", "glimmer")
    fresh = SkillCheckFact("new", DAY3, "n", (FUN,))

    decided = decisions([check(DAY3, "b", GLOW), fresh], history,
                        {"new": [page], "fileless": [page]})

    assert [(d.skill, d.added, d.previous, d.new, d.covers) for d in decided] == [
        ("new", True, DAY2, (FUN,), (page,)),
        ("fileless", False, DAY2, (), (page,))]  # its watches changed, not a file
    # The first report with skills, after reports without: still an addition.
    [first] = decisions([fresh], {}, previous=DAY2)
    assert (first.skill, first.added, first.previous) == ("new", True, DAY2)


def crawl_three_days(tmp: Path, before_crawl: Callable[[], None] = lambda: None,
                     after_fix: Callable[[], None] = lambda: None):
    """The glimmer site crawled on DAY1 (v1) and DAY2 (v2), then the skill's phx-glow
    line fixed (``after_fix``: what else the maintainer does) and DAY3 crawled: the
    DAY3 report's Markdown and JSON. ``before_crawl`` runs once the skill is in place."""
    write_site(tmp / "site")
    skill = tmp / "skills" / "glimmer-effects" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    shutil.copy(SKILL, skill)
    before_crawl()
    with DocServer(root=tmp / "site", version="v1") as site:
        (tmp / "sources.yaml").write_text(f"""
report: {{title: "Glimmer Watch", dir: out}}
sources:
  - {{name: docs, kind: exdoc, urls: ["{site.base_url}/glimmer/"]}}
skills:
  - {{name: glimmer-effects, path: skills/glimmer-effects/SKILL.md}}
""")
        config = load_config(tmp / "sources.yaml")
        database = f"sqlite:///{tmp}/db.sqlite3"
        for date, version in [(DAY1, "v1"), (DAY2, "v2")]:
            site.set_version(version)
            crawl(config, date=date, database=database)
        # The maintainer fixes the phx-glow line, and leaves the other one.
        skill.write_text(skill.read_text().replace('`<div phx-glow="on">`',
                                                   '`<div class="glow">`'))
        after_fix()
        outcome = crawl(config, date=DAY3, database=database)
    md, js = outcome.report_paths[:2]
    return md.read_text(encoding="utf-8"), json.loads(js.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def day3(tmp_path_factory):
    return crawl_three_days(tmp_path_factory.mktemp("decisions"))


def test_the_next_report_says_which_line_the_edit_resolved_and_which_remain(day3):
    md, data = day3

    [decided] = data["decisions"]
    assert (decided["skill"], decided["previous"], decided["edited"]) == (
        "glimmer-effects", DAY2.isoformat(), True)
    assert [k["term"] for k in decided["resolved"]] == ["phx-glow"]
    assert [(k["term"], k["since"]) for k in decided["remaining"]] == [
        ("Glimmer.old_fun/2", DAY2.isoformat())]
    section = md.split("## Decisions", 1)[1].split("\n## ", 1)[0]
    assert "edited since 2025-03-02" in section
    assert "resolved: line 7 (phx-glow)" in section
    assert "still open: line 8 (Glimmer.old_fun/2), since 2025-03-02" in section


def git(folder, *args: str, date: str | None = None) -> None:
    env = {**os.environ, **({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
                            if date else {})}
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                   env=env)


@pytest.fixture(scope="module")
def day3_from_git(tmp_path_factory):
    """As ``day3``, the skills folder a git repository: the fix is committed."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    tmp = tmp_path_factory.mktemp("decisions-git")
    skills = tmp / "skills"

    def commit_the_skills() -> None:
        (skills / "NOTES.md").write_text("Skills of the Glimmer team.\n")
        git(skills, "init", "-q")
        git(skills, "config", "user.name", "Skill Keeper")
        git(skills, "config", "user.email", "keeper@example.org")
        git(skills, "add", ".")
        git(skills, "commit", "-q", "-m", "Add the glimmer-effects skill",
            date="2020-01-01T00:00:00+00:00")  # long before the reports

    def commit_the_fix() -> None:
        git(skills, "commit", "-q", "-am", "Glimmer effects: glow with a class, not phx-glow")
        (skills / "NOTES.md").write_text("Skills of the Glimmer team, reviewed.\n")
        git(skills, "commit", "-q", "-am", "Notes: reviewed")  # another file

    return crawl_three_days(tmp, commit_the_skills, commit_the_fix)


def test_the_decisions_quote_the_commits_to_the_skill_file_since_the_last_report(
        day3_from_git):
    md, data = day3_from_git

    [decided] = data["decisions"]
    assert decided["edited"]
    # Not the commit from before the previous report, nor one to another file.
    assert decided["commits"] == ["Glimmer effects: glow with a class, not phx-glow"]
    section = md.split("## Decisions", 1)[1].split("\n## ", 1)[0]
    assert "  - commit: Glimmer effects: glow with a class, not phx-glow\n" in section
    assert "resolved: line 7 (phx-glow)" in section


def test_a_skill_folder_outside_git_has_no_commits(day3):
    _, data = day3
    assert [d["commits"] for d in data["decisions"]] == [[]]
