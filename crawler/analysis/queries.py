"""The stored facts some analysers need, read from the database into typed values.

The only module of :mod:`crawler.analysis` that reads the database: docs findings are
worked out (by :mod:`crawler.analysis.findings`) from what :func:`docs_facts` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crawler.analysis.facts import DocsFacts, LastTaught, PageNotice
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


def docs_facts(engine: Engine) -> DocsFacts:
    """The notices of every current page (pages by URL), and the terms the docs stopped
    teaching."""
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
    return DocsFacts(tuple(notices), tuple(gone), _frozen(taught), _frozen(guides))


def _frozen(by_package: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    return {package: frozenset(terms) for package, terms in by_package.items()}


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
