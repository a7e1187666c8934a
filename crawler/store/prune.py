"""Bounded history: ``docwatch prune`` and ``docwatch stats``.

A source's ``history`` policy (``keep: N`` reports, ``max_age_days: D``) decides which
dated reports stay explainable; snapshots that none of those reports refer to go,
except each page's first and latest. Changes keep their summary and diff, and a pruned
snapshot is only unlinked from them. SQLite files are vacuumed afterwards.

Both work at any size of history: ``stats`` is aggregate queries, and ``prune`` walks a
source's snapshots a batch of ids at a time, deciding each batch from the database
(first, latest, shown by a kept report) rather than from the history read into memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Engine,
    Integer,
    any_,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute, Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from crawler.analysis.queries import gone_terms
from crawler.config import Config
from crawler.sources.base import HistoryConfig
from crawler.store import analysis_cache
from crawler.store.db import checkpoint
from crawler.store.lock import stored_sources
from crawler.store.models import Change, Page, Run, Snapshot
from crawler.types import PageStatus

# Snapshots examined (and at most deleted) per transaction: a batch's ids are one IN list,
# and SQLite before 3.32 allows 999 variables.
PRUNE_BATCH = 500


@dataclass
class SourceStats:
    source: str
    pages: int = 0
    removed_pages: int = 0
    snapshots: int = 0
    stored_bytes: int = 0  # compressed, as on disk
    text_bytes: int = 0  # normalised text, uncompressed


@dataclass
class PruneResult:
    deleted: dict[str, int] = field(default_factory=dict)
    kept_dates: dict[str, list[dt.date]] = field(default_factory=dict)
    size_before: int | None = None
    size_after: int | None = None

    @property
    def total_deleted(self) -> int:
        return sum(self.deleted.values())


def stats(engine: Engine) -> list[SourceStats]:
    """Pages, snapshots and bytes per source."""
    out: dict[str, SourceStats] = {}
    with Session(engine) as session:
        for source, status, count in session.execute(
                select(Page.source, Page.status, func.count()).group_by(Page.source,
                                                                        Page.status)):
            entry = out.setdefault(source, SourceStats(source))
            if status == PageStatus.REMOVED:
                entry.removed_pages += count
            else:
                entry.pages += count
        for source, count, stored, size in session.execute(
                select(Page.source, func.count(Snapshot.id),
                       func.coalesce(func.sum(func.length(Snapshot.content)), 0),
                       func.coalesce(func.sum(Snapshot.size), 0))
                .join(Snapshot, Snapshot.page_id == Page.id).group_by(Page.source)):
            entry = out.setdefault(source, SourceStats(source))
            entry.snapshots, entry.stored_bytes, entry.text_bytes = count, stored, size
    return sorted(out.values(), key=lambda s: s.source)


def kept_dates(session: Session, source: str, policy: HistoryConfig,
               today: dt.date) -> list[dt.date]:
    """The report dates of ``source`` whose snapshots the policy keeps, newest first."""
    query = (select(Run.run_date).distinct().join(Change, Change.run_id == Run.id)
             .join(Page, Page.id == Change.page_id).where(Page.source == source)
             .order_by(Run.run_date.desc()))
    if policy.max_age_days:
        query = query.where(Run.run_date >= today - dt.timedelta(days=policy.max_age_days))
    if policy.keep:
        query = query.limit(policy.keep)
    return list(session.scalars(query))


def known_sources(engine: Engine, config: Config) -> list[str]:
    """Every source prune may work on: the configured ones and those with stored pages."""
    return sorted({*stored_sources(engine), *(s.name for s in config.typed_sources)})


def prune(engine: Engine, config: Config, today: dt.date | None = None,
          dry_run: bool = False, only: Collection[str] | None = None,
          vacuum: bool = True, batch: int = PRUNE_BATCH) -> PruneResult:
    """Delete the snapshots no kept report needs, per each source's history policy (of
    the sources in ``only``, when given); then vacuum SQLite, unless not ``vacuum``
    (another run is writing).

    A source's snapshots are examined ``batch`` at a time, in id order, and each batch's
    deletions are committed on their own: memory stays bounded however long the
    history, and an interrupted prune leaves a consistent database that the next one
    finishes.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    result = PruneResult(size_before=_size(engine))
    with Session(engine) as session:
        evidence: frozenset[int] | None = None
        for source in list(session.scalars(select(Page.source).distinct()
                                           .order_by(Page.source))):
            if only is not None and source not in only:
                continue
            policy = config.history_for(source)
            if not policy.keep and not policy.max_age_days:
                continue
            dates = kept_dates(session, source, policy, today)
            result.kept_dates[source] = dates
            if evidence is None:
                # The last snapshot teaching a term the docs dropped is the evidence of a
                # stale line. Pruning never deletes it (nor a latest snapshot), so the set
                # is the same for every source: worked out once. Packages the latest run
                # could not fetch keep theirs, for the run that fetches them again.
                evidence = frozenset(gone_terms(session, crawled_only=False).values())
            result.deleted[source] = 0
            for doomed in _doomed_batches(session, source, dates[-1] if dates else None,
                                          evidence, batch):
                result.deleted[source] += len(doomed)
                if not dry_run:
                    _delete(session, doomed)
                    session.commit()
        session.rollback()  # a dry run's reads
    if vacuum and not dry_run and result.total_deleted \
            and engine.url.get_backend_name() == "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM"))
        checkpoint(engine)
    result.size_after = _size(engine)
    return result


def _doomed_batches(session: Session, source: str, oldest_kept: dt.date | None,
                    evidence: frozenset[int], batch: int) -> Iterator[list[int]]:
    """The snapshots of ``source`` to delete, a list per ``batch`` examined: those that
    are no page's first or latest, no evidence, and in no kept report (one of a date
    from ``oldest_kept`` on: the kept dates are every report date since)."""
    earlier = aliased(Snapshot)
    not_first = (select(earlier.id)
                 .where(earlier.page_id == Snapshot.page_id, earlier.id < Snapshot.id)
                 .exists().label("not_first"))
    after = 0
    while True:
        window = session.execute(
            select(Snapshot.id, not_first).join(Page, Page.id == Snapshot.page_id)
            .where(Page.source == source, Snapshot.id > after)
            .order_by(Snapshot.id).limit(batch)).all()
        if not window:
            return
        first, after = window[0].id, window[-1].id
        ids = [row.id for row in window]
        needed = {row.id for row in window if not row.not_first}
        needed.update(evidence.intersection(ids))
        # The window's references are looked up by its id range, not its ids: what else
        # falls in the range (another source's snapshots) is only never asked about.
        needed.update(session.scalars(select(Page.latest_snapshot_id).where(
            Page.latest_snapshot_id.between(first, after))))
        if oldest_kept is not None:
            for link in (Change.old_snapshot_id, Change.new_snapshot_id):
                needed.update(session.scalars(
                    select(link).join(Run, Run.id == Change.run_id)
                    .where(link.between(first, after), Run.run_date >= oldest_kept)))
        doomed = [i for i in ids if i not in needed]
        if doomed:
            yield doomed


def _delete(session: Session, ids: list[int]) -> None:
    """Delete the snapshots ``ids``; the changes that showed them keep their summary and
    diff, unlinked."""
    unsynchronised = {"synchronize_session": False}  # no ORM object of them is loaded
    session.execute(update(Change).where(_among(session, Change.old_snapshot_id, ids))
                    .values(old_snapshot_id=None), execution_options=unsynchronised)
    session.execute(update(Change).where(_among(session, Change.new_snapshot_id, ids))
                    .values(new_snapshot_id=None), execution_options=unsynchronised)
    session.execute(delete(Snapshot).where(_among(session, Snapshot.id, ids)),
                    execution_options=unsynchronised)
    # A deleted snapshot was some page's earlier content: what a report worked out
    # from the history before is not the history any more.
    analysis_cache.forget(session)


def _among(session: Session, column: QueryableAttribute[Any], ids: list[int]
           ) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL one array parameter (``= ANY``), which it plans
    and binds far faster than hundreds of separate ones."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
    return column.in_(ids)


def _size(engine: Engine) -> int | None:
    """The database's size on disk in bytes (None for an in-memory or unknown one)."""
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        with engine.connect() as conn:
            return int(conn.execute(
                text("SELECT pg_database_size(current_database())")).scalar_one())
    if backend != "sqlite" or not engine.url.database:
        return None
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()
        page_size = conn.execute(text("PRAGMA page_size")).scalar_one()
    return int(pages) * int(page_size)
