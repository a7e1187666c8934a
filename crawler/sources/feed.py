"""``kind: feed``: blog posts from RSS 0.9x/1.0/2.0 and Atom feeds.

Each entry is an item identified by its id/guid (falling back to its link). A feed
lists only its latest entries, so an entry dropping off is never a removal, and a
feed that does not parse (truncated XML, an HTML error page served as 200) is a
fetch problem that leaves every stored post as it was.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import xml.sax
from dataclasses import replace
from typing import Any, ClassVar, cast
from urllib.parse import urljoin, urlsplit

from pydantic import Field, field_validator

from crawler.extract import extract_html, title_text
from crawler.http import FetchError, Response
from crawler.sources.base import (
    BaseSource,
    CrawlContext,
    CssSelector,
    Document,
    Emit,
    Failure,
    SourceConfig,
    Unchanged,
)
from crawler.types import Item, ItemMeta

DEFAULT_ARTICLE = "article, .post-content, .post, main, #content, body"
log = logging.getLogger(__name__)


class FeedConfig(SourceConfig):
    kind: str = "feed"
    # Fetch each new entry's page and extract its article, so keywords see the whole post.
    fetch_entries: bool = False
    # ... for this many entries per run at most, newest first: a first crawl of a feed of
    # thousands of entries does not ask for thousands of pages; the rest wait their turn.
    max_entries_per_run: int = Field(20, ge=1)
    select: CssSelector = DEFAULT_ARTICLE
    # Hosts besides the feed's own whose entry pages may be fetched.
    allow_hosts: list[str] = []
    # A feed with no entries on this many runs in a row is reported as a probable breakage.
    empty_runs: int = Field(3, ge=1)

    @field_validator("allow_hosts")
    @classmethod
    def _lower_hosts(cls, hosts: list[str]) -> list[str]:
        return [h.lower().strip() for h in hosts if h.strip()]


class FeedMeta(ItemMeta, total=False):
    """The facts of the feed item itself (a hidden item, kept for its validators): its
    title and number of entries on the last run, on how many runs in a row it came back
    empty, and how many entries' articles wait for a later run (``max_entries_per_run``).
    Kept with the feed's validators, in the same transaction: a 304 is read against the
    very answer these facts describe."""

    title: str
    entries: int
    empty_runs: int
    articles_deferred: int


class FeedSource(BaseSource):
    kind: ClassVar[str] = "feed"
    Config: ClassVar[type[SourceConfig]] = FeedConfig
    config: FeedConfig

    async def crawl_one(self, ctx: CrawlContext, feed_url: str, emit: Emit) -> None:
        # The feed item's facts are the FeedMeta _feed_document recorded.
        known = cast(FeedMeta, ctx.page_meta(feed_url))
        # Articles left for later runs: the feed is asked in full until they are fetched
        # (a 304 would hand on no entry to fetch them for).
        waiting = self.config.fetch_entries and known.get("articles_deferred", 0) > 0
        try:
            response = await ctx.fetcher.get(feed_url,
                                             None if waiting else ctx.validators_for(feed_url))
        except FetchError as exc:
            await emit(Failure(feed_url, f"feed: {exc.message}", exc.attempts, exc.status,
                               page=False))
            return
        if response.not_modified and known.get("entries") != 0:
            # Nothing new in the feed: its posts are as stored. Keep the feed's validators.
            await emit(Unchanged(feed_url, response.validators))
            return
        if response.not_modified:
            # Still the same empty feed: one more empty run.
            await self._feed_document(emit, feed_url, known.get("title", feed_url), 0, 0,
                                      known, response)
            return
        # Imported by the runs that read a feed, not by every command. (feedparser has
        # no type information.)
        import feedparser  # type: ignore[import-untyped, unused-ignore]

        parsed = feedparser.parse(response.content,
                                  response_headers={"content-type":
                                                    response.headers.get("content-type", "")})
        problem = feed_problem(parsed, response.content_type)
        if problem:
            await emit(Failure(feed_url, problem, response.attempts, response.status, page=False))
            return
        feed_title = title_text(str(parsed.feed.get("title", "")))
        allowed = {urlsplit(response.final_url).hostname or "", *self.config.allow_hosts}
        docs = [doc for entry in parsed.entries
                if (doc := entry_document(entry, response.final_url, feed_title)) is not None]
        deferred = 0
        if self.config.fetch_entries:
            docs, deferred = await self._with_articles(ctx, docs, allowed,
                                                       first=not ctx.has_page(feed_url))
            if deferred:
                log.info("feed %s: %d articles deferred to later runs (max_entries_per_run: "
                         "%d)", feed_url, deferred, self.config.max_entries_per_run)
        for doc in docs:
            await emit(doc)
        # The feed's validators last, once its posts are handed on: a run killed before
        # they are stored asks the whole feed again, instead of a 304 that would keep
        # the posts it never stored out of the history.
        await self._feed_document(emit, feed_url, feed_title or feed_url,
                                  len(parsed.entries), deferred, known, response)

    async def _feed_document(self, emit: Emit, feed_url: str, title: str, entries: int,
                             deferred: int, known: FeedMeta, response: Response) -> None:
        """Store the feed itself as a hidden item: its validators (next run's 304), how
        many runs in a row it came back empty, a probable breakage past ``empty_runs``,
        and how many articles wait for a later run."""
        empty = known.get("empty_runs", 0) + 1 if not entries else 0
        meta = FeedMeta(entries=entries, empty_runs=empty, title=title)
        if deferred:
            meta["articles_deferred"] = deferred
        await emit(Document(feed_url, title, f"# {title}\n", response.final_url,
                            response.validators, "feed", item=Item.FEED, meta=meta))
        if empty >= self.config.empty_runs:
            await emit(Failure(feed_url, f"probable breakage: the feed has returned no entries "
                               f"on {empty} runs in a row", response.attempts, response.status,
                               page=False))

    async def _with_articles(self, ctx: CrawlContext, docs: list[Document],
                             allowed: set[str], first: bool) -> tuple[list[Document], int]:
        """The entries with their articles, and how many articles were left for later.

        An article is wanted for an entry the store does not know yet, or whose article
        an earlier run left for later; ``max_entries_per_run`` of them, the newest first,
        are fetched together (the fetcher keeps each host's limits). On the feed's
        ``first`` crawl the others are its back catalogue, read by nobody as news: they
        are marked ``article_skipped`` and never fetched. Later, the others are new posts
        of a busy day, handed on marked ``article_deferred`` so the next run asks for
        them. The entries stay in the feed's order.
        """
        stored = {i: ctx.page_meta(doc.url) for i, doc in enumerate(docs)
                  if ctx.has_page(doc.url)}
        wanted = [i for i in range(len(docs))
                  if i not in stored or stored[i].get("article_deferred")]
        # Newest first; entries without a date after the dated ones, in the feed's order.
        wanted.sort(key=lambda i: docs[i].meta.get("published_at") or "", reverse=True)
        now, later = wanted[:self.config.max_entries_per_run], \
            wanted[self.config.max_entries_per_run:]
        out = list(docs)
        articles = await asyncio.gather(*(self._with_article(ctx, docs[i], allowed)
                                          for i in now))
        for i, doc in zip(now, articles, strict=True):
            out[i] = doc
        if first:
            for i in later:
                out[i] = _with_meta(docs[i], {"article_skipped": "older than the first crawl"})
            return out, 0
        for i in later:
            out[i] = _with_meta(docs[i], {"article_deferred": True})
        return out, len(later)

    async def _with_article(self, ctx: CrawlContext, doc: Document, allowed: set[str]
                            ) -> Document:
        link = doc.meta.get("link", "")
        if (urlsplit(link).hostname or "").lower() not in allowed:
            return _with_meta(doc, {"article_skipped": "host not in allow_hosts"})
        try:
            page = await ctx.fetcher.get(link, hosts=allowed)  # every redirect hop too
        except FetchError as exc:
            return _with_meta(doc, {"article_error": exc.message})
        article = extract_html(page.text, select=self.config.select,
                               drop=("script", "style", "nav", "header", "footer", ".sidebar"))
        return _with_meta(doc, {"article": article.text})


def _with_meta(doc: Document, extra: ItemMeta) -> Document:
    return replace(doc, meta={**doc.meta, **extra})


def feed_problem(parsed: Any, content_type: str) -> str | None:
    """Why ``parsed`` is not a usable feed, or None when it is."""
    if parsed.bozo and isinstance(parsed.get("bozo_exception"), xml.sax.SAXException):
        return f"feed does not parse: {parsed.bozo_exception}"
    if not parsed.get("version"):
        what = f"a {content_type} document" if content_type else "not a feed"
        return f"not an RSS or Atom feed ({what})"
    return None


def entry_document(entry: Any, feed_url: str, feed_title: str) -> Document | None:
    """An entry as a stored item; its identity is its id, else its link."""
    link = urljoin(feed_url, entry.get("link", "")) if entry.get("link") else ""
    entry_id = entry.get("id") or link
    if not entry_id:
        return None
    identity = entry_id if urlsplit(entry_id).scheme in ("http", "https") \
        else f"{feed_url}#{entry_id}"
    title = title_text(str(entry.get("title", ""))) or link or entry_id
    author = title_text(str(entry.get("author", "")))
    body_html = ""
    if entry.get("content"):
        body_html = entry.content[0].get("value", "")
    elif entry.get("summary"):
        body_html = entry.summary
    body = extract_html(f"<body>{body_html}</body>").text if body_html else ""
    text = f"# {title}\n\n" + (f"by {author}\n\n" if author else "") + body
    published = _date(entry.get("published_parsed") or entry.get("updated_parsed"))
    summary = body.replace("\n", " ")
    summary = summary[:277] + "…" if len(summary) > 280 else summary
    meta: ItemMeta = {"link": link or identity, "author": author, "published_at": published,
                      "feed": feed_title, "summary": summary}
    return Document(identity, title, text, feed_url, representation="feed", item=Item.POST,
                    group=feed_title, meta=meta)


def _date(parsed_time: Any) -> str | None:
    if not parsed_time:
        return None
    year, month, day, hour, minute, second = parsed_time[:6]
    return dt.datetime(year, month, day, hour, minute, second,
                       tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


__all__ = ["FeedConfig", "FeedMeta", "FeedSource", "entry_document", "feed_problem"]
