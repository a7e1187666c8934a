"""The stored facts some analysers need, read from the database into typed values.

The only module of :mod:`crawler.analysis` that reads the database: docs findings are
worked out (by :mod:`crawler.analysis.findings`) from what :func:`docs_facts` returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crawler.analysis.drift import Keys, changes_between, code_lines, still_shown
from crawler.analysis.facts import DocsFacts, LastTaught, PageNotice, SnippetChange
from crawler.hexdocs import package_of
from crawler.notices import Notice
from crawler.store.models import Page, Snapshot
from crawler.types import Item, PageStatus, TermKind
from crawler.vocab import Term, is_changelog, parse_vocabulary

# Kinds whose disappearance from every page is evidence of removal: the docs list
# every binding and every task, so one that vanishes is gone from the API.
DISAPPEARING_KINDS = frozenset({TermKind.ATTRIBUTE, TermKind.MIX_TASK})
# Rows fetched at a time when scanning snapshots (their terms, or their whole texts).
TERMS_BATCH = 1000
TEXTS_BATCH = 50
# The earlier contents of a page compared with its latest for snippet drift, newest
# first: a line changed by one edit stays changed through the next few edits of the page.
MAX_EARLIER = 8

T = TypeVar("T")


def docs_facts(engine: Engine) -> DocsFacts:
    """The notices of every current page (pages by URL), the terms the docs stopped
    teaching, and the code lines they changed (with the code they show now)."""
    notices: list[PageNotice] = []
    current_terms: set[str] = set()
    taught: dict[str, set[str]] = {}
    guides: dict[str, set[str]] = {}
    with Session(engine) as session:
        # By URL: the order pages were first stored in is the order they were fetched,
        # and the first notice of a term is the one a report cites.
        latest = session.execute(
            select(Page.url, Snapshot.title, Snapshot.notices, Snapshot.terms)
            .join(Snapshot, Snapshot.id == Page.latest_snapshot_id)
            .where(Page.status == PageStatus.ACTIVE, Page.item == Item.PAGE)
            .order_by(Page.url)
            .execution_options(yield_per=TERMS_BATCH))
        for url, title, page_notices, terms in latest:
            current_terms.update(terms or [])
            notices.extend(PageNotice(url, Notice.from_dict(raw)) for raw in page_notices or [])
            if (package := package_of(url)) is not None:
                taught.setdefault(package, set()).update(terms or [])
                if not is_changelog(url, title or ""):
                    guides.setdefault(package, set()).update(terms or [])
        gone = []
        for term, snapshot_id in gone_terms(session, current_terms).items():
            last = session.get_one(Snapshot, snapshot_id)
            page = session.get_one(Page, last.page_id)
            gone.append(LastTaught(term, page.url, page.title, last.content))
        snippets, current_code = snippet_facts(session)
    return DocsFacts(tuple(notices), tuple(gone), _frozen(taught), _frozen(guides),
                     snippets, current_code)


def _frozen(by_package: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    return {package: frozenset(terms) for package, terms in by_package.items()}


def snippet_facts(session: Session) -> tuple[tuple[SnippetChange, ...], frozenset[str]]:
    """The code lines that the current pages' earlier snapshots show and their latest
    no longer does (pages by URL; each page compared with its ``MAX_EARLIER`` newest
    earlier contents, the newest first), and the keys of those lines that some current
    page still shows (:func:`crawler.analysis.drift.still_shown`).

    Changelogs are not compared: their old code leaves with the old releases they
    drop, it does not change. Texts are read a batch of pages at a time; only the
    pages with earlier contents are compared, then every current page is read once
    for the lines still shown.
    """
    changes: list[SnippetChange] = []
    for batch in _batches(_histories(session), TEXTS_BATCH):
        ids = [i for history in batch for i in (history.latest, *history.earlier)]
        texts = {snapshot_id: text for snapshot_id, text in session.execute(
            select(Snapshot.id, Snapshot.content).where(Snapshot.id.in_(ids)))}
        for history in batch:
            keys = Keys()  # the page's snapshots share most of their lines
            latest = code_lines(texts.pop(history.latest))
            seen: set[str] = set()
            for snapshot_id in history.earlier:
                for change in changes_between(history.url,
                                              code_lines(texts.pop(snapshot_id)),
                                              latest, keys):
                    if change.old not in seen:  # changed again since: cited once
                        seen.add(change.old)
                        changes.append(change)
    if not changes:
        return (), frozenset()
    current = session.scalars(
        select(Snapshot.content).join(Page, Page.latest_snapshot_id == Snapshot.id)
        .where(Page.status == PageStatus.ACTIVE, Page.item == Item.PAGE)
        .execution_options(yield_per=TEXTS_BATCH))
    return tuple(changes), frozenset(still_shown(current, changes))


@dataclass(frozen=True)
class _History:
    """A current page with earlier contents: its latest snapshot and earlier ones."""

    url: str
    latest: int
    earlier: tuple[int, ...]


def _histories(session: Session) -> list[_History]:
    """Every current page but a changelog that has earlier contents, by URL, with the
    ids of up to ``MAX_EARLIER`` earlier snapshots of distinct contents (none the
    latest's), the newest first."""
    pages: dict[int, tuple[str, int, list[int], set[str]]] = {}
    rows = session.execute(
        select(Snapshot.page_id, Snapshot.id, Snapshot.content_hash,
               Page.latest_snapshot_id, Page.url, Page.title)
        .join(Page, Page.id == Snapshot.page_id)
        .where(Page.status == PageStatus.ACTIVE, Page.item == Item.PAGE)
        .order_by(Snapshot.page_id, Snapshot.id.desc())
        .execution_options(yield_per=TERMS_BATCH))
    latest_hash: dict[int, str] = {}
    for page_id, snapshot_id, content_hash, latest_id, url, title in rows:
        # Newest first: a page's latest comes before its earlier snapshots.
        if latest_id is None:
            continue
        if snapshot_id == latest_id:
            latest_hash[page_id] = content_hash
            continue
        if snapshot_id > latest_id or content_hash == latest_hash.get(page_id) \
                or is_changelog(url, title):
            continue
        _, _, earlier, hashes = pages.setdefault(page_id, (url, latest_id, [], set()))
        if content_hash not in hashes and len(earlier) < MAX_EARLIER:
            hashes.add(content_hash)
            earlier.append(snapshot_id)
    return sorted((_History(url, latest, tuple(earlier))
                   for url, latest, earlier, _ in pages.values()), key=lambda h: h.url)


def _batches(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """``rows`` in lists of ``size`` (the last may be shorter)."""
    batch: list[T] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def gone_terms(session: Session, current_terms: set[str] | None = None) -> dict[Term, int]:
    """Attributes and mix tasks the docs taught once and mention nowhere now, each with
    the last snapshot that taught it: the evidence ``docwatch prune`` must keep.

    The last is a page of the latest run that taught it: a guide rather than a changelog
    (which reports a term, where a guide teaches it), the one that mentions it most (the
    page about it, rather than one that names it in passing), then the first by URL: the
    evidence does not depend on the order pages were fetched in.
    """
    if current_terms is None:
        current_terms = set()
        for terms in session.scalars(
                select(Snapshot.terms).join(Page, Page.latest_snapshot_id == Snapshot.id)
                .where(Page.status == PageStatus.ACTIVE, Page.item == Item.PAGE)):
            current_terms.update(terms or [])
    # term: (the latest run that taught it, the pages of that run that did)
    taught: dict[str, tuple[int, list[_Teacher]]] = {}
    for snapshot_id, run_id, url, title, terms in session.execute(
            select(Snapshot.id, Snapshot.run_id, Page.url, Snapshot.title, Snapshot.terms)
            .join(Page, Page.id == Snapshot.page_id).execution_options(yield_per=TERMS_BATCH)):
        for term in terms or []:
            if term.split(":", 1)[0] in DISAPPEARING_KINDS and term not in current_terms:
                last = taught.get(term)
                teacher = _Teacher(url, snapshot_id, is_changelog(url, title))
                if last is None or run_id > last[0]:
                    taught[term] = (run_id, [teacher])
                elif run_id == last[0]:
                    last[1].append(teacher)
    if not taught:
        return {}
    candidates = parse_vocabulary(sorted(taught))
    still_there = _still_mentioned(session, candidates)
    return {term: _most_taught_by(session, term, taught[f"{term.kind}:{term.text}"][1])
            for term in candidates
            if term not in still_there}  # still there (in code, or outside prose): not gone


@dataclass(frozen=True)
class _Teacher:
    """A snapshot that taught a term."""

    url: str
    snapshot_id: int
    changelog: bool


def _most_taught_by(session: Session, term: Term, pages: list[_Teacher]) -> int:
    """The snapshot among ``pages`` that teaches ``term`` best (see :func:`gone_terms`)."""
    if len(pages) == 1:
        return pages[0].snapshot_id
    pattern = term.pattern()
    texts = dict(session.execute(select(Snapshot.id, Snapshot.content)
                                 .where(Snapshot.id.in_([p.snapshot_id for p in pages]))).all())
    counts = {p.snapshot_id: len(pattern.findall(texts.get(p.snapshot_id) or ""))
              for p in pages}
    return min(pages, key=lambda p: (p.changelog, -counts[p.snapshot_id], p.url)).snapshot_id


def _still_mentioned(session: Session, terms: list[Term]) -> set[Term]:
    """The ``terms`` that some current page still mentions, anywhere in its text.

    Pages are read a batch at a time, and a term's pattern only runs on a page that
    holds its literal text; the scan stops once every term has been seen. Searching
    page by page finds what a search of all pages joined by newlines finds: a match
    never spans a newline, and the look-arounds of attribute and mix-task patterns
    (DISAPPEARING_KINDS) treat a newline and the end of the text alike.
    """
    unseen = {term: (term.literal(), term.pattern()) for term in terms}
    seen: set[Term] = set()
    texts = session.scalars(
        select(Snapshot.content).join(Page, Page.latest_snapshot_id == Snapshot.id)
        .where(Page.status == PageStatus.ACTIVE, Page.item == Item.PAGE)
        .execution_options(yield_per=TEXTS_BATCH))
    try:
        for text in texts:
            found = [term for term, (literal, pattern) in unseen.items()
                     if literal in text and pattern.search(text)]
            for term in found:
                del unseen[term]
                seen.add(term)
            if not unseen:
                break
    finally:
        texts.close()
    return seen
