"""What the store remembers of one source between runs, loaded once as its run starts.

The sources ask it while they crawl (the validators to send, whether a page is known,
an item's facts, the source's own state), and the recorder keeps it in step with what
it writes (a page renamed by a hexdocs move, the source's state saved at the end).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crawler.classify import KnownPage
from crawler.hexdocs import url_key
from crawler.http import Validators
from crawler.store.models import Page, SourceState
from crawler.store.runs import taken_over
from crawler.types import ItemMeta, PageStatus


@dataclass
class SourceMemory:
    """One source's stored memory, as of the start of its run."""

    # No baseline recorded yet (or only by a killed run this run reports for): this run
    # records it, and reports no page as new.
    baseline: bool = True
    # Validators of every active page's fetched URLs, by identity (hexdocs.url_key):
    # those remembered under one form of a hexdocs URL are sent to the other (the same
    # bytes at the new place still answer 304).
    validators: dict[str, Validators] = field(default_factory=dict)
    # Every stored page's id by URL, whatever its status.
    page_ids: dict[str, int] = field(default_factory=dict)
    # Every stored page's URL by identity: a page met under the other form of its URL
    # is the same page, renamed (see :meth:`adopt`).
    urls_by_key: dict[str, str] = field(default_factory=dict)
    # The active pages by URL: the item's facts, its redirect, its other validators.
    known: dict[str, KnownPage] = field(default_factory=dict)
    # The source's own memory (e.g. an ExDoc index); the source updates it while it
    # crawls, the recorder saves it when the source finishes.
    state: dict[str, Any] = field(default_factory=dict)
    # Indexes that suddenly listed far fewer pages: runs in a row, by scope.
    index_suspects: dict[str, int] = field(default_factory=dict)

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


def load_memory(engine: Engine, source: str, kind: str,
                run_id: int | None = None) -> SourceMemory:
    """Read ``source``'s memory for run ``run_id``; a source met for the first time is
    registered.

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
                              index_suspects=dict(state.index_suspects or {}))
        # A source of 200,000 pages holds them all for its run: read a batch of rows at a
        # time, one string per URL (its entries share it), one object for plain pages.
        rows = session.execute(
            select(Page.url, Page.id, Page.status, Page.fetched_url, Page.etag,
                   Page.last_modified, Page.meta, Page.moved_to, Page.aux_validators)
            .where(Page.source == source).execution_options(yield_per=MEMORY_BATCH))
        others: list[tuple[str, Validators]] = []  # of other URLs: after the pages' own
        # A build's pages share their Last-Modified: each date is held once.
        dates: dict[str, str] = {}
        for url, page_id, status, fetched, etag, lm, meta, moved_to, aux in rows:
            memory.page_ids[url] = page_id
            key = url_key(url)
            memory.urls_by_key[key] = url
            if status != PageStatus.ACTIVE:
                continue
            page = known_page(meta, moved_to, aux)
            memory.known[url] = page
            if fetched and (etag or lm):
                memory.validators[key if fetched == url else url_key(fetched)] = \
                    Validators(etag, lm and dates.setdefault(lm, lm))
            others.extend((url_key(u), v) for u, v in page.aux_validators.items())
        for key, v in others:
            memory.validators.setdefault(key, v)
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
