"""``kind: exdoc``: every guide ("extra") page of an ExDoc package root on hexdocs.pm.

Discovery reads what ExDoc publishes, not the links in a page body: the root's
redirect stub names the main page, whose ``<script>`` tags name
``dist/sidebar_items-<digest>.js``, the list of extras the sidebar is built from.
When that fails, ``llms.txt`` (ExDoc >= 0.40) is the fallback. Pages are fetched as
their ``.md`` twin when the build published one (the cleanest form), else as HTML.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
from dataclasses import dataclass, replace
from html import unescape
from typing import Any, ClassVar
from urllib.parse import unquote, urldefrag, urljoin

from pydantic import field_validator
from selectolax.lexbor import LexborHTMLParser

from crawler.extract import Extracted, analysed, extract_exdoc, extract_markdown
from crawler.http import FetchError, Response, Validators
from crawler.sources.base import (
    BaseSource,
    CrawlContext,
    Document,
    Emit,
    Failure,
    Listing,
    Result,
    SourceConfig,
    Unchanged,
)
from crawler.types import Representation

HTML_TYPES = ("text/html", "application/xhtml+xml")
PAGES_IN_FLIGHT = 48  # pages between "request sent" and "handed to the store", per source
MARKDOWN_TYPES = ("text/markdown", "text/plain", "text/x-markdown")
PAGE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.~+-]*$")
# "- [Title](id.md)", indented under a group line, a module's ": synopsis" after it.
LLMS_LINK = re.compile(r"^(?P<indent>\s*)- \[(?P<title>.*?)\]\((?P<id>[^()\s/#]+)\.md\)(?=:|\s*$)")
LLMS_API_SECTIONS = ("Modules", "Mix Tasks")  # ExDoc's own headings; the extras' is a setting
MODULE_ID = re.compile(r"^[A-Z][A-Za-z0-9_]*(\.[A-Z][A-Za-z0-9_]*)*$")  # Phoenix.Router
NOT_GUIDES = ("index", "404")  # pages ExDoc writes besides the extras: the stub, not found


class ExdocConfig(SourceConfig):
    kind: str = "exdoc"
    # Page ids (globs) not worth watching: generated listings, not guides.
    exclude: list[str] = ["api-reference", "search"]
    prefer_markdown: bool = True

    @field_validator("urls", mode="after")
    @classmethod
    def _roots_end_with_slash(cls, urls: list[str]) -> list[str]:
        return [u if u.endswith("/") else u + "/" for u in urls]


@dataclass(frozen=True)
class GuidePage:
    id: str
    title: str
    group: str
    url: str


@dataclass
class PackageIndex:
    root: str
    pages: list[GuidePage]
    markdown: bool
    # The main page's answer: usually a guide page too, so its page need not ask again.
    main: Response | None = None
    main_asked_with: Validators | None = None
    complete: bool = True  # False: a partial list (page links), no evidence of removal
    # The configured root when ``root`` is where it permanently redirects to now.
    moved_from: str | None = None

    def take_main(self, page: GuidePage, known: Validators | None) -> Response | None:
        """The main page's answer when it can stand for ``page``'s own request (handed
        out once, then dropped: its body is not held while the package is crawled).

        A 304 counts only if it was asked with the page's own validators: then it means
        "unchanged since the stored snapshot", as the page's request would have.
        """
        main = self.main
        if main is None or main.url != page.url:
            return None
        self.main = None
        if main.not_modified and self.main_asked_with != known:
            return None
        return main


@dataclass(frozen=True)
class IndexEntry:
    """One guide as the remembered index lists it; its URL follows from the root."""

    id: str
    title: str
    group: str

    def at(self, root: str) -> GuidePage:
        """The guide page under ``root`` (where the package is now)."""
        return GuidePage(self.id, self.title, self.group, f"{root}{self.id}.html")


@dataclass(frozen=True)
class ExdocIndexCache:
    """What discovery remembers of one package root between runs.

    Kept in ``ctx.targets`` as the JSON object it has always been (databases hold it,
    a row per root, once all in ``sources.state["exdoc"]``): validators as
    ``[etag, last_modified]``, pages as ``[id, title, group]``.
    """

    main_url: str  # the page the root stub names
    markdown: bool  # the build publishes ``.md`` twins
    sidebar: str | None = None  # the sidebar_items-<digest>.js the main page names
    root: Validators | None = None  # the root stub's
    # The main page's validators and the guide list: not kept for a list that was not
    # settled (partial, or an entry left out on a 404), so the next run reads it again.
    main: Validators | None = None
    pages: tuple[IndexEntry, ...] | None = None
    moved_to: str | None = None  # where the configured root permanently redirects

    def guide_pages(self, root: str) -> list[GuidePage] | None:
        """The remembered guides under ``root``; None when none are remembered."""
        return None if self.pages is None else [entry.at(root) for entry in self.pages]

    def to_state(self) -> dict[str, Any]:
        """The JSON form kept in ``ctx.targets`` (the keys in the order always written)."""
        return {
            "moved_to": self.moved_to,
            "root": self.root.stored() if self.root is not None else None,
            "main_url": self.main_url,
            "main": self.main.stored() if self.main is not None else None,
            "sidebar": self.sidebar,
            "markdown": self.markdown,
            "pages": (None if self.pages is None
                      else [[e.id, e.title, e.group] for e in self.pages]),
        }

    @classmethod
    def from_state(cls, state: Any) -> ExdocIndexCache | None:
        """The cache :meth:`to_state` wrote, or an older build of docwatch did (without
        ``moved_to``); None for anything else: then discovery starts afresh."""
        if not isinstance(state, dict):
            return None
        main_url, markdown = state.get("main_url"), state.get("markdown")
        sidebar, moved_to = state.get("sidebar"), state.get("moved_to")
        if (not isinstance(main_url, str) or not isinstance(markdown, bool)
                or not isinstance(sidebar, str | None) or not isinstance(moved_to, str | None)):
            return None
        rows = state.get("pages")
        if rows is not None and not (isinstance(rows, list) and all(
                isinstance(row, list) and len(row) == 3 and all(isinstance(f, str) for f in row)
                for row in rows)):
            return None
        pages = None if rows is None else tuple(IndexEntry(*row) for row in rows)
        return cls(main_url, markdown, sidebar, Validators.from_stored(state.get("root")),
                   Validators.from_stored(state.get("main")), pages, moved_to or None)


@dataclass(frozen=True)
class _Guides:
    """The guides discovery found, and how far the list can be trusted."""

    pages: list[GuidePage]
    markdown: bool
    sidebar: str | None
    complete: bool = True  # ExDoc's own index, not the main page's links
    left_out: bool = False  # llms.txt entries left out on a 404 (external links, likely)

    @property
    def settled(self) -> bool:
        """Whether the list stands for this build (remembered until it is rebuilt)."""
        return self.complete and not self.left_out


class ExdocSource(BaseSource):
    kind: ClassVar[str] = "exdoc"
    Config: ClassVar[type[SourceConfig]] = ExdocConfig
    memory_by_target: ClassVar[bool] = True
    config: ExdocConfig

    def __init__(self, config: ExdocConfig):
        super().__init__(config)
        self._in_flight = asyncio.Semaphore(PAGES_IN_FLIGHT)

    async def crawl_one(self, ctx: CrawlContext, root: str, emit: Emit) -> None:
        try:
            index = await discover(ctx, root)
        except FetchError as exc:
            await emit(Failure(exc.url, f"package index: {exc.message}", exc.attempts, exc.status,
                              page=False))
            return
        pages = [p for p in index.pages if not self._excluded(p.id)]
        if index.complete:  # only ExDoc's own full index is evidence of removal
            await emit(Listing(index.root, frozenset(p.url for p in pages),
                               {p.url: p.title for p in pages}, index.moved_from))

        async def one(page: GuidePage) -> None:
            # Pages fetched but not yet extracted and handed on hold their HTML: bound them,
            # so memory stays flat however many pages the package has.
            async with self._in_flight:
                prefetched = index.take_main(page, ctx.validators_for(page.url))
                result = await self._fetch_page(ctx, page, index.markdown, prefetched)
            await emit(result)

        await asyncio.gather(*(one(p) for p in pages))

    def _excluded(self, page_id: str) -> bool:
        return any(fnmatch.fnmatchcase(page_id, g) for g in self.config.exclude)

    async def _fetch_page(self, ctx: CrawlContext, page: GuidePage, markdown: bool,
                          prefetched: Response | None = None) -> Result:
        """The page as a :class:`Document` (or Unchanged/Failure); ``prefetched`` is its
        HTML answer when discovery already asked for it (the package's main page)."""
        if markdown and self.config.prefer_markdown:
            md_url = page.url[: -len(".html")] + ".md"
            # The text comes from the .md twin, but readers open the HTML page: it must
            # answer too, or the page is a fetch problem (a cheap conditional HEAD).
            md, html = await asyncio.gather(
                _fetch_document(ctx, page, md_url, Representation.MARKDOWN),
                _answered(prefetched) if prefetched else
                ctx.fetcher.get(page.url, ctx.validators_for(page.url), method="HEAD"),
                return_exceptions=True)
            if isinstance(html, FetchError):
                return Failure(page.url, html.message, html.attempts, html.status)
            if isinstance(html, BaseException):
                raise html
            if not isinstance(md, FetchError):
                if isinstance(md, BaseException):
                    raise md
                return replace(md, aux_validators=((page.url, html.validators),))
            if md.status not in (404, 410) and not isinstance(md, _NotMarkdown):
                return Failure(page.url, md.message, md.attempts, md.status)
            # No .md twin for this page after all (or not Markdown): the HTML is the page.
        try:
            if prefetched is not None:
                return await _document(ctx, page, prefetched, Representation.HTML)
            return await _fetch_document(ctx, page, page.url, Representation.HTML)
        except FetchError as exc:
            return Failure(page.url, exc.message, exc.attempts, exc.status)


async def _answered(response: Response) -> Response:
    return response


class _NotMarkdown(FetchError):
    """The ``.md`` twin answered something else (a login page, a download): the page's
    HTML is read instead."""


async def _fetch_document(ctx: CrawlContext, page: GuidePage, url: str,
                          representation: Representation) -> Document | Unchanged:
    response = await ctx.fetcher.get(url, ctx.validators_for(url))
    return await _document(ctx, page, response, representation)


async def _document(ctx: CrawlContext, page: GuidePage, response: Response,
                    representation: Representation) -> Document | Unchanged:
    """What ``response`` (the page's ``.md`` or HTML answer) says about ``page``."""
    url = response.url
    moved_to = _canonical(response.final_url) if response.moved_permanently else None
    moved_to = moved_to if moved_to != page.url else None
    if response.not_modified:
        return Unchanged(page.url, response.validators, moved_to)
    markdown = representation is Representation.MARKDOWN
    expected = MARKDOWN_TYPES if markdown else HTML_TYPES
    if response.content_type and response.content_type not in expected:
        wrong_type = _NotMarkdown if markdown else FetchError
        raise wrong_type(url, f"unexpected content type {response.content_type!r}",
                         response.attempts, response.status)
    extract = extract_markdown if markdown else extract_exdoc
    extracted: Extracted = await ctx.offload(analysed, extract, response.text,
                                             "changelog" in page.id.lower())
    if not extracted.text or extracted.text.isspace():
        raise FetchError(url, "no guide content found in the page (layout changed?)",
                         response.attempts, response.status)
    return Document(page.url, extracted.title or page.title, extracted.text, response.final_url,
                    response.validators, representation, page.group, moved_to=moved_to,
                    terms=extracted.terms, notices=extracted.notices)


def _canonical(url: str) -> str:
    """The HTML URL a reader opens for a fetched ``.md`` twin (or the URL itself)."""
    return url[: -len(".md")] + ".html" if url.endswith(".md") else url


async def discover(ctx: CrawlContext, root: str) -> PackageIndex:
    """List the guide pages of the ExDoc package at ``root`` (a URL ending in ``/``).

    The last index is remembered in ``ctx.targets`` (:class:`ExdocIndexCache`): a
    conditional request for the main page answers 304 when nothing was rebuilt (then
    the root stub is not asked), and a sidebar file whose digest did not change is not
    fetched again (its name changes with its content).

    A root that answers a permanent redirect (hexdocs.pm's move to per-package
    subdomains) is followed: the pages are those under the new root, and the index says
    where the configured root moved. It is remembered by identity (hexdocs.url_key), so
    a config rewritten to the new form keeps the index.
    """
    found = _Discovery.of(ctx, root)
    early = await found.ask_main_first()
    if (same := found.same_build(early)) is not None:
        return same
    stub = await found.read_stub()
    main_url = found.main_url(stub)
    main, asked_with = await found.read_main(main_url, stub, early)
    guides = await found.read_guides(main)
    found.remember(stub, main_url, main, guides)
    return PackageIndex(found.root, guides.pages, guides.markdown, main, asked_with,
                        guides.complete, found.moved_from)


@dataclass
class _Discovery:
    """The steps of :func:`discover` for one configured root, in the order it takes them."""

    ctx: CrawlContext
    configured: str
    cache: ExdocIndexCache | None
    # Where the package is now: where the index was last found, then where the stub says.
    root: str

    @classmethod
    def of(cls, ctx: CrawlContext, configured: str) -> _Discovery:
        """Start at ``configured`` with what the last run remembered of it (looked up by
        identity, then by the URL it was kept under before); where it moved, if it did."""
        cache = ExdocIndexCache.from_state(ctx.targets.remembered(configured))
        moved_to = cache.moved_to if cache is not None else None
        return cls(ctx, configured, cache, moved_to or configured)

    @property
    def moved_from(self) -> str | None:
        """The configured root when the package is found elsewhere now."""
        return self.configured if self.root != self.configured else None

    async def ask_main_first(self) -> Response | None:
        """The remembered main page, asked before the root stub.

        ExDoc writes every file of a package on each build, so a 304 here means the stub
        did not change either and need not be asked. None when the stub must be asked:
        nothing remembered, the main page is gone (renamed: the stub names the new one),
        or the page's own validators are not those the index was read with.
        """
        cache = self.cache
        if cache is None or cache.pages is None or cache.main is None:
            return None
        if self.ctx.validators_for(cache.main_url) not in (None, cache.main):
            return None
        return await _get_unless_gone(self.ctx, cache.main_url, cache.main)

    def same_build(self, early: Response | None) -> PackageIndex | None:
        """The remembered index when the main page asked first answered 304 in place.

        A 304 through a permanent redirect is the same build at a new place (hexdocs.pm
        serves the same files from the subdomain): the stub must say where the root is.
        """
        cache = self.cache
        if early is None or not early.not_modified or early.moved_permanently or cache is None:
            return None
        pages = cache.guide_pages(self.root)
        if pages is None:
            return None
        return PackageIndex(self.root, pages, cache.markdown, early, cache.main,
                            moved_from=self.moved_from)

    async def read_stub(self) -> Response:
        """The configured root's answer (ExDoc's redirect stub), asked with the remembered
        validators; the root moves to where a permanent redirect led.

        A 304 at the new place is asked again unconditionally: the remembered facts
        name the old place, the stub's own text names the main page.
        """
        cache = self.cache
        stub = await self.ctx.fetcher.get(self.configured, cache.root if cache else None)
        self.root = _moved_root(self.configured, stub)
        if stub.not_modified and stub.moved_permanently:
            stub = replace(await self.ctx.fetcher.get(stub.final_url), moved_permanently=True)
        return stub

    def main_url(self, stub: Response) -> str:
        """The main page the stub names (the remembered one when it answered 304), or
        the root itself when it is no stub."""
        if stub.not_modified and self.cache is not None:
            return self.cache.main_url
        refresh = _meta_refresh(stub.text)
        if not refresh:
            return stub.final_url
        main_url = urljoin(stub.final_url, refresh)
        _check_inside(self.root, main_url)
        return main_url

    async def read_main(self, main_url: str, stub: Response, early: Response | None
                        ) -> tuple[Response, Validators | None]:
        """The main page's answer, and the validators it was asked with.

        No request when the root is itself the main page or the main page was asked
        first (a new build). The main page is usually a guide page as well: asked with
        the page's own validators, one request serves discovery and the page (see
        :meth:`PackageIndex.take_main`); a 304 to validators other than the remembered
        ones is asked again unconditionally (the remembered facts are of another build).
        """
        cache = self.cache
        remembered = cache.main if cache is not None and cache.main_url == main_url else None
        if main_url == stub.final_url and not stub.not_modified:
            return stub, remembered
        if early is not None and early.url == main_url:
            return early, remembered
        asked_with = self.ctx.validators_for(main_url) or remembered
        main = await self.ctx.fetcher.get(main_url, asked_with)
        if main.not_modified and asked_with != remembered:
            main = await self.ctx.fetcher.get(main_url)
        return main, asked_with

    async def read_guides(self, main: Response) -> _Guides:
        """The guides: those remembered when the main page did not change, else those
        the sidebar file lists, else llms.txt (Markdown builds), else the guides the main
        page links to (a partial list). Raises when the root shows no ExDoc index."""
        cache = self.cache
        remembered = cache.guide_pages(self.root) if cache is not None else None
        if main.not_modified and cache is not None and remembered is not None:
            return _Guides(remembered, cache.markdown, cache.sidebar)
        markdown, sidebar = _main_page_facts(main.text, main.final_url)
        pages = await self.read_sidebar(sidebar)
        if pages is not None:
            return _Guides(pages, markdown, sidebar)
        listed = await self.read_llms_txt() if markdown else None
        if listed is not None:
            pages, left_out = listed
            return _Guides(pages, markdown, sidebar, left_out=left_out)
        linked = _linked_guides(main, self.root, cache) if sidebar or markdown else None
        if linked is not None:
            return _Guides(linked, markdown, sidebar, complete=False)
        what = f"unreadable {sidebar}" if sidebar else "no ExDoc sidebar_items"
        raise FetchError(self.root, f"{what} or llms.txt found: is this an ExDoc root?")

    async def read_sidebar(self, sidebar: str | None) -> list[GuidePage] | None:
        """The extras the sidebar file lists (the remembered ones when its name, so its
        digest, did not change); None when there is none or it cannot be read."""
        if not sidebar:
            return None
        cache = self.cache
        if cache is not None and cache.sidebar == sidebar and cache.pages is not None:
            return cache.guide_pages(self.root)
        _check_inside(self.root, sidebar)
        listed = await _get_unless_gone(self.ctx, sidebar)
        return _parse_sidebar(listed, self.root) if listed is not None else None

    async def read_llms_txt(self) -> tuple[list[GuidePage], bool] | None:
        """The extras llms.txt lists less the sidebar's external links, and whether an
        entry was left out as one; None when it is missing or not one ExDoc wrote."""
        listed = await _get_unless_gone(self.ctx, urljoin(self.root, "llms.txt"))
        pages = _parse_llms(listed, self.root) if listed is not None else None
        if not pages:
            return None if pages is None else (pages, False)
        kept, all_kept = await _without_link_extras(self.ctx, pages)
        return kept, not all_kept

    def remember(self, stub: Response, main_url: str, main: Response, guides: _Guides
                 ) -> None:
        """Keep the index for the next run, by the root's identity.

        A 304 keeps the validators remembered before. An unsettled list (partial, or
        one that left entries out on a 404) is not remembered for this build, nor the
        main page's validators: the next run reads the index again rather than trust it
        until a rebuild.
        """
        before = self.cache
        remembered = ExdocIndexCache(
            main_url, guides.markdown, guides.sidebar,
            root=_validators_after(stub, before.root if before else None),
            main=_validators_after(main, before.main if before else None)
            if guides.settled else None,
            pages=tuple(IndexEntry(p.id, p.title, p.group) for p in guides.pages)
            if guides.settled else None,
            moved_to=self.root if self.root != self.configured else None)
        self.ctx.targets.remember(self.configured, remembered.to_state())


async def _get_unless_gone(ctx: CrawlContext, url: str, validators: Validators | None = None
                           ) -> Response | None:
    """``url``'s answer, or None when it answers 404/410 (then the next index is read)."""
    try:
        return await ctx.fetcher.get(url, validators)
    except FetchError as exc:
        if exc.status in (404, 410):
            return None
        raise


async def _without_link_extras(ctx: CrawlContext, pages: list[GuidePage]
                               ) -> tuple[list[GuidePage], bool]:
    """``pages`` read from llms.txt less the sidebar's external links; and whether
    none was left out.

    ExDoc lists a ``url`` extra (a sidebar link such as "JS Documentation" to another
    site) in llms.txt as ``[Title](id.md)``, exactly like a guide, but writes neither
    ``id.md`` nor ``id.html`` for it. So an entry whose ``.md`` and ``.html`` both answer
    404/410 is such a link, not a guide that failed, unless it is a page already watched:
    then its failure is reported as ever (a check never hides a known page). One HEAD per
    guide, on this fallback path only.
    """
    async def published(page: GuidePage) -> bool:
        if ctx.has_page(page.url):
            return True
        for url in (page.url[: -len(".html")] + ".md", page.url):
            try:
                await ctx.fetcher.get(url, method="HEAD")
                return True
            except FetchError as exc:
                if exc.status not in (404, 410):
                    return True  # not known to be absent: the page's own fetch will tell
        return False

    found = await asyncio.gather(*(published(p) for p in pages))
    kept = [p for p, ok in zip(pages, found, strict=True) if ok]
    return kept, len(kept) == len(pages)


def _validators_after(response: Response, before: Validators | None) -> Validators | None:
    """The validators to remember for ``response``: ``before`` when it answered 304."""
    if response.not_modified:
        return before
    return response.validators if response.validators.stored() else None


def _main_page_facts(html: str, url: str) -> tuple[bool, str | None]:
    """Whether the build published Markdown twins, and the sidebar script's URL.

    The parsed tree is dropped on return: with every package root discovered at once,
    trees kept alive across the next request would add up to hundreds of megabytes.
    """
    tree = LexborHTMLParser(html)
    return _has_markdown(tree), _sidebar_script(tree, url)


def _meta_refresh(html: str) -> str | None:
    tree = LexborHTMLParser(html)
    if tree.css_first("#content, #top-content, #main") is not None:
        return None
    for meta in tree.css("meta[http-equiv]"):
        if (meta.attributes.get("http-equiv") or "").lower() == "refresh":
            content = meta.attributes.get("content") or ""
            match = re.search(r"url\s*=\s*['\"]?([^'\";]+)", content, re.I)
            if match:
                return match.group(1).strip()
    return None


def _has_markdown(tree: LexborHTMLParser) -> bool:
    for link in tree.css("a[href]"):
        href = link.attributes.get("href") or ""
        if href == "llms.txt" or "copy-markdown" in (link.attributes.get("class") or ""):
            return True
    return False


def _sidebar_script(tree: LexborHTMLParser, base: str) -> str | None:
    for script in tree.css("script[src]"):
        src = script.attributes.get("src") or ""
        if re.search(r"(^|/)sidebar_items(-[A-Za-z0-9]+)?\.js$", src):
            return urljoin(base, src)
    return None


def _moved_root(configured: str, entry: Response) -> str:
    """Where the package root is now: the folder of the stub a permanent redirect of
    ``configured`` led to, else ``configured`` (a temporary redirect is no move)."""
    if not entry.moved_permanently:
        return configured
    return urljoin(entry.final_url, "./")


def _check_inside(root: str, url: str) -> None:
    if not url.startswith(root):
        raise FetchError(url, f"outside the package root {root}")


def _parse_sidebar(response: Response, root: str) -> list[GuidePage] | None:
    text = response.text
    start = text.find("=")
    if start < 0:
        return None
    try:
        nodes = json.loads(text[start + 1:].strip().rstrip(";"))
    except json.JSONDecodeError:
        return None
    extras = nodes.get("extras") if isinstance(nodes, dict) else None
    if not isinstance(extras, list):
        return None
    pages = []
    for extra in extras:
        if not isinstance(extra, dict) or extra.get("url"):
            continue  # an external link in the sidebar (e.g. "JS Documentation"), not a guide
        page_id = str(extra.get("id", ""))
        if PAGE_ID.match(page_id):
            pages.append(GuidePage(page_id, str(extra.get("title") or page_id),
                                   str(extra.get("group") or ""), f"{root}{page_id}.html"))
    return pages


def _parse_llms(response: Response, root: str) -> list[GuidePage] | None:
    """The extras ExDoc's ``llms.txt`` lists; None when it is not one ExDoc wrote.

    ExDoc writes them under ``## <extra_section>`` ("Pages" by default, any name a
    project sets: "GUIDES" for Phoenix), then under its fixed ``## Modules`` and
    ``## Mix Tasks``. So the extras section is the one that is neither and whose
    entries are not all modules (``Phoenix.Router.md``); a project that named it like
    one of those has that heading twice, and the first is the extras.
    """
    sections: list[tuple[str, list[str]]] = []
    for line in response.text.splitlines():
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        elif sections:
            sections[-1][1].append(line)
    if not sections:
        return None
    headings = [heading for heading, _ in sections]
    extras = next((lines for heading, lines in sections if heading not in LLMS_API_SECTIONS
                   and not _all_modules(lines)), None)
    if extras is None:
        extras = next((lines for heading, lines in sections if headings.count(heading) > 1),
                      None)
    if extras is None:
        return []  # only modules and tasks: the package has no guides
    pages: list[GuidePage] = []
    group = ""
    for line in extras:
        match = LLMS_LINK.match(line)
        if match:
            page_id = unquote(match["id"])  # ExDoc writes it URI-encoded
            if PAGE_ID.match(page_id):
                # Titles and groups are HTML-escaped ("How-To&#39;s"); an entry not
                # indented under a group line has no group.
                pages.append(GuidePage(page_id, unescape(match["title"]) or page_id,
                                       group if match["indent"] else "",
                                       f"{root}{page_id}.html"))
        elif line.startswith("- "):
            group = unescape(line[2:].strip())
    return pages or None


def _all_modules(lines: list[str]) -> bool:
    ids = [m["id"] for m in map(LLMS_LINK.match, lines) if m]
    return bool(ids) and all(MODULE_ID.match(unquote(i)) for i in ids)


def _linked_guides(main: Response, root: str, cache: ExdocIndexCache | None
                   ) -> list[GuidePage] | None:
    """The main page and the guides it links to: ``<id>.html`` right inside ``root``,
    module pages (``Phoenix.Router.html``) left out. Only part of the guides: never a
    list to remove pages by. Titles and groups are those last listed, if any.
    """
    remembered = cache.pages if cache is not None and cache.pages is not None else ()
    known = {e.id: (e.title, e.group) for e in remembered}
    tree = LexborHTMLParser(main.text)
    hrefs = (a.attributes.get("href") or "" for a in tree.css("a[href]"))
    pages: list[GuidePage] = []
    seen: set[str] = set()
    for link in [main.final_url, *(urljoin(main.final_url, h) for h in hrefs)]:
        url = urldefrag(link).url.split("?", 1)[0]
        if not url.startswith(root) or not url.endswith(".html"):
            continue
        page_id = unquote(url[len(root):-len(".html")])
        if (page_id in seen or page_id in NOT_GUIDES or not PAGE_ID.match(page_id)
                or MODULE_ID.match(page_id)):
            continue
        seen.add(page_id)
        title, group = known.get(page_id, (page_id, ""))
        pages.append(GuidePage(page_id, title, group, f"{root}{page_id}.html"))
    return pages or None
