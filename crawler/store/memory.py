"""What the store remembers of one source between runs: read as its run starts, or a
target at a time as the crawl reaches it.

The sources ask it while they crawl (the validators to send, whether a page is known,
an item's facts, the source's own state), and the recorder keeps it in step with what
it writes (a page renamed by a hexdocs move, the source's state saved at the end).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, and_, select
from sqlalchemy.orm import Session

from crawler.classify import KnownPage
from crawler.hexdocs import url_forms, url_key
from crawler.http import Validators
from crawler.store.models import Page, SourceState, url_bytes
from crawler.store.runs import taken_over
from crawler.types import ItemMeta, PageStatus


@dataclass
class Held:
    """What reading one identity brought into a source's memory, handed back together."""

    pages: list[str] = field(default_factory=list)  # page identities (url_key)
    validators: list[str] = field(default_factory=list)  # their keys
    added: list[str] = field(default_factory=list)  # URLs of pages this run added there


@dataclass
class SourceMemory:
    """One source's stored memory, as of the start of its run.

    A small source is read whole as its run starts (``scopes`` None). A source of many
    package roots is read a target at a time (:meth:`read_target`) as the crawl reaches
    the target, and handed back when the target is done (:meth:`release`): its memory
    stays that of the targets in flight, whatever their number. A page outside every
    target read so far is read on its own, so a lookup is never mistaken for a new page.
    """

    # No baseline recorded yet (or only by a killed run this run reports for): this run
    # records it, and reports no page as new.
    baseline: bool = True
    # Validators of the active pages' fetched URLs, by identity (hexdocs.url_key):
    # those remembered under one form of a hexdocs URL are sent to the other (the same
    # bytes at the new place still answer 304).
    validators: dict[str, Validators] = field(default_factory=dict)
    # The stored pages' ids by URL, whatever their status.
    page_ids: dict[str, int] = field(default_factory=dict)
    # The stored pages' URLs by identity: a page met under the other form of its URL
    # is the same page, renamed (see :meth:`adopt`).
    urls_by_key: dict[str, str] = field(default_factory=dict)
    # The active pages by URL: the item's facts, its redirect, its other validators.
    known: dict[str, KnownPage] = field(default_factory=dict)
    # The source's own memory (e.g. the hex.pm cache); the source updates it while it
    # crawls, the recorder saves it when the source finishes.
    state: dict[str, Any] = field(default_factory=dict)
    # Indexes that suddenly listed far fewer pages: runs in a row, by scope.
    index_suspects: dict[str, int] = field(default_factory=dict)
    # URLs of the pages this run added (not in ``page_ids`` until the next run).
    added: set[str] = field(default_factory=set)
    # None: every page was read at the start. Else what was read so far, by identity:
    # targets (every page under the URL) and single pages.
    scopes: dict[str, Held] | None = None
    singles: dict[str, Held] = field(default_factory=dict)

    def covers(self, url: str) -> bool:
        """Whether the memory of ``url``'s page was read (if it is stored at all)."""
        return self.scopes is None or self._holder(url) is not None

    def _holder(self, url: str) -> Held | None:
        assert self.scopes is not None
        key = url_key(url)
        if (single := self.singles.get(key)) is not None:
            return single
        for index in range(len(key) - 1, -1, -1):
            if key[index] == "/" and (held := self.scopes.get(key[: index + 1])) is not None:
                return held
        return None

    def read_target(self, session: Session, source: str, target: str) -> None:
        """Read the pages under ``target`` (either form of a hexdocs URL), unless they
        are in memory already."""
        if self.covers(target):
            return
        assert self.scopes is not None
        held = self.scopes[url_key(target)] = Held()
        session.flush()  # this run's pages too
        self._add(rows_under(session, _PAGE_COLUMNS.where(Page.source == source), target),
                  held)

    def read_page(self, session: Session, source: str, url: str) -> None:
        """Read the page at ``url`` (either form), unless it is in memory already."""
        if self.covers(url):
            return
        held = self.singles[url_key(url)] = Held()
        session.flush()
        self._add(session.execute(_PAGE_COLUMNS.where(
            Page.source == source, Page.url.in_(url_forms(url)))), held)

    def release(self, target: str) -> None:
        """Hand back the memory read for ``target`` and for single pages (read again
        when asked again)."""
        if self.scopes is None:
            return
        prefix = url_key(target)
        done = [self.scopes.pop(key) for key in [k for k in self.scopes
                                                 if k.startswith(prefix)]]
        done.extend(self.singles.values())
        self.singles = {}
        for held in done:
            for key in held.pages:
                url = self.urls_by_key.pop(key, None)
                if url is not None:
                    self.page_ids.pop(url, None)
                    self.known.pop(url, None)
            for key in held.validators:
                self.validators.pop(key, None)
            self.added.difference_update(held.added)

    def add_page(self, url: str) -> None:
        """This run added the page at ``url``."""
        self.added.add(url)
        if self.scopes is not None and (held := self._holder(url)) is not None:
            held.added.append(url)

    def stored_url(self, url: str) -> str:
        """The URL ``url``'s page is stored under (the other hexdocs form, before a move)."""
        return url if url in self.page_ids else self.urls_by_key.get(url_key(url), url)

    def adopt(self, url: str) -> int | None:
        """Rename the page stored under the other form of ``url`` to ``url``; its id, or
        None when there is nothing to rename."""
        old = self.stored_url(url)
        if old == url:
            return None
        page_id = self.page_ids.pop(old)
        self.page_ids[url] = page_id
        self.urls_by_key[url_key(url)] = url
        if old in self.known:
            self.known[url] = self.known.pop(old)
        return page_id

    def _add(self, rows: Iterable[Any], held: Held | None) -> None:
        """Take in pages' rows (of ``_PAGE_COLUMNS``), noting them in ``held``: one
        string per URL (its entries share it), one object for plain pages."""
        others: list[tuple[str, Validators]] = []  # of other URLs: after the pages' own
        # A build's pages share their Last-Modified: each date is held once.
        dates: dict[str, str] = {}
        for url, page_id, status, fetched, etag, lm, meta, moved_to, aux in rows:
            self.page_ids[url] = page_id
            key = url_key(url)
            self.urls_by_key[key] = url
            if held is not None:
                held.pages.append(key)
            if status != PageStatus.ACTIVE:
                continue
            page = known_page(meta, moved_to, aux)
            self.known[url] = page
            if fetched and (etag or lm):
                fetched_key = key if fetched == url else url_key(fetched)
                self.validators[fetched_key] = Validators(etag, lm and dates.setdefault(lm, lm))
                if held is not None:
                    held.validators.append(fetched_key)
            others.extend((url_key(u), v) for u, v in page.aux_validators.items())
        for key, v in others:
            if key not in self.validators:
                self.validators[key] = v
                if held is not None:
                    held.validators.append(key)


_PAGE_COLUMNS = select(Page.url, Page.id, Page.status, Page.fetched_url, Page.etag,
                       Page.last_modified, Page.meta, Page.moved_to, Page.aux_validators)


def url_under(prefix: str, dialect: str) -> ColumnElement[bool]:
    """A page's URL starts with ``prefix`` (a URL ending in ``/``), as a range an index
    serves: compared byte by byte (:func:`~crawler.store.models.url_bytes`; PostgreSQL's
    ``ix_pages_source_url_bytes`` holds the URLs in that order)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    compared = url_bytes(dialect)
    return and_(compared >= prefix, compared < upper)


def rows_under(session: Session, pages: Select[*tuple[Any, ...]], target: str
               ) -> Iterator[Any]:
    """The rows of ``pages`` (a query of the pages table) whose URL is under ``target``,
    in either form of a hexdocs URL."""
    dialect = session.get_bind().dialect.name
    for form in url_forms(target):
        yield from session.execute(pages.where(url_under(form, dialect)))


def load_memory(engine: Engine, source: str, kind: str, run_id: int | None = None, *,
                by_target: bool = False) -> SourceMemory:
    """Read ``source``'s memory for run ``run_id``; a source met for the first time is
    registered. ``by_target``: read no page yet (see :meth:`SourceMemory.read_target`).

    A baseline recorded by a killed run that ``run_id`` took over was never reported:
    the source is still on its first crawl, so its new pages are not news now either.
    """
    with Session(engine) as session, session.begin():
        state = session.get(SourceState, source)
        if state is None:
            state = SourceState(name=source, kind=kind)
            session.add(state)
        baseline = state.baseline_run_id is None or (
            run_id is not None and state.baseline_run_id in taken_over(session, [run_id]))
        memory = SourceMemory(baseline=baseline, state=dict(state.state or {}),
                              index_suspects=dict(state.index_suspects or {}),
                              scopes={} if by_target else None)
        if not by_target:
            # A batch of rows at a time.
            memory._add(session.execute(_PAGE_COLUMNS.where(Page.source == source)
                                        .execution_options(yield_per=MEMORY_BATCH)), None)
        return memory


# Rows read at a time when loading a source's memory.
MEMORY_BATCH = 2000
# Most pages (every guide) have no facts, redirect or other validators: one object.
PLAIN_PAGE = KnownPage(ItemMeta())


def known_page(meta: ItemMeta | None, moved_to: str | None,
               aux: dict[str, Any] | None) -> KnownPage:
    """An active page's memory from its row (``meta`` NULL in a row written by hand)."""
    validators = aux_validators(aux)
    if not meta and moved_to is None and not validators:
        return PLAIN_PAGE
    return KnownPage(meta or ItemMeta(), moved_to, validators)


def item_meta(column: ItemMeta | None) -> ItemMeta:
    """A copy of ``pages.meta`` (the item's facts; NULL in a row written by hand)."""
    return (column or ItemMeta()).copy()


def aux_validators(column: dict[str, Any] | None) -> dict[str, Validators]:
    """``pages.aux_validators`` (``{url: [etag, last_modified]}``) as validators."""
    return {url: v for url, stored in (column or {}).items()
            if (v := Validators.from_stored(stored)) is not None}


def aux_column(validators: dict[str, Validators]) -> dict[str, Any]:
    """Validators of other URLs in the JSON form ``pages.aux_validators`` keeps."""
    return {url: v.stored() for url, v in validators.items() if v.stored() is not None}
