"""The gaps each report lists are kept, on SQLite and on PostgreSQL, until a skill
covers them: the next reports read them back as still open, a covered one is closed
from its date on, a second run of a date records the same, and a gap reported again
after it was covered is a new one."""

from __future__ import annotations

import datetime as dt

import pytest

from crawler.analysis.gaps import Gap
from crawler.analysis.proposals import CoveredGap
from crawler.analysis.queries import earlier_open_gaps, previous_report_date
from crawler.store.db import open_database
from crawler.store.gap_records import record_gaps
from crawler.types import GapKind, TermKind

DAY2, DAY3, DAY4, DAY5 = (dt.date(2025, 6, d) for d in (2, 3, 4, 5))
PAGE = Gap(GapKind.PAGE, "Deploying", "https://d/deploying.html", "docs", "glimmer", None,
           "glimmer-deployment", "Deployment", "Deploying")
TERM = Gap(GapKind.TERM, "mix glimmer.cluster", "https://d/hosting.html", "docs", "glimmer",
           "glimmer-ops", None, "Deployment", "Hosting", TermKind.MIX_TASK)


@pytest.fixture
def engine(database_url):
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def open_on(engine, date):
    return [(o.gap, o.first_seen) for o in earlier_open_gaps(engine, date)]


def test_a_listed_gap_stays_open_until_a_skill_covers_it(engine):
    assert previous_report_date(engine, DAY3) is None  # nothing recorded yet
    record_gaps(engine, DAY2, [PAGE, TERM], [])

    assert open_on(engine, DAY2) == []  # the report of its own date lists it as new
    assert open_on(engine, DAY3) == [(PAGE, DAY2), (TERM, DAY2)]  # read back whole

    record_gaps(engine, DAY4, [], [CoveredGap(PAGE, "glimmer-deployment", DAY2)])
    record_gaps(engine, DAY4, [], [CoveredGap(PAGE, "glimmer-deployment", DAY2)])  # again
    # Still open for a report of day 4 (another run of that date covers it again) ...
    assert open_on(engine, DAY4) == [(PAGE, DAY2), (TERM, DAY2)]
    # ... closed for the next.
    assert open_on(engine, DAY5) == [(TERM, DAY2)]


def test_a_term_is_one_gap_on_any_page_and_a_gap_covered_then_reported_again_is_new(engine):
    record_gaps(engine, DAY2, [PAGE, TERM], [])
    elsewhere = Gap(GapKind.TERM, TERM.title, "https://d/deploying.html", "docs", "glimmer",
                    None, "glimmer-deployment", "Deployment", "Deploying", TermKind.MIX_TASK)
    record_gaps(engine, DAY3, [elsewhere], [CoveredGap(PAGE, "s", DAY2)])

    # The term, taught again on another page, is the same gap: open since day 2.
    assert open_on(engine, DAY4) == [(elsewhere, DAY2)]

    record_gaps(engine, DAY4, [PAGE], [])  # the page gap is back after it was covered
    assert open_on(engine, DAY5) == [(elsewhere, DAY2), (PAGE, DAY4)]
