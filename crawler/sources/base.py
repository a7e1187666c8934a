"""The one small interface every source kind implements, and what it yields.

A source turns its configuration into a stream of results: :class:`Document` (a page
fetched and normalised), :class:`Unchanged` (the server said 304 or the text is the
same), :class:`Failure` (the page could not be fetched; never a removal) and
:class:`Listing` (the source's own index of what exists, the only evidence of removal).
The pipeline stores, diffs and reports them without knowing the kind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Protocol
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from crawler import hexdocs
from crawler.extract import check_css_selector
from crawler.http import Fetcher, Validators
from crawler.types import Item, ItemMeta, NoticeDict


def check_http_url(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL with a host, else raise ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    if any(ch.isspace() for ch in url):
        raise ValueError(f"URL contains whitespace: {url!r}")
    return url


def package_of(url: str) -> str:
    """The package a URL documents: read from a hexdocs URL of either form, else the
    folder the page sits in."""
    package = hexdocs.package_of(url)
    if package is not None:
        return package
    parts = [p for p in urlsplit(url).path.split("/") if p]
    return parts[-2] if len(parts) >= 2 else (parts[0] if parts else urlsplit(url).netloc)


# Validated item by item, so an error names the entry: ``sources[0].urls[2]``.
HttpUrl = Annotated[str, AfterValidator(check_http_url)]
# A selector lexbor can match with, checked when the configuration is read.
CssSelector = Annotated[str, AfterValidator(check_css_selector)]


class HistoryConfig(BaseModel):
    """How many snapshots ``docwatch prune`` keeps per page (global or per source)."""

    model_config = ConfigDict(extra="forbid")

    keep: int | None = Field(None, ge=1)
    max_age_days: int | None = Field(None, ge=1)
    prune_after_run: bool = False


class SourceConfig(BaseModel):
    """Keys every source kind accepts; kinds subclass it with their own."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: str
    urls: list[HttpUrl] = []
    # Its own cron expression for `docwatch schedule` (default: the global schedule).
    schedule: str | None = None
    history: HistoryConfig | None = None


@dataclass(frozen=True)
class Document:
    """One page as the pipeline stores it: identified by the URL a reader would open."""

    url: str
    title: str
    text: str
    fetched_url: str
    validators: Validators = field(default_factory=Validators)
    representation: str = "html"
    group: str = ""
    # What the reader sees it as: a guide page, a blog post, a package release...
    item: Item = Item.PAGE
    # Facts the report shows next to it (author, published, version, summary, ...).
    meta: ItemMeta = field(default_factory=ItemMeta)
    # Where a permanent redirect sent us, when the page now lives at another URL.
    moved_to: str | None = None
    # Validators of other URLs fetched for this page (the HTML checked next to a .md).
    aux_validators: tuple[tuple[str, Validators], ...] = ()
    # Vocabulary and notices when the source already computed them (else the store does).
    terms: list[str] | None = None
    notices: list[NoticeDict] | None = None


@dataclass(frozen=True)
class Unchanged:
    """The page answered 304 (or its text is the same): nothing to store but validators."""

    url: str
    validators: Validators = field(default_factory=Validators)
    moved_to: str | None = None
    aux_validators: tuple[tuple[str, Validators], ...] = ()


@dataclass(frozen=True)
class Failure:
    """The page (or an index) could not be fetched; its last snapshot stays as it is."""

    url: str
    error: str
    attempts: int = 1
    status: int | None = None
    page: bool = True  # False for an index or feed: not counted as a page checked


@dataclass(frozen=True)
class Listing:
    """Everything the source's own index lists under ``scope`` (a URL prefix).

    Known pages under ``scope`` that are missing from ``urls`` are removed. A source
    that could not read its index yields a :class:`Failure` instead, never a Listing.
    """

    scope: str
    urls: frozenset[str]
    titles: dict[str, str] = field(default_factory=dict)
    # The configured root when the index was found at ``scope`` through a permanent
    # redirect: the pages keep their identity, the report says to update sources.yaml.
    moved_from: str | None = None


@dataclass(frozen=True)
class TargetDone:
    """Every result of ``target`` (a root, feed, package or page) was emitted before
    this one: the store may write what was remembered of it and forget its pages."""

    target: str


Result = Document | Unchanged | Failure | Listing | TargetDone


class TargetMemory(Protocol):
    """What a source remembers of each of its targets between runs (e.g. a package
    root's index), by target. The store keeps it (a row per target)."""

    def remembered(self, target: str) -> Any:
        """What was remembered of ``target``; None for nothing."""
        ...

    def remember(self, target: str, state: Any) -> None:
        """Keep ``state`` (JSON-able) for ``target`` until the next run."""
        ...


class HeldTargetMemory:
    """A :class:`TargetMemory` held in a dict (a crawl with no store behind it)."""

    def __init__(self) -> None:
        self.states: dict[str, Any] = {}

    def remembered(self, target: str) -> Any:
        return self.states.get(target)

    def remember(self, target: str, state: Any) -> None:
        self.states[target] = state


@dataclass
class CrawlContext:
    """What a source may use while crawling: the HTTP client and the stored state."""

    fetcher: Fetcher
    validators_for: Callable[[str], Validators | None]
    has_page: Callable[[str], bool] = lambda _url: False
    # The stored facts of an item (Page.meta), as the last run recorded them.
    page_meta: Callable[[str], ItemMeta] = lambda _url: ItemMeta()
    # The source's own memory between runs (JSON-able; saved when the source finishes).
    state: dict[str, Any] = field(default_factory=dict)
    # Runs a CPU-heavy pure function (page extraction), possibly in a worker process.
    offload: Callable[..., Awaitable[Any]] = field(default=None)  # type: ignore[assignment]
    # Its memory of each target (see TargetMemory), read as the crawl reaches it.
    targets: TargetMemory = field(default_factory=HeldTargetMemory)
    # The crawl reaches a target: the store reads its pages' memory.
    open_target: Callable[[str], None] = lambda _target: None

    def __post_init__(self) -> None:
        if self.offload is None:
            async def inline(fn: Callable[..., Any], *args: Any) -> Any:
                return fn(*args)
            self.offload = inline


class Source(Protocol):
    """A source kind. ``Config`` is its pydantic model; ``kind`` its name in sources.yaml."""

    kind: ClassVar[str]
    Config: ClassVar[type[SourceConfig]]
    # None: only a Listing removes pages. N: a page answering 404/410 N runs in a row is gone.
    remove_after_missing: ClassVar[int | None]
    # Its pages' memory is read a target at a time (each target's pages are under its
    # URL), not whole as the run starts: a source of thousands of package roots.
    memory_by_target: ClassVar[bool]

    def __init__(self, config: SourceConfig) -> None: ...

    def crawl(self, ctx: CrawlContext) -> AsyncIterator[Result]:
        """Yield results as they arrive; fetch concurrently within the fetcher's limits."""
        ...

    def probe_urls(self) -> list[str]:
        """The URLs that must answer for this source to work (``docwatch sources --check``)."""
        ...


Emit = Callable[[Result], Awaitable[None]]


async def emitted(produce: Callable[[Emit], Awaitable[None]]) -> AsyncIterator[Result]:
    """Run ``produce(emit)`` and yield whatever it emits, as soon as it is emitted.

    Lets a source fetch many pages concurrently yet hand them to the pipeline one by
    one, so results are stored as they arrive instead of being held in memory.
    """
    queue: asyncio.Queue[Result | None] = asyncio.Queue(maxsize=256)

    async def run() -> None:
        try:
            await produce(queue.put)
        finally:
            await queue.put(None)

    task = asyncio.create_task(run())
    try:
        while (item := await queue.get()) is not None:
            yield item
        await task  # re-raise a producer's crash
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# Targets (roots, feeds, packages, pages) a source crawls at once: enough to keep every
# request slot busy while some wait for their index, few enough to bound its memory.
TARGETS_IN_FLIGHT = 64
TARGETS_PER_SLOT = 4


class BaseSource:
    """What the source kinds share: they keep their config and crawl each of their
    targets (roots, feeds, packages, pages) concurrently, emitting results as they come.

    A kind sets ``kind`` and ``Config``, and implements :meth:`crawl_one`; it overrides
    :meth:`targets` when its targets are not its ``urls``.
    """

    kind: ClassVar[str]
    Config: ClassVar[type[SourceConfig]]
    remove_after_missing: ClassVar[int | None] = None
    memory_by_target: ClassVar[bool] = False

    def __init__(self, config: SourceConfig) -> None:
        self.config = config

    def targets(self) -> list[str]:
        return list(self.config.urls)

    def probe_urls(self) -> list[str]:
        return self.targets()

    def crawl(self, ctx: CrawlContext) -> AsyncIterator[Result]:
        async def produce(emit: Emit) -> None:
            # A few targets at a time, each taken as one ends: a source of 10,000 package
            # roots would otherwise hold every root's index and pending pages at once.
            targets = iter(self.targets())

            async def crawl_next() -> None:
                for target in targets:
                    ctx.open_target(target)
                    await self.crawl_one(ctx, target, emit)
                    await emit(TargetDone(target))

            workers = max(TARGETS_IN_FLIGHT, TARGETS_PER_SLOT * ctx.fetcher.settings.concurrency)
            await asyncio.gather(*(crawl_next() for _ in range(workers)))
        return emitted(produce)

    async def crawl_one(self, ctx: CrawlContext, target: str, emit: Emit) -> None:
        """Crawl one target, emitting its results."""
        raise NotImplementedError
