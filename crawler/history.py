"""Read what past runs stored: runs, a page's snapshots, diffs between them, reports.

This is the library behind ``docwatch runs``, ``history``, ``show``, ``diff`` and
``report``; every function takes an :class:`~sqlalchemy.Engine` and returns plain
dataclasses, so other tools can use the history without going through the CLI.
Nothing here writes to the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Engine, Row, func, select
from sqlalchemy.orm import Session

from crawler import hexdocs
from crawler.diff import MAX_LINE, TextDiff, diff_texts, unified_diff
from crawler.errors import DocwatchError
from crawler.store.db import database_url, open_database, sqlite_file
from crawler.store.models import Change, Page, Run, Snapshot
from crawler.types import ChangeKind, Item, PageStatus, RunStatus

SHORT_HASH = 10
# What a snapshot no change created is: the page as a source's first crawl recorded it.
BASELINE: Literal["baseline"] = "baseline"


class HistoryError(DocwatchError):
    """Nothing to show, phrased for the user (an unknown URL, a date before any run...)."""


# -- the database ---------------------------------------------------------------------


def open_existing(database: str | None = None) -> Engine:
    """Open (and migrate) the database of ``database_url(database)`` for reading.

    A SQLite file that does not exist is an error rather than a new empty database:
    reading the history of a mistyped path should say so, not create it.
    """
    url = database_url(database)
    file = sqlite_file(url)
    if file is not None and not file.exists():
        raise HistoryError(f"no database at {file}; run `docwatch crawl` first "
                           "(or pass --db / set DOCWATCH_DATABASE_URL)")
    return open_database(url)


# -- runs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunEntry:
    """One run as ``docwatch runs`` lists it."""

    id: int
    date: dt.date
    status: RunStatus
    started_at: dt.datetime
    finished_at: dt.datetime | None
    sources: list[str]
    pages_checked: int
    pages_changed: int
    errors: int
    message: str | None

    @property
    def duration(self) -> dt.timedelta | None:
        """Wall-clock time of the run; None while it is still running (or was killed)."""
        return self.finished_at - self.started_at if self.finished_at else None


def list_runs(engine: Engine, limit: int | None = 20) -> list[RunEntry]:
    """The most recent runs, newest first (at most ``limit``; None for all)."""
    query = select(Run).order_by(Run.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with Session(engine) as session:
        return [RunEntry(r.id, r.run_date, r.status, r.started_at, r.finished_at,
                         list(r.sources or []), r.pages_checked, r.pages_changed, r.errors,
                         r.message) for r in session.scalars(query)]


def last_run_date(engine: Engine) -> dt.date | None:
    """The latest logical date a run was recorded with (None before the first run)."""
    with Session(engine) as session:
        return session.scalar(select(func.max(Run.run_date))
                              .where(Run.status != RunStatus.ABORTED))


def runs_on(engine: Engine, since: dt.date, until: dt.date | None = None) -> list[RunEntry]:
    """The reportable (not aborted) runs whose logical date is in ``since..until``."""
    until = until or since
    with Session(engine) as session:
        rows = session.scalars(select(Run).where(Run.run_date >= since, Run.run_date <= until,
                                                 Run.status != RunStatus.ABORTED)
                              .order_by(Run.id))
        return [RunEntry(r.id, r.run_date, r.status, r.started_at, r.finished_at,
                         list(r.sources or []), r.pages_checked, r.pages_changed, r.errors,
                         r.message) for r in rows]


# -- pages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRef:
    """A stored page, identified by its source and canonical URL."""

    id: int
    source: str
    url: str
    title: str
    item: Item
    status: PageStatus


def url_variants(url: str) -> list[str]:
    """The URLs a user may mean by ``url``, the exact one first.

    A page is stored under the URL a reader opens: the HTML one even when ExDoc's
    Markdown twin (``<id>.md``) was fetched. So ``.md`` also tries ``.html``, a
    trailing slash is optional, a fragment is ignored, and a hexdocs URL names the same
    page in its path and its subdomain form.
    """
    url = url.strip()
    bases = [url]
    without_fragment = url.split("#", 1)[0]
    if without_fragment != url:
        bases.append(without_fragment)
    out: list[str] = []
    for base in bases:
        stripped = base.rstrip("/")
        candidates = [base, stripped, stripped + "/"]
        if stripped.endswith(".md"):
            candidates.append(stripped[:-3] + ".html")
        for candidate in candidates:
            for form in hexdocs.url_forms(candidate):
                if form and form not in out:
                    out.append(form)
    return out


def find_page(engine: Engine, url: str, source: str | None = None) -> PageRef:
    """The stored page ``url`` names (see :func:`url_variants`); a post also by its link.

    Raises :class:`HistoryError` when no page matches, or when pages of several sources
    do and ``source`` does not pick one.
    """
    variants = url_variants(url)
    with Session(engine) as session:
        query = select(Page).where(Page.url.in_(variants), Page.item != Item.FEED)
        if source:
            query = query.where(Page.source == source)
        pages = list(session.scalars(query))
        if not pages:
            # Feed entries are stored under their id/guid; the report shows their link.
            query = select(Page).where(Page.item == Item.POST)
            if source:
                query = query.where(Page.source == source)
            pages = [p for p in session.scalars(query)
                     if (p.meta or {}).get("link") in variants]
        if not pages:
            where = f" in source {source!r}" if source else ""
            raise HistoryError(f"no page {url}{where} in the database")
        best = min(variants.index(p.url) if p.url in variants else len(variants)
                   for p in pages)
        pages = [p for p in pages
                 if (variants.index(p.url) if p.url in variants else len(variants)) == best]
        if len({p.source for p in pages}) > 1:
            names = ", ".join(sorted({p.source for p in pages}))
            raise HistoryError(f"{url} is watched by several sources ({names}); "
                               "pick one with --source")
        page = pages[0]
        return PageRef(page.id, page.source, page.url, page.title, page.item, page.status)


# -- snapshots ------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotEntry:
    """One stored version of a page, with the change that created it."""

    id: int
    run_id: int
    run_date: dt.date
    fetched_at: dt.datetime
    content_hash: str
    size: int
    title: str
    representation: str
    change: ChangeKind | Literal["baseline"]  # the change that stored it, or BASELINE
    summary: str

    @property
    def short_hash(self) -> str:
        return self.content_hash[:SHORT_HASH]


@dataclass(frozen=True)
class HistoryEvent:
    """A line of a page's history: a new snapshot, or a change that stored none."""

    run_id: int
    run_date: dt.date
    change: ChangeKind | Literal["baseline"]
    summary: str
    snapshot: SnapshotEntry | None = None


def snapshots(engine: Engine, page: PageRef) -> list[SnapshotEntry]:
    """Every stored version of ``page``, oldest first."""
    with Session(engine) as session:
        return _snapshot_entries(session, page, _changes(session, page))


def _changes(session: Session, page: PageRef) -> list[Row]:
    """``page``'s changes, oldest first: what a history shows, not their (large) details."""
    return list(session.execute(
        select(Change.id, Change.run_id, Change.kind, Change.summary, Change.new_snapshot_id,
               Run.run_date).join(Run, Change.run_id == Run.id)
        .where(Change.page_id == page.id).order_by(Change.id)))


def _creating_changes(changes: list[Row]) -> dict[int, Row]:
    """The change that stored each snapshot, by snapshot id."""
    found: dict[int, Row] = {}
    for change in changes:
        if change.new_snapshot_id is not None:
            found.setdefault(change.new_snapshot_id, change)
    return found


def _snapshot_entries(session: Session, page: PageRef, changes: list[Row]
                      ) -> list[SnapshotEntry]:
    creators = _creating_changes(changes)
    rows = session.execute(
        select(Snapshot.id, Snapshot.run_id, Run.run_date, Snapshot.fetched_at,
               Snapshot.content_hash, Snapshot.size, Snapshot.title, Snapshot.representation)
        .join(Run, Snapshot.run_id == Run.id).where(Snapshot.page_id == page.id)
        # In logical date order: a run backfilled with an older date comes before the
        # later dates it was recorded after.
        .order_by(Run.run_date, Snapshot.id))
    out = []
    for row in rows:
        change = creators.get(row.id)
        kind, summary = (change.kind, change.summary) if change else (BASELINE, BASELINE)
        out.append(SnapshotEntry(*row, kind, summary))
    return out


def page_history(engine: Engine, page: PageRef) -> list[HistoryEvent]:
    """``page``'s snapshots, and the changes that stored none (removals, re-listings),
    oldest first."""
    with Session(engine) as session:
        changes = _changes(session, page)
        entries = _snapshot_entries(session, page, changes)
    by_id = {s.id: s for s in entries}
    keyed = [((s.run_date, s.run_id, 0, s.id),
              HistoryEvent(s.run_id, s.run_date, s.change, s.summary, s)) for s in entries]
    created = {c.id for c in _creating_changes(changes).values()}
    for change in changes:
        if change.id not in created:
            event = HistoryEvent(change.run_id, change.run_date, change.kind, change.summary,
                                 by_id.get(change.new_snapshot_id or -1))
            keyed.append(((change.run_date, change.run_id, 1, change.id), event))
    # By date, then run; within a run, the new snapshot before what else happened to it.
    return [event for _, event in sorted(keyed, key=lambda pair: pair[0])]


def snapshot_text(engine: Engine, snapshot: SnapshotEntry) -> str:
    """The stored normalised text of ``snapshot``."""
    with Session(engine) as session:
        return session.get_one(Snapshot, snapshot.id).content


def snapshot_at(engine: Engine, page: PageRef, date: dt.date | None = None) -> SnapshotEntry:
    """The version of ``page`` current at the end of ``date`` (default: the latest)."""
    entries = snapshots(engine, page)
    if not entries:
        raise HistoryError(f"{page.url} has no stored snapshot (every fetch failed)")
    if date is None:
        return entries[-1]
    current = [s for s in entries if s.run_date <= date]
    if not current:
        raise HistoryError(f"{page.url} has no snapshot on or before {date.isoformat()}; "
                           f"the first is from {entries[0].run_date.isoformat()}")
    pruned = _pruned_between(engine, page, current[-1].run_date, date)
    if pruned:
        raise HistoryError(f"the version of {page.url} current on {date.isoformat()} was "
                           f"pruned (found on {pruned.isoformat()}); the nearest kept one "
                           f"before it is from {current[-1].run_date.isoformat()}")
    return current[-1]


def _pruned_between(engine: Engine, page: PageRef, after: dt.date,
                    until: dt.date) -> dt.date | None:
    """The date of a newer version of ``page`` that `docwatch prune` deleted, if any."""
    with Session(engine) as session:
        return session.scalar(
            select(Run.run_date).join(Change, Change.run_id == Run.id)
            .where(Change.page_id == page.id,
                   Change.kind.in_((ChangeKind.MODIFIED, ChangeKind.ADDED)),
                   Change.new_snapshot_id.is_(None), Run.run_date > after,
                   Run.run_date <= until)
            .order_by(Run.run_date.desc()).limit(1))


@dataclass(frozen=True)
class SnapshotDiff:
    """A unified diff between two versions of a page (``old`` is None: nothing before)."""

    page: PageRef
    old: SnapshotEntry | None
    new: SnapshotEntry
    lines: list[str] = field(default_factory=list)
    stats: TextDiff = field(default_factory=TextDiff)


def diff_snapshots(engine: Engine, page: PageRef, since: dt.date | None = None,
                   until: dt.date | None = None, context: int = 3,
                   whole_lines: bool = False) -> SnapshotDiff:
    """Diff the version current at ``since`` (default: the one before) with the one at
    ``until`` (default: the latest). Every hunk is there; a line longer than
    :data:`~crawler.diff.MAX_LINE` characters is folded around what changed in it,
    saying how many bytes it leaves out, unless ``whole_lines``."""
    new = snapshot_at(engine, page, until)
    if since is not None:
        old: SnapshotEntry | None = snapshot_at(engine, page, since)
    else:
        # The version before ``new`` in logical date order (a backfilled run's snapshot
        # has a later id than the runs dated after it).
        entries = snapshots(engine, page)
        at = next(i for i, entry in enumerate(entries) if entry.id == new.id)
        old = entries[at - 1] if at else None
    if old is None:
        return SnapshotDiff(page, None, new)
    old_text, new_text = snapshot_text(engine, old), snapshot_text(engine, new)
    lines = list(unified_diff(
        old_text, new_text,
        fromfile=f"{page.url} @ {old.run_date.isoformat()} ({old.short_hash})",
        tofile=f"{page.url} @ {new.run_date.isoformat()} ({new.short_hash})",
        context=context, width=None if whole_lines else MAX_LINE))
    return SnapshotDiff(page, old, new, lines, diff_texts(old_text, new_text))
