"""The stored facts some analysers need, read from the database into typed values.

The only module of :mod:`crawler.analysis` that reads the database: docs findings are
worked out (by :mod:`crawler.analysis.findings`) from what :func:`docs_facts` returns.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, SQLColumnExpression, and_, func, or_, select
from sqlalchemy.orm import Session

from crawler.analysis import gone
from crawler.analysis.decisions import SkillCheckFact, StaleKey
from crawler.analysis.drift import Keys, changes_between, code_lines, still_shown
from crawler.analysis.facts import DocsFacts, LastTaught, PageNotice, SnippetChange
from crawler.analysis.findings import FirstNotices
from crawler.analysis.proposals import OpenGap
from crawler.hexdocs import package_of, url_forms
from crawler.notices import GRAMMAR, Notice
from crawler.store import analysis_cache
from crawler.store.gap_records import gap_of
from crawler.store.models import (
    GapRecord,
    Page,
    Run,
    SkillCheck,
    Snapshot,
    SourceState,
    url_bytes,
)
from crawler.types import Item, NoticeDict, PageStatus, RunStatus, TermKind
from crawler.vocab import Term, is_changelog

# A page the docs hold now: still listed, and a page (not a post or a release).
CURRENT_PAGE = and_(Page.status == PageStatus.ACTIVE, Page.item == Item.PAGE)
# Rows fetched at a time when scanning snapshots (their terms, or their whole texts).
TERMS_BATCH = 1000
TEXTS_BATCH = 50
# Snapshot ids per query when reading the texts of some snapshots.
IDS_BATCH = 500
# The earlier contents of a page compared with its latest for snippet drift, newest
# first: a line changed by one edit stays changed through the next few edits of the page.
MAX_EARLIER = 8

T = TypeVar("T")


def docs_facts(engine: Engine, watched: Collection[str] | None = None) -> DocsFacts:
    """The notices of every current page (pages by URL), the terms the docs stopped
    teaching (:mod:`crawler.analysis.gone`), and the code lines they changed (with the
    code they show now). ``watched``: the sources of the config (a package of any other
    source is not crawled any more: it retires nothing); None for every source the
    database knows.

    The terms and the code lines are read back from the last report when its pages were
    these (:mod:`crawler.store.analysis_cache`), else worked out and kept for the next.
    """
    worked: dict[str, Any] = {}
    with Session(engine) as session:
        # The pages are digested before anything is read: a run writing meanwhile moves
        # them on, and a value worked out from a mix is then not kept (see below).
        pages = analysis_cache.pages_digest(session)
        inputs = {GONE_ENTRY: _inputs(pages, GONE_ENTRY,
                                      None if watched is None else sorted(set(watched))),
                  SNIPPETS_ENTRY: _inputs(pages, SNIPPETS_ENTRY)}
        cached = {name: analysis_cache.read(session, name, digest)
                  for name, digest in inputs.items()}
        current = _Current(watched, vocabulary=cached[GONE_ENTRY] is None)
        notices = _Notices(_split_packages(session), current.guides)
        # By URL: the order pages were first stored in is the order they were fetched,
        # and the first notice of a term is the one a report cites.
        for url, title, source, seen, last, page_notices, terms in session.execute(
                _current_pages(Page.url, Snapshot.title, Page.source, Page.last_seen_run_id,
                               SourceState.last_run_id, Snapshot.notices, Snapshot.terms)
                .order_by(_by_url(session)).execution_options(yield_per=TERMS_BATCH)):
            current.add(url, source, seen is not None and seen == last, terms,
                        is_changelog(url, title or ""))
            notices.add(url, page_notices or [])
        current.end_package()
        if (kept := cached[GONE_ENTRY]) is not None:
            terms, usages = _gone_of(kept)
        else:
            terms, usages = _gone(session, current.docs(session))
            worked[GONE_ENTRY] = _gone_value(terms, usages)
        found = []
        for term, snapshot_id, notice in (*terms, *usages):
            last_taught = session.get_one(Snapshot, snapshot_id)
            page = session.get_one(Page, last_taught.page_id)
            found.append(LastTaught(term, page.url, page.title, last_taught.content,
                                    Notice.from_dict(notice) if notice else None))
        if (kept := cached[SNIPPETS_ENTRY]) is not None:
            snippets, current_code = _snippets_of(kept)
        else:
            snippets, current_code = snippet_facts(session)
            worked[SNIPPETS_ENTRY] = _snippets_value(snippets, current_code)
        moved = bool(worked) and analysis_cache.pages_digest(session) != pages
    for name, value in worked.items() if not moved else ():
        analysis_cache.store(engine, name, inputs[name], value)
    return DocsFacts(notices.first(), tuple(found), current.taught, current.guides,
                     snippets, current_code)


# The entries of the analysis cache, and the modules whose code works them out: a
# docwatch whose code differs reads back nothing another one kept.
GONE_ENTRY = "gone"
SNIPPETS_ENTRY = "snippets"
ANALYSIS_MODULES = ("crawler.analysis.queries", "crawler.analysis.gone",
                    "crawler.analysis.drift", "crawler.analysis.facts", "crawler.vocab",
                    "crawler.hexdocs", "crawler.diff", "crawler.types",
                    "crawler.store.analysis_cache")


def _inputs(pages: str, name: str, *parameters: Any) -> str:
    """The digest of what the entry ``name`` is worked out from: the pages, the code,
    the grammar the stored notices were read with, and its own ``parameters``."""
    return analysis_cache.inputs_digest(name, pages, analysis_cache.code_digest(
        ANALYSIS_MODULES), GRAMMAR, *parameters)


def _gone_value(terms: _Gone, usages: _Gone) -> dict[str, Any]:
    """What :func:`_gone` found, as the JSON the cache keeps."""
    return {kind: [[term.text, str(term.kind), snapshot, notice]
                   for term, snapshot, notice in found]
            for kind, found in (("terms", terms), ("usages", usages))}


def _gone_of(value: dict[str, Any]) -> tuple[_Gone, _Gone]:
    """:func:`_gone`'s terms and usages back from :func:`_gone_value`."""
    terms, usages = ([(Term(text, TermKind(kind)), snapshot, notice)
                      for text, kind, snapshot, notice in value[part]]
                     for part in ("terms", "usages"))
    return terms, usages


def _snippets_value(changes: tuple[SnippetChange, ...], current: frozenset[str]
                    ) -> dict[str, Any]:
    """What :func:`snippet_facts` found, as the JSON the cache keeps."""
    return {"changes": [[c.url, c.section, c.old, c.new, c.hunk] for c in changes],
            "current": sorted(current)}


def _snippets_of(value: dict[str, Any]) -> tuple[tuple[SnippetChange, ...], frozenset[str]]:
    """:func:`snippet_facts`' changes and code still shown back from
    :func:`_snippets_value`."""
    return (tuple(SnippetChange(*change) for change in value["changes"]),
            frozenset(value["current"]))


def _one_of(value: T, held: dict[T, T]) -> T:
    """``value``, or the equal one already ``held``."""
    return held.setdefault(value, value)


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
        .where(CURRENT_PAGE)
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
        .where(CURRENT_PAGE)
        .order_by(Snapshot.page_id, Snapshot.id.desc())
        .execution_options(yield_per=TERMS_BATCH))
    # A page's rows come together, newest first: its latest snapshot before its earlier
    # ones. Only the page being read has its latest's hash held.
    page_read, latest_hash = None, None
    for page_id, snapshot_id, content_hash, latest_id, url, title in rows:
        if latest_id is None:
            continue
        if page_id != page_read:
            page_read, latest_hash = page_id, None
        if snapshot_id == latest_id:
            latest_hash = content_hash
            continue
        if snapshot_id > latest_id or content_hash == latest_hash or is_changelog(url, title):
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


def gone_terms(session: Session, current: gone.CurrentDocs | None = None,
               crawled_only: bool = True) -> dict[Term, int]:
    """The terms the docs taught once and mention nowhere now, each with the snapshot
    that is its evidence (see :func:`_gone`): what ``docwatch prune`` must keep."""
    terms, usages = _gone(session, current, crawled_only)
    out = {term: snapshot for term, snapshot, _ in terms}
    for term, snapshot, _ in usages:
        out.setdefault(term, snapshot)
    return out


_Gone = list[tuple[Term, int, NoticeDict | None]]


def _gone(session: Session, current: gone.CurrentDocs | None = None,
          crawled_only: bool = True) -> tuple[_Gone, _Gone]:
    """The terms the docs taught once and mention nowhere now
    (:func:`crawler.analysis.gone.gone_terms`), each with the snapshot that is its
    evidence and the notice that retired it (None: only taught); and the retired usages
    the docs stopped showing (:func:`crawler.analysis.gone.carried`), each with the
    snapshot of its notice.

    ``crawled_only=False`` also keeps the terms of packages that the latest run of
    their source did not fetch, so that a failing crawl does not cost their evidence.
    The history is read a batch at a time, vocabularies and notices only; texts are
    read for the current pages (until every term is seen) and for the few snapshots
    that taught a term no current text mentions.
    """
    if current is None:
        reader = _Current(None)
        for url, source, seen, last, terms in session.execute(
                _current_pages(Page.url, Page.source, Page.last_seen_run_id,
                               SourceState.last_run_id, Snapshot.terms)
                .execution_options(yield_per=TERMS_BATCH)):
            reader.add(url, source, seen is not None and seen == last, terms)
        current = reader.docs(session)
    taught = gone.Taught(current)
    for snapshot_id, run_id, url, title, source, status, terms, notices in session.execute(
            select(Snapshot.id, Snapshot.run_id, Page.url, Snapshot.title, Page.source,
                   Page.status, Snapshot.terms, Snapshot.notices)
            .join(Page, Page.id == Snapshot.page_id).where(Page.item == Item.PAGE)
            .execution_options(yield_per=TERMS_BATCH)):
        if terms or notices:
            taught.add(terms or [], gone.Teacher(snapshot_id, run_id, url, title,
                                                 gone.package_key(url, source),
                                                 status == PageStatus.ACTIVE),
                       gone.announced(notices or []), gone.retired_usages(notices or []))

    def mentioned(terms: list[Term], retired: frozenset[Term]) -> set[Term]:
        return _still_mentioned(session, terms, retired)

    found = gone.gone_terms(taught, mentioned, lambda ids: _texts(session, ids),
                            crawled_only=crawled_only)
    usages = gone.carried(taught, mentioned, crawled_only=crawled_only)
    return ([(term, teacher.snapshot, taught.notice_of(term)) for term, teacher in found.items()],
            [(gone.usage_probe(notice), teacher.snapshot, notice) for teacher, notice in usages])


class _Current:
    """:class:`~crawler.analysis.gone.CurrentDocs` gathered from the current pages."""

    def __init__(self, watched: Collection[str] | None, vocabulary: bool = True):
        self.watched = None if watched is None else frozenset(watched)
        # Every entry the current pages teach, expanded (gone.expand): only what the
        # terms gone are worked out from needs it, not a report that reads them back.
        self.expands = vocabulary
        self.vocabulary: set[str] = set()
        self.packages: dict[str, bool] = {}
        # A hexdocs package's vocabulary: of all its current pages, and of its guides;
        # frozen as its pages end (they come by URL: a package's pages are together),
        # packages that teach the same terms sharing one set.
        self.taught: dict[str, frozenset[str]] = {}
        self.guides: dict[str, frozenset[str]] = {}
        self._shared: dict[frozenset[str], frozenset[str]] = {}
        self._package: str | None = None
        self._taught: set[str] = set()
        self._guides: set[str] = set()
        self._has_guide = False

    def add(self, url: str, source: str, seen_last_run: bool, terms: list[str] | None,
            changelog: bool = False) -> None:
        """A current page: fetched by its source's latest run or not, and its terms."""
        # Interned: every page's vocabulary is decoded anew, and the packages' sets
        # held for the whole report share most of their terms (mix, conn, :ok, ...).
        terms = [sys.intern(term) for term in terms or []]
        if self.expands:
            self.vocabulary.update(gone.expand(terms, url))
        if (hexdocs := package_of(url)) is not None:
            if hexdocs != self._package:
                self.end_package()
                self._package = hexdocs
            self._taught.update(terms)
            if not changelog:
                self._guides.update(terms)
                self._has_guide = True
        package = gone.package_key(url, source)
        crawled = seen_last_run and (self.watched is None or source in self.watched)
        self.packages[package] = self.packages.get(package, False) or crawled

    def end_package(self) -> None:
        """Freeze the vocabularies of the package whose pages just ended (added to what
        an earlier run of its pages taught, when they were not all together)."""
        if self._package is None:
            return
        self._freeze(self.taught, self._taught)
        if self._has_guide:
            self._freeze(self.guides, self._guides)
        self._taught, self._guides = set(), set()
        self._package, self._has_guide = None, False

    def _freeze(self, frozen: dict[str, frozenset[str]], terms: set[str]) -> None:
        assert self._package is not None
        earlier = frozen.get(self._package, frozenset())
        frozen[self._package] = _one_of(earlier | terms, self._shared)

    def docs(self, session: Session) -> gone.CurrentDocs:
        """The current docs, with the module pages of every package (pages, not texts)."""
        documented: dict[str, set[str]] = {}
        for url, source in session.execute(select(Page.url, Page.source)
                                           .where(Page.item == Item.PAGE)
                                           .execution_options(yield_per=TERMS_BATCH)):
            module = gone.page_module(url)
            if module:
                documented.setdefault(gone.package_key(url, source), set()).add(module)
        return gone.CurrentDocs(frozenset(self.vocabulary),
                                dict(self.packages),
                                {p: frozenset(m) for p, m in documented.items()})


class _Notices:
    """The notices of the current pages, read in URL order and handed to
    :class:`~crawler.analysis.findings.FirstNotices` a package at a time: once the
    next package's pages begin (its guides' vocabulary, ``guides``, is then whole), or
    at the end for a package whose pages are not all together (``split``, see
    :func:`_split_packages`). Pages of no package are handed over as they come. Only
    the first notices are held past their package."""

    def __init__(self, split: frozenset[str], guides: Mapping[str, frozenset[str]]):
        self.split = split
        self.guides = guides
        self._first = FirstNotices()
        self._held: dict[str, list[tuple[int, PageNotice]]] = {}
        self._read: dict[Notice, Notice] = {}  # pages repeat notices: each is held once
        self._package: str | None = None
        self._place = 0

    def add(self, url: str, stored: list[NoticeDict]) -> None:
        """The stored notices of the current page at ``url`` (pages in URL order)."""
        package = package_of(url)
        if package is not None and package != self._package:
            self._hand_over(self._package)
            self._package = package
        found = [(self._place + i, PageNotice(url, _one_of(Notice.from_dict(raw), self._read)))
                 for i, raw in enumerate(stored)]
        self._place += len(found)
        if package is None:
            self._first.add(found)
        elif found:
            self._held.setdefault(package, []).extend(found)

    def first(self) -> tuple[PageNotice, ...]:
        """The first notices (:class:`~crawler.analysis.findings.FirstNotices`) of
        every page read."""
        for package in list(self._held):
            self._hand_over(package, whole=True)
        return self._first.notices()

    def _hand_over(self, package: str | None, whole: bool = False) -> None:
        """Judge the notices held of ``package`` (``whole``: all its pages are read)."""
        if package in self._held and (whole or package not in self.split):
            self._first.add(self._held.pop(package), self.guides.get(package, frozenset()))


def _split_packages(session: Session) -> frozenset[str]:
    """The hexdocs packages whose current pages are not all together in URL order
    (some in each URL form, while the site moves); pages of no package in between do
    not part them."""
    seen: set[str] = set()
    split: set[str] = set()
    last: str | None = None
    # The current pages of _current_pages, in its order, without reading a snapshot.
    for (url,) in session.execute(
            select(Page.url).where(CURRENT_PAGE, Page.latest_snapshot_id.is_not(None))
            .order_by(_by_url(session)).execution_options(yield_per=TERMS_BATCH)):
        package = package_of(url)
        if package is not None and package != last:
            if package in seen:
                split.add(package)
            seen.add(package)
            last = package
    return frozenset(split)


def _by_url(session: Session) -> SQLColumnExpression[str]:
    """The order of the scans by URL, byte by byte on every database: one package's
    pages come together, and the first notice of a term is the same one everywhere."""
    return url_bytes(session.get_bind().dialect.name)


def _current_pages(*columns: Any) -> Select[Any]:
    """``columns`` of every current page with its latest snapshot (and its source)."""
    return (select(*columns).join(Snapshot, Snapshot.id == Page.latest_snapshot_id)
            .outerjoin(SourceState, SourceState.name == Page.source)
            .where(CURRENT_PAGE))


def _still_mentioned(session: Session, terms: list[Term],
                     retired: frozenset[Term] = frozenset()) -> set[Term]:
    """The ``terms`` some current page still mentions (a changelog's mention does not
    count for the ``retired`` ones), its texts read a batch at a time (the scan stops
    once every term has been seen)."""
    texts = session.execute(
        select(Page.url, Snapshot.title, Snapshot.content)
        .join(Page, Page.latest_snapshot_id == Snapshot.id)
        .where(CURRENT_PAGE)
        .execution_options(yield_per=TEXTS_BATCH))
    try:
        return gone.still_mentioned(((gone.page_module(url), text,
                                      is_changelog(url, title or ""))
                                     for url, title, text in texts), terms, retired)
    finally:
        texts.close()


def _texts(session: Session, ids: list[int]) -> Iterator[tuple[int, str]]:
    """The texts of the snapshots ``ids``, a batch at a time."""
    for start in range(0, len(ids), IDS_BATCH):
        chunk = ids[start:start + IDS_BATCH]
        rows = session.execute(select(Snapshot.id, Snapshot.content)
                               .where(Snapshot.id.in_(chunk))
                               .execution_options(yield_per=TEXTS_BATCH))
        yield from ((snapshot_id, content) for snapshot_id, content in rows)


def page_texts(engine: Engine, urls: Collection[str]) -> dict[str, str]:
    """The latest text of each current page among ``urls`` (either hexdocs form of a URL
    finds the page), by the URL asked for."""
    wanted = {form: url for url in urls for form in url_forms(url)}
    if not wanted:
        return {}
    with Session(engine) as session:
        rows = session.execute(
            select(Page.url, Snapshot.content)
            .join(Snapshot, Snapshot.id == Page.latest_snapshot_id)
            .where(Page.url.in_(list(wanted)), Page.status == PageStatus.ACTIVE))
        return {wanted[url]: content or "" for url, content in rows}


def sidebar_groups(engine: Engine, places: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The sidebar group of every current page in the same group as one of ``places``
    (a folder URL ending in ``/``, a group) and under its folder, by URL: what the
    closest skill of a change or a gap is worked out from
    (:func:`crawler.analysis.gaps.closest_skill`). The pages are scanned, not held: a
    night of a few changes holds a few groups, not every page of every package."""
    folders: dict[str, set[str]] = {}
    for folder, group in places:
        folders.setdefault(group, set()).add(folder)
    out: dict[str, str] = {}
    if not folders:
        return out
    with Session(engine) as session:
        rows = session.execute(
            select(Page.url, Page.group)
            .where(CURRENT_PAGE,
                   Page.group.in_(list(folders)))
            .execution_options(yield_per=TERMS_BATCH))
        for url, group in rows:
            wanted = folders[group]
            if any(url[:i + 1] in wanted for i, ch in enumerate(url) if ch == "/"):
                out[url] = group
    return out


# How many earlier checks of a skill are read to date its open stale lines.
CHECK_HISTORY = 60


def past_skill_checks(engine: Engine, before: dt.date,
                      skills: Iterable[str]) -> dict[str, list[SkillCheckFact]]:
    """The checks of each of ``skills`` by reports of dates before ``before``, newest
    first (at most ``CHECK_HISTORY`` of them: one indexed read per skill, whatever the
    length of the history)."""
    out: dict[str, list[SkillCheckFact]] = {}
    with Session(engine) as session:
        for skill in dict.fromkeys(skills):
            rows = session.execute(
                select(SkillCheck.run_date, SkillCheck.digest, SkillCheck.stale,
                       SkillCheck.checked_at)
                .where(SkillCheck.skill == skill, SkillCheck.run_date < before)
                .order_by(SkillCheck.run_date.desc()).limit(CHECK_HISTORY)).all()
            if rows:
                out[skill] = [SkillCheckFact(skill, date, digest, tuple(
                    StaleKey(term, text, line) for line, term, text in stale or []),
                    checked_at) for date, digest, stale, checked_at in rows]
    return out


def earlier_open_gaps(engine: Engine, before: dt.date) -> tuple[OpenGap, ...]:
    """The gaps reports of dates before ``before`` listed and no skill covered by then,
    oldest first."""
    with Session(engine) as session:
        rows = session.scalars(
            select(GapRecord).where(GapRecord.first_seen < before,
                                    or_(GapRecord.covered_on.is_(None),
                                        GapRecord.covered_on >= before))
            .order_by(GapRecord.first_seen, GapRecord.id))
        return tuple(OpenGap(gap_of(row), row.first_seen) for row in rows)


def previous_report_date(engine: Engine, before: dt.date) -> dt.date | None:
    """The date of the latest report before ``before``: of the latest run before it that
    was not aborted. None when no earlier report recorded anything for the next (skill
    checks, gaps): a database older than those records has no report to compare with."""
    with Session(engine) as session:
        recorded = (session.scalar(select(SkillCheck.id).where(SkillCheck.run_date < before)
                                   .limit(1))
                    or session.scalar(select(GapRecord.id)
                                      .where(GapRecord.first_seen < before).limit(1)))
        if recorded is None:
            return None
        return session.scalar(select(func.max(Run.run_date)).where(
            Run.run_date < before, Run.status != RunStatus.ABORTED))
