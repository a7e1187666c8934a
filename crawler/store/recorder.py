"""Write one run's results: snapshots, changes, errors; each page in its own transaction.

The recorder is the store step's writer: what a result means is decided by
:mod:`crawler.classify`, and the recorder applies it. A run killed at any point leaves
every page either fully recorded (snapshot, change and page state together) or
untouched, so the next run picks up exactly where the database says it stands.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from crawler import classify
from crawler.classify import ChangeRecord, Counts, SnapshotRef, StoredPage, StoredSnapshot
from crawler.config import AlertsConfig
from crawler.extract import content_hash
from crawler.hexdocs import url_key
from crawler.http import Validators
from crawler.notices import notices
from crawler.sources.base import Document, Failure, Listing, Result, TargetDone, Unchanged
from crawler.store.lock import SourceLocks, live_run_ids
from crawler.store.memory import (
    SourceMemory,
    aux_column,
    aux_validators,
    item_meta,
    load_memory,
    rows_under,
)
from crawler.store.models import (
    Change,
    FetchErrorRecord,
    Page,
    Run,
    RunSource,
    Snapshot,
    SourceState,
    TargetState,
    utcnow,
)
from crawler.types import Item, ItemMeta, PageStatus, RootMoveDict, RunStatus
from crawler.vocab import is_changelog, vocabulary

BATCH_PAGES = 25  # pages per transaction
BATCH_SECONDS = 0.5  # ... or less, so a slow run still commits as it goes
BATCH_TOUCHES = 500  # "seen" updates of unchanged pages per transaction (bookkeeping only)


def _analysis(doc: Document) -> dict[str, list[Any]]:
    """The snapshot's vocabulary and notices: as the source computed them, else now."""
    if doc.item != Item.PAGE:
        return {"terms": [], "notices": []}
    if doc.terms is not None and doc.notices is not None:
        return {"terms": doc.terms, "notices": doc.notices}
    return {"terms": vocabulary(doc.text),
            "notices": [n.as_dict() for n in notices(doc.text,
                                                     is_changelog(doc.url, doc.title))]}


def start_run(engine: Engine, run_date: dt.date, sources: list[str], locks: SourceLocks) -> int:
    """Record a new run (its ``locks`` name it); changes left behind by killed runs move
    to it, to be reported once."""
    with Session(engine) as session, session.begin():
        run = Run(run_date=run_date, sources=sources, status=RunStatus.RUNNING)
        session.add(run)
        session.flush()
        locks.claim(session, run.id)
        # Runs first, locks second: a run recorded since is seen with its locks.
        running = session.scalars(
            select(Run.id).where(Run.status == RunStatus.RUNNING, Run.id != run.id)).all()
        live = live_run_ids(session, locks.stale_after) if running else set()
        # A run still marked running that no live holder's lock names was killed (a
        # concurrent run of other sources is live, and left alone).
        dead = [run_id for run_id in running if run_id not in live]
        if dead:
            aborted = session.scalars(
                update(Run).where(Run.id.in_(dead), Run.status == RunStatus.RUNNING)
                .values(status=RunStatus.ABORTED, finished_at=utcnow(),
                        message=f"killed; its changes are reported by run {run.id}")
                .returning(Run.id)).all()
            if aborted:
                session.execute(update(Change).where(Change.report_run_id.in_(aborted))
                                .values(report_run_id=run.id))
        return run.id


def finish_run(engine: Engine, run_id: int, status: RunStatus, stats: dict[str, int],
               message: str | None = None) -> None:
    """Record how a run ended, with its figures."""
    with Session(engine) as session, session.begin():
        run = session.get_one(Run, run_id)
        run.status = RunStatus(status)
        run.finished_at = utcnow()
        run.message = message
        for key, value in stats.items():
            setattr(run, key, value)


class BatchWriter:
    """One write transaction at a time, shared by every source of a run.

    SQLite has a single writer: two sources holding their own open batches would wait on
    each other inside the same event loop. Pages go into small batches, one transaction
    each, so a page is never half-written and a killed run loses at most the last batch.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._session: Session | None = None
        self._pending = 0
        self._started = 0.0
        # Pages that only need their "seen" bookkeeping: one bulk UPDATE per batch.
        self._touched: list[dict[str, Any]] = []

    def touch(self, row: dict[str, Any]) -> None:
        """Queue the "seen" update of an unchanged page (a 304): losing it to a crash
        loses nothing the next run does not redo, so these go in bigger batches."""
        if self._session is None and not self._touched:
            self._started = time.monotonic()
        self._touched.append(row)
        if len(self._touched) >= BATCH_TOUCHES or self._old():
            self.flush()

    def session(self) -> Session:
        if self._session is None:
            self._session = Session(self.engine)
            self._session.begin()
            if not self._touched:
                self._started = time.monotonic()
        return self._session

    def written(self) -> None:
        """One more page recorded; commit when the batch is full or old enough."""
        self._pending += 1
        if self._pending >= BATCH_PAGES or self._old():
            self.flush()

    def _old(self) -> bool:
        return time.monotonic() - self._started >= BATCH_SECONDS

    def flush_if_old(self) -> None:
        """Commit the batch if it is open and old enough (called while the run waits)."""
        if (self._session is not None or self._touched) and self._old():
            self.flush()

    def flush(self) -> None:
        """Commit the pages recorded so far; a batch that cannot be committed (a full
        disk) is rolled back and dropped, so that the next one starts clean and meets
        the database's own error, not a session left failed."""
        try:
            if self._session is None and self._touched:
                self.session()
            if self._session is not None:
                if self._touched:
                    self._session.execute(update(Page), self._touched)  # by primary key
                self._session.commit()
                self._session.close()
        except Exception:
            self.discard()
            raise
        self._session, self._pending, self._touched = None, 0, []

    def discard(self) -> None:
        if self._session is not None:
            self._session.rollback()
            self._session.close()
        self._session, self._pending, self._touched = None, 0, []


@dataclass
class SourceTally:
    """What one source's run saw: the figures of its "Sources reviewed" line."""

    checked: int = 0
    unchanged: int = 0
    changed: int = 0
    errors: int = 0

    def add(self, counts: Counts) -> None:
        self.checked += counts.checked
        self.unchanged += counts.unchanged
        self.changed += counts.changed
        self.errors += counts.errors


@dataclass
class SourceRecorder:
    """Records the results of one source within one run (built by :meth:`open`)."""

    engine: Engine
    run_id: int
    source: str
    kind: str
    memory: SourceMemory
    writer: BatchWriter
    # Remove a page after it answered 404/410 on this many consecutive runs (None: only
    # the source's own index decides; a failing page is never removed).
    remove_after_missing: int | None = None
    run_date: dt.date | None = None
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    tally: SourceTally = field(default_factory=SourceTally)
    # Roots this run found permanently moved (from their listings).
    moves: list[RootMoveDict] = field(default_factory=list)
    # What the source remembered of its targets this run, by identity: (target, state),
    # written as the target is done.
    _remembered: dict[str, tuple[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(cls, engine: Engine, run_id: int, source: str, kind: str, *,
             writer: BatchWriter | None = None, remove_after_missing: int | None = None,
             run_date: dt.date | None = None, alerts: AlertsConfig | None = None,
             by_target: bool = False) -> SourceRecorder:
        """A recorder for ``source`` in run ``run_id``, with the source's memory loaded
        (a source met for the first time is registered); ``by_target``: a target's
        pages are read as the crawl reaches it (:meth:`open_target`)."""
        return cls(engine, run_id, source, kind,
                   load_memory(engine, source, kind, run_id, by_target=by_target),
                   writer or BatchWriter(engine), remove_after_missing, run_date,
                   alerts or AlertsConfig())

    # -- what the source asks while it crawls ----------------------------------------

    @property
    def baseline(self) -> bool:
        """The source's first crawl: its pages are recorded, none is reported as new."""
        return self.memory.baseline

    @property
    def state(self) -> dict[str, Any]:
        """The source's own memory between runs; saved by :meth:`finish`."""
        return self.memory.state

    def page_meta(self, url: str) -> ItemMeta:
        """The stored facts of the item at ``url`` (empty for an unknown page); a copy,
        the caller's to change."""
        self._read(url)
        known = self.memory.known.get(self.memory.stored_url(url))
        return known.meta.copy() if known is not None else ItemMeta()

    def validators_for(self, url: str) -> Validators | None:
        self._read(url)
        return self.memory.validators.get(url_key(url))

    def has_page(self, url: str) -> bool:
        """Whether ``url`` is an active page of the source (as of the start of the run)."""
        self._read(url)
        return self.memory.stored_url(url) in self.memory.known

    def open_target(self, target: str) -> None:
        """The crawl reaches ``target``: read the memory of the pages under it."""
        self.memory.read_target(self.writer.session(), self.source, target)

    def remembered(self, target: str) -> Any:
        """What the source remembered of ``target`` (None: nothing), by its identity or
        the URL it was kept under before."""
        pending = self._remembered.get(url_key(target))
        if pending is not None:
            return pending[1]
        keys = list(dict.fromkeys([url_key(target), target]))
        found: dict[str, Any] = dict(self.writer.session().execute(
            select(TargetState.target, TargetState.state).where(
                TargetState.source == self.source, TargetState.target.in_(keys))).all())
        return next((found[key] for key in keys if key in found), None)

    def remember(self, target: str, state: Any) -> None:
        """Keep ``state`` for ``target`` until the next run (written as it is done)."""
        self._remembered[url_key(target)] = (target, state)

    def _read(self, url: str) -> None:
        if not self.memory.covers(url):
            self.memory.read_page(self.writer.session(), self.source, url)

    # -- recording -------------------------------------------------------------------

    def record(self, result: Result) -> None:
        """Record one result. Pages are written in small batches, one transaction each:
        a page is never half-written, and a killed run loses at most the last batch."""
        if isinstance(result, TargetDone):
            self._target_done(result.target)
            return
        if isinstance(result, Listing):
            self._listing(result)
            return
        self._read(result.url)
        self._adopt(result.url)
        if isinstance(result, Unchanged) and self._only_seen(result):
            self.tally.add(classify.SEEN)
            self.writer.touch(self._seen_row(result))
            return
        session = self.writer.session()
        try:
            # Flush once per batch, at commit, not before every lookup.
            with session.no_autoflush:
                if isinstance(result, Document):
                    self._document(session, result)
                elif isinstance(result, Unchanged):
                    self._unchanged(session, result)
                else:
                    self._failure(session, result)
        except BaseException:
            self.writer.discard()
            raise
        self.writer.written()

    def flush(self) -> None:
        """Commit the pages recorded so far (by every source sharing the writer)."""
        self.writer.flush()

    def _adopt(self, url: str) -> None:
        """A page stored under the other form of ``url`` (hexdocs.pm moved every package
        to a subdomain) takes ``url`` as its URL: the same page, its history kept, no
        added or removed page for a move."""
        page_id = self.memory.adopt(url)
        if page_id is not None:
            self.writer.session().execute(update(Page).where(Page.id == page_id)
                                          .values(url=url))

    def _page(self, session: Session, url: str) -> Page | None:
        page_id = self.memory.page_ids.get(url)
        if page_id is not None:
            return session.get(Page, page_id)
        if url not in self.memory.added:
            return None  # the memory of its URL was read: this page is new
        session.flush()  # added earlier in this run (listed twice): find it
        return session.scalar(select(Page).where(Page.source == self.source, Page.url == url))

    def _document(self, session: Session, doc: Document) -> None:
        page = self._page(session, doc.url)
        digest = content_hash(doc.text)
        decision = classify.classify_document(_stored(page) if page is not None else None,
                                              doc, digest, baseline=self.baseline,
                                              alerts=self.alerts)
        self.tally.add(decision.counts)
        if isinstance(decision, classify.HeldBack):
            assert page is not None  # only a stored text is held back
            page.suspect_hash = decision.suspicion.content_hash
            page.suspect_runs = decision.suspicion.runs
            page.last_seen_run_id = self.run_id
            self._error(session, doc.url, decision.error)
            return
        if page is None:
            page = Page(source=self.source, url=doc.url, first_seen_run_id=self.run_id)
            session.add(page)
            self.memory.add_page(doc.url)
        previous = page.latest
        now = utcnow()
        page.title, page.group, page.status = doc.title, doc.group, PageStatus.ACTIVE
        page.item, page.missing_runs, page.meta = doc.item, 0, doc.meta.copy()
        page.aux_validators = aux_column(decision.aux_validators)
        page.moved_to = decision.moved_to
        page.suspect_hash, page.suspect_runs = None, 0
        page.last_seen_run_id, page.last_fetched_at = self.run_id, now
        page.fetched_url = doc.fetched_url
        page.etag, page.last_modified = doc.validators.etag, doc.validators.last_modified
        written = None
        if decision.snapshot:
            # Objects are linked by relationship, not id: the batch is flushed once, at
            # commit.
            written = Snapshot(page=page, run_id=self.run_id, content_hash=digest,
                               title=doc.title, content=doc.text, size=len(doc.text),
                               representation=doc.representation,
                               fetched_url=doc.fetched_url, fetched_at=now,
                               etag=doc.validators.etag,
                               last_modified=doc.validators.last_modified, **_analysis(doc))
            session.add(written)
            page.latest = written
        for change in decision.changes:
            self._change(session, page, change, previous, written)

    def _unchanged(self, session: Session, result: Unchanged) -> None:
        page = self._page(session, result.url)
        decision = classify.classify_unchanged(
            _stored(page, with_text=False) if page is not None else None, result)
        self.tally.add(decision.counts)
        if page is None:
            return
        page.last_seen_run_id, page.last_fetched_at = self.run_id, utcnow()
        page.missing_runs = 0
        page.moved_to = decision.moved_to
        if decision.aux_validators is not None:
            page.aux_validators = aux_column(decision.aux_validators)
        page.etag, page.last_modified = (decision.validators.etag,
                                         decision.validators.last_modified)
        for change in decision.changes:
            self._change(session, page, change, page.latest, None)

    def _only_seen(self, result: Unchanged) -> bool:
        known = self.memory.known.get(result.url)
        return result.url in self.memory.page_ids and known is not None \
            and classify.only_seen(known, result)

    def _seen_row(self, result: Unchanged) -> dict[str, Any]:
        """The common 304: nothing but bookkeeping changes, no need to load the page."""
        row: dict[str, Any] = {"id": self.memory.page_ids[result.url],
                               "last_seen_run_id": self.run_id,
                               "last_fetched_at": utcnow(), "missing_runs": 0}
        if result.validators.etag:
            row["etag"] = result.validators.etag
        if result.validators.last_modified:
            row["last_modified"] = result.validators.last_modified
        return row

    def _failure(self, session: Session, failure: Failure) -> None:
        session.add(FetchErrorRecord(run_id=self.run_id, source=self.source, url=failure.url,
                                     error=failure.error, attempts=failure.attempts,
                                     status_code=failure.status))
        page = self._page(session, failure.url) \
            if classify.is_missing(failure, self.remove_after_missing) else None
        decision = classify.classify_failure(
            _stored(page, with_text=False) if page is not None else None, failure,
            self.remove_after_missing)
        self.tally.add(decision.counts)
        if page is None or decision.missing_runs is None:
            return
        page.missing_runs = decision.missing_runs
        if decision.removal is not None:
            page.status = PageStatus.REMOVED
            self._change(session, page, decision.removal, page.latest, None)

    def _error(self, session: Session, url: str, error: str) -> None:
        """A probable breakage, recorded as a fetch problem of ``url``."""
        session.add(FetchErrorRecord(run_id=self.run_id, source=self.source, url=url,
                                     attempts=1, error=error))

    def _change(self, session: Session, page: Page, change: ChangeRecord,
                stored: Snapshot | None, written: Snapshot | None) -> None:
        snapshots = {SnapshotRef.STORED: stored, SnapshotRef.WRITTEN: written}
        session.add(Change(run_id=self.run_id, report_run_id=self.run_id, page=page,
                           kind=change.kind, summary=change.summary,
                           details=dict(change.details),
                           old_snapshot=snapshots[change.old] if change.old else None,
                           new_snapshot=snapshots[change.new] if change.new else None))

    # -- the end of the source's run -------------------------------------------------

    def _listing(self, listing: Listing) -> None:
        """Remove the pages under the listing's scope it no longer lists (read from the
        database, this run's pages too): one package root's pages, not the source's."""
        session = self.writer.session()
        session.flush()
        active = [(page_id, url) for page_id, url in rows_under(
            session, select(Page.id, Page.url).where(Page.source == self.source,
                                                     Page.status == PageStatus.ACTIVE),
            listing.scope)]
        decision = classify.classify_listing(listing, active, self.memory.index_suspects,
                                             self.alerts)
        self.memory.index_suspects = dict(decision.suspects)
        self.tally.add(decision.counts)
        if decision.error is not None:
            self._error(session, listing.scope, decision.error)
        for page_id in decision.removed:
            page = session.get_one(Page, page_id)
            page.status = PageStatus.REMOVED
            self._change(session, page, classify.UNLISTED, page.latest, None)
        if listing.moved_from:
            self.moves.append({"from": listing.moved_from, "to": listing.scope})
        self.writer.written()

    def _target_done(self, target: str) -> None:
        """Every result of ``target`` is recorded: write what the source remembered of
        it, and hand back the memory of its pages."""
        pending = self._remembered.pop(url_key(target), None)
        if pending is not None:
            self._write_remembered(self.writer.session(), *pending)
            self.writer.written()
        self.memory.release(target)

    def _write_remembered(self, session: Session, target: str, state: Any) -> None:
        key = url_key(target)
        if key != target:  # kept under its URL before it was by identity
            session.execute(delete(TargetState).where(TargetState.source == self.source,
                                                      TargetState.target == target))
        session.merge(TargetState(source=self.source, target=key, state=state))

    # -- the end of the source's run -------------------------------------------------

    def finish(self) -> None:
        """Save the source's state, track failing streaks, close the tally."""
        self.flush()
        with Session(self.engine) as session, session.begin():
            state = session.get_one(SourceState, self.source)
            # Targets whose end was not recorded (the source crashed) still keep theirs.
            for target, remembered in self._remembered.values():
                self._write_remembered(session, target, remembered)
            state.index_suspects = dict(self.memory.index_suspects)
            state.state = dict(self.memory.state)
            if self.baseline and classify.baseline_recorded(self.tally.checked,
                                                             self.tally.errors):
                state.baseline_run_id = self.run_id
            state.last_run_id = self.run_id
            streak = classify.next_streak(state.failing_runs, state.failing_since,
                                          self.tally.checked, self.tally.errors,
                                          self.run_date)
            state.failing_runs, state.failing_since = streak.failing_runs, streak.failing_since
            session.merge(RunSource(run_id=self.run_id, source=self.source, kind=self.kind,
                                    baseline=self.baseline, pages_checked=self.tally.checked,
                                    pages_unchanged=self.tally.unchanged,
                                    pages_changed=self.tally.changed, errors=self.tally.errors,
                                    failing_runs=state.failing_runs,
                                    failing_since=state.failing_since,
                                    recovered_after=streak.recovered_after,
                                    moves=self.moves))
        # The run's end (its report) needs only the tally: the memory of the source's
        # pages (hundreds of MB for 200,000 pages) is handed back before the report.
        self.memory = SourceMemory(baseline=self.memory.baseline)
        self._remembered.clear()


def _stored(page: Page, with_text: bool = True) -> StoredPage:
    """What classifying a result needs of a stored page: its latest text only for a
    document (a 304 or a failure is classified without it, so it is not loaded)."""
    latest = page.latest if with_text else None
    return StoredPage(
        url=page.url, status=page.status, meta=item_meta(page.meta),
        latest=StoredSnapshot(latest.content_hash, latest.content, latest.size,
                              latest.representation) if latest is not None else None,
        validators=Validators(page.etag, page.last_modified),
        aux_validators=aux_validators(page.aux_validators), moved_to=page.moved_to,
        suspicion=classify.Suspicion(page.suspect_hash, page.suspect_runs)
        if page.suspect_hash else None,
        missing_runs=page.missing_runs)
