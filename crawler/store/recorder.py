"""Write one run's results: snapshots, changes, errors; each page in its own transaction.

A run killed at any point leaves every page either fully recorded (snapshot, change
and page state together) or untouched, so the next run picks up exactly where the
database says it stands.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from crawler.config import AlertsConfig
from crawler.diff import diff_texts
from crawler.extract import content_hash
from crawler.hexdocs import url_key
from crawler.http import Validators
from crawler.sources.base import Document, Failure, Listing, Result, Unchanged
from crawler.store.models import (
    Change,
    FetchErrorRecord,
    Page,
    Run,
    RunSource,
    Snapshot,
    SourceState,
    nothing_fetched,
    utcnow,
)
from crawler.vocab import is_changelog, notices, vocabulary

BATCH_PAGES = 25  # pages per transaction
BATCH_SECONDS = 0.5  # ... or less, so a slow run still commits as it goes
BATCH_TOUCHES = 500  # "seen" updates of unchanged pages per transaction (bookkeeping only)
MIN_SHRINK_SIZE = 400  # below this a page is too short for its size to mean anything
MIN_INDEX_SIZE = 6
# Keys of Page.meta that are the store's own bookkeeping, not facts about the item.
_BOOKKEEPING = frozenset({"validators", "moved_to", "suspect"})


def _mostly_kept(new: str, old: str) -> bool:
    """Whether the shorter text is largely made of the old one's lines (a real trim or
    split), unlike a login wall or a cookie banner, which share nothing with the page."""
    new_lines = [line for line in new.splitlines() if line.strip()]
    old_lines = {line for line in old.splitlines() if line.strip()}
    kept = sum(1 for line in new_lines if line in old_lines)
    return kept >= 3 and kept >= 0.2 * len(new_lines)


def _analysis(doc: Document) -> dict:
    """The snapshot's vocabulary and notices: as the source computed them, else now."""
    if doc.item != "page":
        return {"terms": [], "notices": []}
    if doc.terms is not None and doc.notices is not None:
        return {"terms": doc.terms, "notices": doc.notices}
    return {"terms": vocabulary(doc.text),
            "notices": [n.as_dict() for n in notices(doc.text,
                                                     is_changelog(doc.url, doc.title))]}


def start_run(engine: Engine, run_date: dt.date, sources: list[str]) -> int:
    """Record a new run; changes left behind by killed runs move to it, to be reported once."""
    with Session(engine) as session, session.begin():
        run = Run(run_date=run_date, sources=sources, status="running")
        session.add(run)
        session.flush()
        dead = session.scalars(
            select(Run.id).where(Run.status == "running", Run.id != run.id)).all()
        if dead:
            # The caller holds the run lock, so a run still marked running was killed.
            session.execute(update(Run).where(Run.id.in_(dead))
                            .values(status="aborted", finished_at=utcnow(),
                                    message=f"killed; its changes are reported by run {run.id}"))
            session.execute(update(Change).where(Change.report_run_id.in_(dead))
                            .values(report_run_id=run.id))
        return run.id


def finish_run(engine: Engine, run_id: int, status: str, stats: dict[str, int],
               message: str | None = None) -> None:
    with Session(engine) as session, session.begin():
        run = session.get_one(Run, run_id)
        run.status = status
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
        self._touched: list[dict] = []

    def touch(self, row: dict) -> None:
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

    def flush(self) -> None:
        """Commit the pages recorded so far."""
        if self._session is None and self._touched:
            self.session()
        if self._session is not None:
            if self._touched:
                self._session.execute(update(Page), self._touched)  # by primary key
            self._session.commit()
            self._session.close()
        self._session, self._pending, self._touched = None, 0, []

    def discard(self) -> None:
        if self._session is not None:
            self._session.rollback()
            self._session.close()
        self._session, self._pending, self._touched = None, 0, []


@dataclass
class SourceTally:
    checked: int = 0
    unchanged: int = 0
    changed: int = 0
    errors: int = 0


@dataclass
class SourceRecorder:
    """Records the results of one source within one run."""

    engine: Engine
    run_id: int
    source: str
    kind: str
    tally: SourceTally = field(default_factory=SourceTally)
    # Remove a page after it answered 404/410 on this many consecutive runs (None: only
    # the source's own index decides; a failing page is never removed).
    remove_after_missing: int | None = None
    listings: list[Listing] = field(default_factory=list)
    baseline: bool = False
    _validators: dict[str, Validators] = field(default_factory=dict)
    _meta: dict[str, dict] = field(default_factory=dict)
    _ids: dict[str, int] = field(default_factory=dict)
    # Every stored page's URL by its identity (hexdocs.url_key): a page met under the
    # other form of its URL is the same page, renamed (see _adopt).
    _by_key: dict[str, str] = field(default_factory=dict)
    _added: set[str] = field(default_factory=set)
    writer: BatchWriter = None  # type: ignore[assignment]  # set in __post_init__
    # The source's own memory between runs (e.g. an ExDoc index); saved by finish().
    state: dict = field(default_factory=dict)
    run_date: dt.date | None = None
    alerts: AlertsConfig = field(default_factory=AlertsConfig)

    def __post_init__(self) -> None:
        if self.writer is None:
            self.writer = BatchWriter(self.engine)
        with Session(self.engine) as session, session.begin():
            state = session.get(SourceState, self.source)
            if state is None:
                state = SourceState(name=self.source, kind=self.kind)
                session.add(state)
            self.baseline = state.baseline_run_id is None
            self.state = dict((state.meta or {}).get("state", {}))
            rows = session.execute(
                select(Page.url, Page.fetched_url, Page.etag, Page.last_modified, Page.meta)
                .where(Page.source == self.source, Page.status == "active")).all()
            # By identity: validators remembered under one form of a hexdocs URL are
            # sent to the other (the same bytes at the new place still answer 304).
            self._validators = {url_key(fetched): Validators(etag, lm)
                                for _, fetched, etag, lm, _ in rows if fetched and (etag or lm)}
            for *_, meta in rows:
                for url, (etag, lm) in (meta or {}).get("validators", {}).items():
                    self._validators.setdefault(url_key(url), Validators(etag, lm))
            self._ids = dict(session.execute(select(Page.url, Page.id)
                                             .where(Page.source == self.source)).all())
            self._by_key = {url_key(url): url for url in self._ids}
            self._meta = {url: dict(meta or {}) for url, *_, meta in rows}

    def _stored_url(self, url: str) -> str:
        """The URL ``url``'s page is stored under (the other hexdocs form, before a move)."""
        return url if url in self._ids else self._by_key.get(url_key(url), url)

    def page_meta(self, url: str) -> dict:
        return self._meta.get(self._stored_url(url), {})

    def validators_for(self, url: str) -> Validators | None:
        return self._validators.get(url_key(url))

    def has_page(self, url: str) -> bool:
        # Every active page of the source, loaded at start.
        return self._stored_url(url) in self._meta

    def _adopt(self, url: str) -> None:
        """A page stored under the other form of ``url`` (hexdocs.pm moved every package
        to a subdomain) takes ``url`` as its URL: the same page, its history kept, no
        added or removed page for a move."""
        old = self._stored_url(url)
        if old == url:
            return
        page_id = self._ids.pop(old)
        self._ids[url] = page_id
        self._by_key[url_key(url)] = url
        if old in self._meta:
            self._meta[url] = self._meta.pop(old)
        self.writer.session().execute(update(Page).where(Page.id == page_id).values(url=url))

    def record(self, result: Result) -> None:
        """Record one result. Pages are written in small batches, one transaction each:
        a page is never half-written, and a killed run loses at most the last batch."""
        if isinstance(result, Listing):
            self.listings.append(result)
            return
        self._adopt(result.url)
        self.tally.checked += not isinstance(result, Failure) or result.page
        if isinstance(result, Unchanged) and self._only_seen(result):
            self.tally.unchanged += 1
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

    def _page(self, session: Session, url: str) -> Page | None:
        page_id = self._ids.get(url)
        if page_id is not None:
            return session.get(Page, page_id)
        if url not in self._added:
            return None  # every page of the source was loaded at start: this one is new
        session.flush()  # added earlier in this run (listed twice): find it
        return session.scalar(select(Page).where(Page.source == self.source, Page.url == url))

    def _document(self, session: Session, doc: Document) -> None:
        page = self._page(session, doc.url)
        digest = content_hash(doc.text)
        now = utcnow()
        if page is None:
            page = Page(source=self.source, url=doc.url, title=doc.title, group=doc.group,
                        item=doc.item, first_seen_run_id=self.run_id,
                        last_seen_run_id=self.run_id)
            session.add(page)
            self._added.add(doc.url)
            previous = None
        else:
            previous = page.latest
            if previous is not None and self._suspect_shrink(session, page, previous, doc,
                                                             digest):
                return
        was_removed = page.status == "removed"
        meta_before = {k: v for k, v in (page.meta or {}).items() if k not in _BOOKKEEPING}
        moved_before = (page.meta or {}).get("moved_to")
        page.title, page.group, page.status = doc.title, doc.group, "active"
        page.item, page.missing_runs = doc.item, 0
        page.meta = doc.meta
        self._keep_aux_validators(page, doc.aux_validators)
        if previous is not None:
            self._note_move(session, page, moved_before, doc.moved_to)
        page.last_seen_run_id, page.last_fetched_at = self.run_id, now
        page.fetched_url = doc.fetched_url
        page.etag, page.last_modified = doc.validators.etag, doc.validators.last_modified
        if previous is not None and previous.content_hash == digest:
            self.tally.unchanged += 1
            if was_removed:
                self._change(session, page, "added", "listed again", None, previous)
            return
        # Objects are linked by relationship, not id: the batch is flushed once, at commit.
        snapshot = Snapshot(page=page, run_id=self.run_id, content_hash=digest,
                            title=doc.title, content=doc.text, size=len(doc.text),
                            representation=doc.representation, fetched_url=doc.fetched_url,
                            fetched_at=now, etag=doc.validators.etag,
                            last_modified=doc.validators.last_modified,
                            **_analysis(doc))
        session.add(snapshot)
        page.latest = snapshot
        if previous is None:
            if self.baseline:
                self.tally.unchanged += 1
                return
            self.tally.changed += 1
            self._change(session, page, "added", f"new page: {doc.title}", None, snapshot)
            return
        self.tally.changed += 1
        diff = diff_texts(previous.content, doc.text)
        details = {
            "sections": diff.sections,
            "lines_added": diff.lines_added,
            "lines_removed": diff.lines_removed,
            "diff": diff.unified,
            "added_text": diff.added_text,
            "removed_text": diff.removed_text,
        }
        if previous.representation != doc.representation:
            details["representation"] = f"{previous.representation} → {doc.representation}"
        if doc.item != "page":
            details["before"] = meta_before  # e.g. the latest stable version it replaced
        kind = "added" if was_removed else "modified"
        self._change(session, page, kind, diff.summary(), previous, snapshot, details)

    def _suspect_shrink(self, session: Session, page: Page, previous: Snapshot, doc: Document,
                        digest: str) -> bool:
        """Hold back text that suddenly shrank (login wall, cookie banner, lost selector).

        The last good snapshot stays and the run reports a probable breakage. The same
        shrunken text seen on ``confirm_runs`` runs in a row is accepted as real.
        """
        meta = dict(page.meta or {})
        shrunk = (previous.content_hash != digest and previous.size >= MIN_SHRINK_SIZE
                  and len(doc.text) < self.alerts.shrink_ratio * previous.size
                  and not _mostly_kept(doc.text, previous.content))
        if not shrunk:
            if "suspect" in meta:
                page.meta = {k: v for k, v in meta.items() if k != "suspect"}
            return False
        suspect = meta.get("suspect") or {}
        runs = suspect.get("runs", 0) + 1 if suspect.get("hash") == digest else 1
        if runs >= self.alerts.confirm_runs:
            page.meta = {k: v for k, v in meta.items() if k != "suspect"}
            return False
        page.meta = {**meta, "suspect": {"hash": digest, "runs": runs}}
        page.last_seen_run_id = self.run_id
        self.tally.errors += 1
        session.add(FetchErrorRecord(
            run_id=self.run_id, source=self.source, url=doc.url, attempts=1,
            error=f"probable breakage: the text shrank from {previous.size} to "
                  f"{len(doc.text)} characters (a login wall, a cookie banner or a selector "
                  f"that stopped matching?); the last good snapshot is kept "
                  f"(run {runs} of {self.alerts.confirm_runs} before it is accepted)"))
        return True

    @staticmethod
    def _keep_aux_validators(page: Page, aux: tuple[tuple[str, Validators], ...]) -> None:
        # A 304 answer carries no new validators: keep the stored ones then.
        if not aux:
            return
        replaced = {url_key(url) for url, _ in aux}  # the old form's, after a move
        stored = {url: v for url, v in (page.meta or {}).get("validators", {}).items()
                  if url_key(url) not in replaced}
        for url, v in aux:
            if v.etag or v.last_modified:
                stored[url] = v.stored()
        page.meta = {**(page.meta or {}), "validators": stored}

    def _note_move(self, session: Session, page: Page, before: str | None,
                   now: str | None) -> None:
        """Report a permanent redirect once: the page lives on elsewhere, it is not gone."""
        if now:
            page.meta = {**(page.meta or {}), "moved_to": now}
        elif before:
            page.meta = {k: v for k, v in (page.meta or {}).items() if k != "moved_to"}
        if now and now != before:
            self.tally.changed += 1
            self._change(session, page, "moved", f"moved to {now}", page.latest, None,
                         {"from": page.url, "to": now})

    def _change(self, session: Session, page: Page, kind: str, summary: str,
                old: Snapshot | None, new: Snapshot | None, details: dict | None = None) -> None:
        session.add(Change(run_id=self.run_id, report_run_id=self.run_id, page=page,
                           kind=kind, summary=summary, details=details or {},
                           old_snapshot=old, new_snapshot=new))

    def _unchanged(self, session: Session, result: Unchanged) -> None:
        self.tally.unchanged += 1
        page = self._page(session, result.url)
        if page is None:
            return
        page.last_seen_run_id, page.last_fetched_at = self.run_id, utcnow()
        page.missing_runs = 0
        self._note_move(session, page, (page.meta or {}).get("moved_to"), result.moved_to)
        self._keep_aux_validators(page, result.aux_validators)
        if result.validators.etag or result.validators.last_modified:
            page.etag = result.validators.etag or page.etag
            page.last_modified = result.validators.last_modified or page.last_modified

    def _seen_row(self, result: Unchanged) -> dict:
        """The common 304: nothing but bookkeeping changes, no need to load the page."""
        row = {"id": self._ids[result.url], "last_seen_run_id": self.run_id,
               "last_fetched_at": utcnow(), "missing_runs": 0}
        if result.validators.etag:
            row["etag"] = result.validators.etag
        if result.validators.last_modified:
            row["last_modified"] = result.validators.last_modified
        return row

    def _only_seen(self, result: Unchanged) -> bool:
        """A 304 that changes nothing but the page's "seen" bookkeeping and validators."""
        meta = self._meta.get(result.url)
        if result.url not in self._ids or meta is None or meta.get("moved_to") \
                or result.moved_to:
            return False
        stored = meta.get("validators", {})
        return all(v.stored() in (None, stored.get(url)) for url, v in result.aux_validators)

    def _failure(self, session: Session, failure: Failure) -> None:
        self.tally.errors += 1
        session.add(FetchErrorRecord(run_id=self.run_id, source=self.source, url=failure.url,
                                     error=failure.error, attempts=failure.attempts,
                                     status_code=failure.status))
        if self.remove_after_missing is None or failure.status not in (404, 410):
            return
        page = self._page(session, failure.url)
        if page is None or page.status != "active":
            return
        page.missing_runs += 1
        if page.missing_runs >= self.remove_after_missing:
            page.status = "removed"
            self.tally.changed += 1
            self._change(session, page, "removed",
                         f"answered HTTP {failure.status} on {page.missing_runs} runs in a row",
                         page.latest, None)

    def finish(self) -> None:
        """Apply the source's listings (removals), track failing streaks, close the tally."""
        self.flush()
        with Session(self.engine) as session, session.begin():
            state = session.get_one(SourceState, self.source)
            # Ids and URLs only: whole pages are loaded for the few that are gone.
            active = session.execute(select(Page.id, Page.url).where(
                Page.source == self.source, Page.status == "active")).all()
            removed: set[int] = set()
            for listing in self.listings:
                # By identity: a page not fetched since a move still has its old URL.
                scope, listed = url_key(listing.scope), {url_key(u) for u in listing.urls}
                in_scope = [(page_id, url) for page_id, url in active
                            if url_key(url).startswith(scope) and page_id not in removed]
                if self._suspect_index(session, state, listing, len(in_scope)):
                    continue
                for page_id, url in in_scope:
                    if url_key(url) in listed:
                        continue
                    removed.add(page_id)
                    page = session.get_one(Page, page_id)
                    page.status = "removed"
                    self.tally.changed += 1
                    self._change(session, page, "removed",
                                 "no longer listed by the package index", page.latest, None)
            state.meta = {**(state.meta or {}), "state": self.state}
            if state.baseline_run_id is None and self.tally.checked > self.tally.errors:
                state.baseline_run_id = self.run_id
            state.last_run_id = self.run_id
            recovered_after = self._track_streak(state)
            session.merge(RunSource(run_id=self.run_id, source=self.source, kind=self.kind,
                                    baseline=self.baseline, pages_checked=self.tally.checked,
                                    pages_unchanged=self.tally.unchanged,
                                    pages_changed=self.tally.changed, errors=self.tally.errors,
                                    failing_runs=state.failing_runs,
                                    failing_since=state.failing_since,
                                    recovered_after=recovered_after,
                                    moves=[{"from": listing.moved_from, "to": listing.scope}
                                           for listing in self.listings
                                           if listing.moved_from]))

    def _suspect_index(self, session: Session, state: SourceState, listing: Listing,
                       known: int) -> bool:
        """An index that suddenly lists far fewer pages is a probable breakage, not a purge."""
        suspects = dict((state.meta or {}).get("index_suspects", {}))
        shrunk = known >= MIN_INDEX_SIZE and len(listing.urls) < self.alerts.index_shrink_ratio \
            * known
        if not shrunk:
            if listing.scope in suspects:
                suspects.pop(listing.scope)
                state.meta = {**(state.meta or {}), "index_suspects": suspects}
            return False
        runs = suspects.get(listing.scope, 0) + 1
        if runs >= self.alerts.confirm_runs:
            suspects.pop(listing.scope, None)
            state.meta = {**(state.meta or {}), "index_suspects": suspects}
            return False
        suspects[listing.scope] = runs
        state.meta = {**(state.meta or {}), "index_suspects": suspects}
        self.tally.errors += 1
        session.add(FetchErrorRecord(
            run_id=self.run_id, source=self.source, url=listing.scope, attempts=1,
            error=f"probable breakage: the package index lists {len(listing.urls)} pages where "
                  f"{known} were known; no page is reported removed (run {runs} of "
                  f"{self.alerts.confirm_runs} before the shorter index is accepted)"))
        return True

    def _track_streak(self, state: SourceState) -> int:
        """Count runs in which nothing could be fetched; return the streak this run ended."""
        failed = nothing_fetched(self.tally.checked, self.tally.errors)
        if failed:
            state.failing_runs += 1
            state.failing_since = state.failing_since or self.run_date
            return 0
        ended = state.failing_runs
        state.failing_runs, state.failing_since = 0, None
        return ended
