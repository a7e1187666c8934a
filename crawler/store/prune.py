"""Bounded history: ``docwatch prune`` and ``docwatch stats``.

A source's ``history`` policy (``keep: N`` reports, ``max_age_days: D``) decides which
dated reports stay explainable; snapshots that none of those reports refer to go,
except each page's first and latest. Changes keep their summary and diff, and a pruned
snapshot is only unlinked from them. SQLite files are vacuumed afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.orm import Session

from crawler.analysis.queries import gone_terms
from crawler.config import Config
from crawler.sources.base import HistoryConfig
from crawler.store.db import checkpoint
from crawler.store.models import Change, Page, Run, Snapshot
from crawler.types import PageStatus


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
    """The report dates of ``source`` whose snapshots the policy keeps."""
    dates = sorted({d for (d,) in session.execute(
        select(Run.run_date).join(Change, Change.run_id == Run.id)
        .join(Page, Page.id == Change.page_id).where(Page.source == source))}, reverse=True)
    if policy.max_age_days:
        cutoff = today - dt.timedelta(days=policy.max_age_days)
        dates = [d for d in dates if d >= cutoff]
    if policy.keep:
        dates = dates[: policy.keep]
    return dates


def known_sources(engine: Engine, config: Config) -> list[str]:
    """Every source prune may work on: the configured ones and those with stored pages."""
    with Session(engine) as session:
        stored = {s for (s,) in session.execute(select(Page.source).distinct())}
    return sorted(stored | {s.name for s in config.typed_sources})


def prune(engine: Engine, config: Config, today: dt.date | None = None,
          dry_run: bool = False, only: Collection[str] | None = None,
          vacuum: bool = True) -> PruneResult:
    """Delete the snapshots no kept report needs, per each source's history policy
    (of the sources in ``only``, when given); then vacuum SQLite, unless not ``vacuum``
    (another run is writing)."""
    today = today or dt.datetime.now(dt.UTC).date()
    result = PruneResult(size_before=_size(engine))
    with Session(engine) as session, session.begin():
        evidence: set[int] | None = None
        for source in sorted({s for (s,) in session.execute(select(Page.source).distinct())}):
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
                evidence = set(gone_terms(session, crawled_only=False).values())
            doomed = _doomed(session, source, dates, evidence)
            result.deleted[source] = len(doomed)
            if dry_run or not doomed:
                continue
            for chunk in _chunks(sorted(doomed)):
                session.execute(update(Change).where(Change.old_snapshot_id.in_(chunk))
                                .values(old_snapshot_id=None))
                session.execute(update(Change).where(Change.new_snapshot_id.in_(chunk))
                                .values(new_snapshot_id=None))
                session.execute(delete(Snapshot).where(Snapshot.id.in_(chunk)))
    if vacuum and not dry_run and result.total_deleted \
            and engine.url.get_backend_name() == "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM"))
        checkpoint(engine)
    result.size_after = _size(engine)
    return result


def _doomed(session: Session, source: str, dates: list[dt.date], evidence: set[int]
            ) -> set[int]:
    """Snapshots of ``source`` that are no page's first or latest, no evidence and in no
    report of ``dates``."""
    needed = set(evidence)
    if dates:
        for old, new in session.execute(
                select(Change.old_snapshot_id, Change.new_snapshot_id)
                .join(Run, Run.id == Change.run_id).join(Page, Page.id == Change.page_id)
                .where(Page.source == source, Run.run_date.in_(dates))):
            needed.update(i for i in (old, new) if i)
    needed.update(latest for (latest,) in session.execute(
        select(Page.latest_snapshot_id).where(Page.source == source)) if latest)
    doomed: set[int] = set()
    first: dict[int, int] = {}
    for page_id, snapshot_id in session.execute(
            select(Snapshot.page_id, Snapshot.id).join(Page, Page.id == Snapshot.page_id)
            .where(Page.source == source).order_by(Snapshot.id)):
        if first.setdefault(page_id, snapshot_id) != snapshot_id and snapshot_id not in needed:
            doomed.add(snapshot_id)
    return doomed


def _chunks(ids: list[int], size: int = 500):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


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
