"""What a crawl result means for the page it is about: the classify step.

Pure functions from what the store holds (a :class:`StoredPage`, a source's index
suspicions, its failing streak) and what a source yielded (a ``Result``) to typed
decisions: the changes to report (:class:`ChangeRecord`), the page's new bookkeeping,
a probable breakage to call out instead of recording. No database, no clock: the
store (``crawler.store.recorder``) applies the decisions, in its own transactions.

Three heuristics keep a misbehaving site from being reported as changed docs: text that
suddenly shrank (a login wall, a cookie banner, a selector that stopped matching) and
an index that suddenly lists far fewer pages are held back until seen on
``confirm_runs`` runs in a row; a page answering 404/410 is removed only after
``remove_after_missing`` runs in a row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from crawler.config import AlertsConfig
from crawler.diff import diff_texts
from crawler.hexdocs import url_key
from crawler.http import Validators
from crawler.sources.base import Document, Failure, Listing, Unchanged
from crawler.store.models import nothing_fetched
from crawler.types import ChangeDetails, ChangeKind, Item, ItemMeta, PageStatus

MIN_SHRINK_SIZE = 400  # below this a page is too short for its size to mean anything
MIN_INDEX_SIZE = 6  # an index of fewer known pages is too small for its size to mean anything
MISSING_STATUSES = frozenset({404, 410})  # a page answering these may be gone


# -- what the store holds -------------------------------------------------------------


@dataclass(frozen=True)
class Suspicion:
    """Text held back because it suddenly shrank: its hash, and on how many runs in a
    row that same text came back."""

    content_hash: str
    runs: int


@dataclass(frozen=True)
class StoredSnapshot:
    """The page's latest stored text, as far as classifying needs it."""

    content_hash: str
    content: str
    size: int
    representation: str = "html"


@dataclass(frozen=True)
class StoredPage:
    """A page as the store holds it before a result is applied."""

    url: str
    status: PageStatus = PageStatus.ACTIVE
    meta: ItemMeta = field(default_factory=ItemMeta)
    latest: StoredSnapshot | None = None
    validators: Validators = field(default_factory=Validators)
    # Validators of other URLs fetched for the page (the HTML next to a .md), by URL.
    aux_validators: Mapping[str, Validators] = field(default_factory=dict)
    moved_to: str | None = None  # where a permanent redirect last sent us
    suspicion: Suspicion | None = None
    missing_runs: int = 0  # consecutive runs answering 404/410


@dataclass(frozen=True)
class KnownPage:
    """An active page as a source's memory holds it at the start of a run."""

    meta: ItemMeta
    moved_to: str | None = None
    aux_validators: Mapping[str, Validators] = field(default_factory=dict)


# -- what is decided ------------------------------------------------------------------


class SnapshotRef(Enum):
    """Which snapshot a change links to."""

    STORED = "stored"  # the page's latest snapshot before the result
    WRITTEN = "written"  # the snapshot the result writes


@dataclass(frozen=True)
class ChangeRecord:
    """A change to report, as the store writes it (``changes``)."""

    kind: ChangeKind
    summary: str
    details: ChangeDetails = field(default_factory=ChangeDetails)
    old: SnapshotRef | None = None
    new: SnapshotRef | None = None


@dataclass(frozen=True)
class Counts:
    """How one result counts in its source's tally."""

    checked: int = 0
    unchanged: int = 0
    changed: int = 0
    errors: int = 0


@dataclass(frozen=True)
class HeldBack:
    """A document whose text is a probable breakage: the page keeps its last good
    snapshot, remembers the suspicion, and the run records ``error``."""

    suspicion: Suspicion
    error: str
    counts: Counts = Counts(checked=1, errors=1)


@dataclass(frozen=True)
class Accepted:
    """A document recorded: its title, group, item, facts and validators replace the
    page's, the page is active again, and ``snapshot`` says whether its text is new."""

    snapshot: bool
    moved_to: str | None
    aux_validators: dict[str, Validators]
    changes: tuple[ChangeRecord, ...]
    counts: Counts


DocumentDecision = HeldBack | Accepted


@dataclass(frozen=True)
class Seen:
    """An unchanged page (a 304, or the same text): its bookkeeping after the answer."""

    moved_to: str | None
    validators: Validators
    # None: keep the stored ones (the answer carried no other URL's validators).
    aux_validators: dict[str, Validators] | None
    changes: tuple[ChangeRecord, ...]
    counts: Counts


@dataclass(frozen=True)
class FailureDecision:
    """A page that could not be fetched; the failure itself is always recorded."""

    counts: Counts
    # The page's new count of runs answering 404/410; None: the page is left as it is.
    missing_runs: int | None = None
    removal: ChangeRecord | None = None  # set when the page is gone: it is removed


@dataclass(frozen=True)
class ListingDecision:
    """What a source's index says of its known pages under the listing's scope."""

    suspects: dict[str, int]  # the source's index suspicions after this listing
    error: str | None  # a probable breakage: nothing is removed
    removed: tuple[int, ...]  # ids of the pages no longer listed (each gets UNLISTED)
    counts: Counts


@dataclass(frozen=True)
class Streak:
    """A source's failing streak after a run, and the one the run ended (0: none)."""

    failing_runs: int
    failing_since: dt.date | None
    recovered_after: int


UNLISTED = ChangeRecord(ChangeKind.REMOVED, "no longer listed by the package index",
                        old=SnapshotRef.STORED)
SEEN = Counts(checked=1, unchanged=1)  # a 304 that changes nothing but bookkeeping


# -- documents ------------------------------------------------------------------------


def classify_document(stored: StoredPage | None, doc: Document, digest: str, *,
                      baseline: bool, alerts: AlertsConfig) -> DocumentDecision:
    """What a fetched document changes. ``digest`` is the hash of ``doc.text``;
    ``baseline``: the source's first crawl, whose new pages are not news."""
    previous = stored.latest if stored is not None else None
    if stored is not None and previous is not None:
        suspicion = shrink_suspicion(previous, stored.suspicion, doc.text, digest, alerts)
        if suspicion is not None:
            return HeldBack(suspicion, shrink_error(previous.size, len(doc.text),
                                                    suspicion.runs, alerts.confirm_runs))
    aux = {url: v for url, v in doc.aux_validators if v.etag or v.last_modified}
    if stored is None or previous is None:
        # A new page (or one with no stored text): its redirect is not news yet.
        if baseline:
            return Accepted(True, None, aux, (), Counts(checked=1, unchanged=1))
        added = ChangeRecord(ChangeKind.ADDED, f"new page: {doc.title}",
                             new=SnapshotRef.WRITTEN)
        return Accepted(True, None, aux, (added,), Counts(checked=1, changed=1))
    moves = _move(stored, doc.moved_to)
    was_removed = stored.status == PageStatus.REMOVED
    if previous.content_hash == digest:
        relisted = (ChangeRecord(ChangeKind.ADDED, "listed again", new=SnapshotRef.STORED),) \
            if was_removed else ()
        return Accepted(False, doc.moved_to, aux, (*moves, *relisted),
                        Counts(checked=1, unchanged=1, changed=len(moves)))
    diff = diff_texts(previous.content, doc.text)
    details = ChangeDetails(sections=diff.sections, lines_added=diff.lines_added,
                            lines_removed=diff.lines_removed, diff=diff.unified,
                            added_text=diff.added_text, removed_text=diff.removed_text)
    if previous.representation != doc.representation:
        details["representation"] = f"{previous.representation} → {doc.representation}"
    if doc.item != Item.PAGE:
        details["before"] = stored.meta  # e.g. the latest stable version it replaced
    change = ChangeRecord(ChangeKind.ADDED if was_removed else ChangeKind.MODIFIED,
                          diff.summary(), details, SnapshotRef.STORED, SnapshotRef.WRITTEN)
    return Accepted(True, doc.moved_to, aux, (*moves, change),
                    Counts(checked=1, changed=1 + len(moves)))


def shrink_suspicion(previous: StoredSnapshot, held: Suspicion | None, text: str,
                     digest: str, alerts: AlertsConfig) -> Suspicion | None:
    """The suspicion to hold ``text`` back under, or None to accept it.

    Text that suddenly shrank, sharing little with the page, is a probable breakage;
    the same shrunken text on ``confirm_runs`` runs in a row is accepted as real.
    """
    shrunk = (previous.content_hash != digest and previous.size >= MIN_SHRINK_SIZE
              and len(text) < alerts.shrink_ratio * previous.size
              and not mostly_kept(text, previous.content))
    if not shrunk:
        return None
    runs = held.runs + 1 if held is not None and held.content_hash == digest else 1
    return Suspicion(digest, runs) if runs < alerts.confirm_runs else None


def shrink_error(old_size: int, new_size: int, runs: int, confirm_runs: int) -> str:
    """The fetch problem a held-back text is reported as."""
    return (f"probable breakage: the text shrank from {old_size} to {new_size} characters "
            f"(a login wall, a cookie banner or a selector that stopped matching?); the last "
            f"good snapshot is kept (run {runs} of {confirm_runs} before it is accepted)")


def mostly_kept(new: str, old: str) -> bool:
    """Whether the shorter text is largely made of the old one's lines (a real trim or
    split), unlike a login wall or a cookie banner, which share nothing with the page."""
    new_lines = [line for line in new.splitlines() if line.strip()]
    old_lines = {line for line in old.splitlines() if line.strip()}
    kept = sum(1 for line in new_lines if line in old_lines)
    return kept >= 3 and kept >= 0.2 * len(new_lines)


def _move(stored: StoredPage, moved_to: str | None) -> tuple[ChangeRecord, ...]:
    """A permanent redirect is reported once: the page lives on elsewhere, it is not gone."""
    if not moved_to or moved_to == stored.moved_to:
        return ()
    details: ChangeDetails = {"from": stored.url, "to": moved_to}
    return (ChangeRecord(ChangeKind.MOVED, f"moved to {moved_to}", details,
                         old=SnapshotRef.STORED),)


# -- unchanged pages ------------------------------------------------------------------


def classify_unchanged(stored: StoredPage | None, result: Unchanged) -> Seen:
    """What a 304 (or the same text) changes: the page's redirect and validators."""
    if stored is None:  # not a stored page: nothing to update
        return Seen(None, result.validators, None, (), SEEN)
    moves = _move(stored, result.moved_to)
    validators = Validators(result.validators.etag or stored.validators.etag,
                            result.validators.last_modified
                            or stored.validators.last_modified)
    return Seen(result.moved_to, validators,
                merged_aux_validators(stored.aux_validators, result.aux_validators)
                if result.aux_validators else None,
                moves, Counts(checked=1, unchanged=1, changed=len(moves)))


def merged_aux_validators(stored: Mapping[str, Validators],
                          fetched: Sequence[tuple[str, Validators]]) -> dict[str, Validators]:
    """The stored validators of other URLs updated by those just fetched. A URL fetched
    again replaces its other hexdocs form (after a move); an answer without validators
    (a 304) keeps the stored ones."""
    replaced = {url_key(url) for url, _ in fetched}
    merged = {url: v for url, v in stored.items() if url_key(url) not in replaced}
    merged.update((url, v) for url, v in fetched if v.etag or v.last_modified)
    return merged


def only_seen(known: KnownPage, result: Unchanged) -> bool:
    """Whether a 304 changes nothing of the page but its "seen" bookkeeping and
    validators (the common case, written without loading the page)."""
    if known.moved_to or result.moved_to:
        return False
    return all(v.stored() is None or known.aux_validators.get(url) == v
               for url, v in result.aux_validators)


# -- failures -------------------------------------------------------------------------


def is_missing(failure: Failure, remove_after_missing: int | None) -> bool:
    """Whether ``failure`` is evidence that its page is gone (for a source that removes
    pages answering 404/410; others rely on their index alone)."""
    return remove_after_missing is not None and failure.status in MISSING_STATUSES


def classify_failure(stored: StoredPage | None, failure: Failure,
                     remove_after_missing: int | None) -> FailureDecision:
    """What a failure does to its page: a 404/410 streak long enough removes it.
    ``stored`` is needed only when :func:`is_missing`."""
    counts = Counts(checked=int(failure.page), errors=1)
    if remove_after_missing is None or failure.status not in MISSING_STATUSES \
            or stored is None or stored.status != PageStatus.ACTIVE:
        return FailureDecision(counts)
    runs = stored.missing_runs + 1
    if runs < remove_after_missing:
        return FailureDecision(counts, runs)
    removal = ChangeRecord(ChangeKind.REMOVED,
                           f"answered HTTP {failure.status} on {runs} runs in a row",
                           old=SnapshotRef.STORED)
    return FailureDecision(Counts(checked=counts.checked, errors=1, changed=1), runs, removal)


# -- the end of a source's run --------------------------------------------------------


def classify_listing(listing: Listing, active: Sequence[tuple[int, str]],
                     suspects: Mapping[str, int], alerts: AlertsConfig) -> ListingDecision:
    """Which of the ``active`` pages (id, URL) the index no longer lists, unless the
    index suddenly lists far fewer pages than are known: a probable breakage, not a
    purge, until the shorter index is seen on ``confirm_runs`` runs in a row.

    ``suspects`` holds the index suspicions so far (runs by scope)."""
    # By identity: a page not fetched since a move still has its old URL.
    scope, listed = url_key(listing.scope), {url_key(u) for u in listing.urls}
    in_scope = [(page_id, url) for page_id, url in active if url_key(url).startswith(scope)]
    known = len(in_scope)
    remaining = {k: v for k, v in suspects.items() if k != listing.scope}
    if known >= MIN_INDEX_SIZE and len(listing.urls) < alerts.index_shrink_ratio * known:
        runs = suspects.get(listing.scope, 0) + 1
        if runs < alerts.confirm_runs:
            error = (f"probable breakage: the package index lists {len(listing.urls)} pages "
                     f"where {known} were known; no page is reported removed (run {runs} of "
                     f"{alerts.confirm_runs} before the shorter index is accepted)")
            return ListingDecision({**suspects, listing.scope: runs}, error, (),
                                   Counts(errors=1))
    removed = tuple(page_id for page_id, url in in_scope if url_key(url) not in listed)
    return ListingDecision(remaining, None, removed, Counts(changed=len(removed)))


def baseline_recorded(checked: int, errors: int) -> bool:
    """Whether a source's first run recorded its baseline (something was fetched)."""
    return checked > errors


def next_streak(failing_runs: int, failing_since: dt.date | None, checked: int, errors: int,
                run_date: dt.date | None) -> Streak:
    """Count the runs in which nothing of a source could be fetched; a run that fetched
    something ends the streak (and says how long it was)."""
    if nothing_fetched(checked, errors):
        return Streak(failing_runs + 1, failing_since or run_date, 0)
    return Streak(0, None, failing_runs)
