"""A run's logical date keeps the history in date order: an older date than the last
run's is refused unless backfilled, and "as of a date" means the logical date order."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from click.testing import CliRunner
from conftest import write_config

from crawler.cli import cli
from crawler.config import load_config
from crawler.pipeline import RunDateRefused, check_run_date, crawl
from crawler.store.db import open_database

EARLY, LATE = dt.date(2025, 1, 1), dt.date(2026, 2, 23)


@pytest.fixture
def project(tmp_path, site):
    path = write_config(tmp_path, site.base_url)
    return path, f"sqlite:///{tmp_path / 'db.sqlite3'}", site


def runs(database: str) -> list[tuple[str, str]]:
    with sqlite3.connect(database.removeprefix("sqlite:///")) as db:
        return db.execute("select run_date, status from runs order by id").fetchall()


def test_a_date_before_the_last_runs_is_refused_and_nothing_is_recorded(project):
    path, database, _site = project
    crawl(load_config(path), date=LATE, database=database)

    with pytest.raises(RunDateRefused, match=r"run date 2025-01-01 is before the last run's "
                                              r"\(2026-02-23\)"):
        crawl(load_config(path), date=EARLY, database=database)
    result = CliRunner().invoke(cli, ["crawl", "--config", str(path), "--db", database,
                                      "--date", EARLY.isoformat()])

    assert result.exit_code == 2
    assert "error: run date 2025-01-01 is before the last run's (2026-02-23)" in result.output
    assert "--backfill" in result.output
    assert runs(database) == [("2026-02-23", "completed")]
    # The same date again is not out of order (a second run that day).
    assert crawl(load_config(path), date=LATE, database=database).status == "completed"


def test_a_backfilled_run_is_read_in_date_order(project):
    path, database, site = project
    crawl(load_config(path), date=LATE, database=database)
    site.set_version("v2")  # the backfill sees other text than the run dated after it
    result = CliRunner().invoke(cli, ["crawl", "--config", str(path), "--db", database,
                                      "--date", EARLY.isoformat(), "--backfill", "-q"])
    assert result.exit_code == 0, result.output
    url = f"{site.base_url}/lumen/routing.html"
    runner = CliRunner()

    history = runner.invoke(cli, ["history", url, "--db", database])
    at_late = runner.invoke(cli, ["show", url, "--at", LATE.isoformat(), "--db", database])
    at_early = runner.invoke(cli, ["show", url, "--at", EARLY.isoformat(), "--db", database])

    assert runs(database) == [("2026-02-23", "completed"), ("2025-01-01", "completed")]
    dates = [line.split()[0] for line in history.output.splitlines()[2:] if line[:1].isdigit()]
    assert dates == sorted(dates) and dates[0] == EARLY.isoformat()
    # As of 2026-02-23 the page is what the run of that date stored (v1), not the
    # backfill recorded after it; as of 2025-01-01, the backfill's (v2).
    assert "@ 2026-02-23 (run 1" in at_late.output
    assert "@ 2025-01-01 (run 2" in at_early.output
    assert at_late.stdout != at_early.stdout
    # docwatch diff compares in the same order: the latest version (2026-02-23) with the
    # one before it (the backfill of 2025-01-01), whether --to is given or not.
    for to in ([], ["--to", "2026-03-01"]):
        diff = runner.invoke(cli, ["diff", url, *to, "--no-color", "--db", database])
        assert diff.exit_code == 0, diff.output
        assert [line.split(" (")[0] for line in diff.stdout.splitlines()[:2]] == [
            f"--- {url} @ 2025-01-01", f"+++ {url} @ 2026-02-23"]


@pytest.mark.parametrize("date", ["0001-01-01", "1999-12-31", "9999-12-31"])
def test_an_implausible_date_is_refused_unless_backfilled(project, date):
    path, database, _site = project

    result = CliRunner().invoke(cli, ["crawl", "--config", str(path), "--db", database,
                                      "--date", date])

    assert result.exit_code == 2
    assert f"error: run date {date} is implausible" in result.output
    engine = open_database(database)
    try:
        check_run_date(engine, dt.date.fromisoformat(date), backfill=True)  # no error
        with pytest.raises(RunDateRefused):
            check_run_date(engine, dt.date.fromisoformat(date))
        check_run_date(engine, dt.date(2026, 12, 2), today=dt.date(2026, 12, 1))  # tomorrow
    finally:
        engine.dispose()
