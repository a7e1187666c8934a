"""Notices read by an older docwatch are read again: a page need not change to be
judged by the grammar of the docwatch that reports it."""

from __future__ import annotations

from click.testing import CliRunner
from conftest import DATABASE_FILE, execute, query

from crawler.cli import cli
from crawler.notices import GRAMMAR
from crawler.store.db import open_database
from crawler.store.refresh import refresh_notices


def _skills_check(project) -> list[str]:
    result = CliRunner().invoke(cli, ["skills", "check", "--config", str(project.config_path),
                                      "--db", f"sqlite:///{project.folder / DATABASE_FILE}"])
    return [line for line in result.output.splitlines() if ": " in line]


def test_notices_of_an_older_grammar_are_read_again_before_a_check(crawled_demo, tmp_path):
    project = crawled_demo.copy_to(tmp_path / "demo")
    url = f"sqlite:///{project.folder / DATABASE_FILE}"
    before = _skills_check(project)
    assert before, "the demo's skill has stale lines at v2"

    # As an older docwatch left it: notices it could not read, an older grammar.
    execute(url, "UPDATE snapshots SET notices = '[]', grammar = 0")
    assert _skills_check(project) == before  # read again first, so nothing is lost
    assert {g for (g,) in query(url, "SELECT DISTINCT s.grammar FROM snapshots s "
                                     "JOIN pages p ON p.latest_snapshot_id = s.id "
                                     "WHERE p.item = 'page'")} == {GRAMMAR}


def test_refresh_rewrites_only_current_snapshots_of_an_older_grammar(crawled_demo, tmp_path):
    project = crawled_demo.copy_to(tmp_path / "demo")
    url = f"sqlite:///{project.folder / DATABASE_FILE}"
    engine = open_database(url)
    try:
        assert refresh_notices(engine) == 0  # written by this docwatch: nothing to do
        execute(url, "UPDATE snapshots SET grammar = 0")
        current = query(url, "SELECT COUNT(*) FROM pages p JOIN snapshots s "
                             "ON s.id = p.latest_snapshot_id WHERE p.item = 'page'")[0][0]
        assert refresh_notices(engine) == current
        # Older snapshots of the same pages keep what they were stored with.
        assert query(url, "SELECT COUNT(*) FROM snapshots WHERE grammar = 0")[0][0] > 0
        assert refresh_notices(engine) == 0
    finally:
        engine.dispose()
