"""Each skill's recorded checks come back newest first, at most ``CHECK_HISTORY`` of
them, only before the report's date and only for the skills asked about."""

from __future__ import annotations

import datetime as dt

import pytest

from crawler.analysis.decisions import SkillCheckFact, StaleKey
from crawler.analysis.queries import CHECK_HISTORY, past_skill_checks
from crawler.store.db import open_database
from crawler.store.skill_checks import record_skill_checks

START = dt.date(2025, 1, 1)


@pytest.fixture
def engine(database_url):
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def test_a_long_history_gives_each_skill_its_latest_checks_only(engine):
    nights = CHECK_HISTORY + 15
    record_skill_checks(engine, [
        SkillCheckFact(skill, START + dt.timedelta(days=n), f"{skill}-{n}",
                       (StaleKey("old_fn/1", "use old_fn/1", n + 1),) if n % 2 else ())
        for n in range(nights) for skill in ("liveview", "ecto", "retired")])
    before = START + dt.timedelta(days=nights - 1)  # the last night's own report

    history = past_skill_checks(engine, before, ["liveview", "ecto"])

    assert set(history) == {"liveview", "ecto"}
    dates = [check.date for check in history["liveview"]]
    assert len(dates) == CHECK_HISTORY
    assert dates[0] == before - dt.timedelta(days=1)
    assert dates == sorted(dates, reverse=True)
    newest = history["ecto"][0]
    assert newest.digest == f"ecto-{nights - 2}"
    assert newest.stale == (StaleKey("old_fn/1", "use old_fn/1", nights - 1),)
    assert past_skill_checks(engine, START, ["liveview"]) == {}
