"""Each report's skill gaps, recorded after it: the gaps it listed, opened or kept open,
and the earlier ones a skill now covers, closed (the next reports carry the open ones)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crawler.analysis.gaps import Gap
from crawler.analysis.proposals import CoveredGap
from crawler.store.models import GapRecord
from crawler.types import GapKind, TermKind

# Titles per query when looking up the rows of a report's gaps.
TITLES_BATCH = 500


def record_gaps(engine: Engine, date: dt.date, listed: Sequence[Gap],
                covered: Iterable[CoveredGap]) -> None:
    """Open a row for each gap ``listed`` on ``date`` (or keep the one of an earlier
    report open), and close the rows of the earlier gaps ``covered`` on ``date``.

    A later run of the same date does the same again: the rows end as they were.
    """
    covered = list(covered)
    if not listed and not covered:
        return
    with Session(engine) as session, session.begin():
        rows = _rows_of(session, [g.title for g in listed] + [c.gap.title for c in covered])
        by_identity: dict[tuple[str, str, str], GapRecord] = {}
        for row in sorted(rows, key=lambda r: (r.covered_on is not None, r.first_seen)):
            by_identity.setdefault(gap_of(row).identity, row)
        for item in covered:
            found = by_identity.get(item.gap.identity)
            if found is not None and found.first_seen < date:
                found.covered_on, found.covered_by = date, item.skill
        for gap in listed:
            row = by_identity.get(gap.identity) or GapRecord(first_seen=date)
            if row.id is None:
                session.add(row)
                by_identity[gap.identity] = row
            elif row.covered_on is not None and row.covered_on < date:
                row.first_seen = date  # covered once, reported again: a new gap
            row.first_seen = min(row.first_seen, date)
            row.covered_on = row.covered_by = None
            _fill(row, gap)


def _rows_of(session: Session, titles: list[str]) -> list[GapRecord]:
    wanted = sorted(set(titles))
    rows: list[GapRecord] = []
    for start in range(0, len(wanted), TITLES_BATCH):
        rows += session.scalars(select(GapRecord).where(
            GapRecord.title.in_(wanted[start:start + TITLES_BATCH])))
    return rows


def _fill(row: GapRecord, gap: Gap) -> None:
    row.kind, row.url, row.title, row.source, row.package = (
        gap.kind, gap.url, gap.title, gap.source, gap.package)
    row.group, row.page_title, row.term_kind = gap.group, gap.page_title, gap.term_kind
    row.suggested_skill, row.new_skill = gap.suggested_skill, gap.new_skill


def gap_of(row: GapRecord) -> Gap:
    """The gap a row records."""
    return Gap(GapKind(row.kind), row.title, row.url, row.source, row.package,
               row.suggested_skill, row.new_skill, row.group, row.page_title,
               TermKind(row.term_kind) if row.term_kind else None)
