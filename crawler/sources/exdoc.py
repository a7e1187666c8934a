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
from crawler.hexdocs import url_key
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


class ExdocSource(BaseSource):
    kind: ClassVar[str] = "exdoc"
    Config: ClassVar[type[SourceConfig]] = ExdocConfig
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
                _fetch_document(ctx, page, md_url, "md"),
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
                return await _document(ctx, page, prefetched, "html")
            return await _fetch_document(ctx, page, page.url, "html")
        except FetchError as exc:
            return Failure(page.url, exc.message, exc.attempts, exc.status)


async def _answered(response: Response) -> Response:
    return response


class _NotMarkdown(FetchError):
    """The ``.md`` twin answered something else (a login page, a download): the page's
    HTML is read instead."""


async def _fetch_document(ctx: CrawlContext, page: GuidePage, url: str, representation: str
                          ) -> Result:
    response = await ctx.fetcher.get(url, ctx.validators_for(url))
    return await _document(ctx, page, response, representation)


async def _document(ctx: CrawlContext, page: GuidePage, response: Response, representation: str
                    ) -> Result:
    """What ``response`` (the page's ``.md`` or HTML answer) says about ``page``."""
    url = response.url
    moved_to = _canonical(response.final_url) if response.moved_permanently else None
    moved_to = moved_to if moved_to != page.url else None
    if response.not_modified:
        return Unchanged(page.url, response.validators, moved_to)
    expected = MARKDOWN_TYPES if representation == "md" else HTML_TYPES
    if response.content_type and response.content_type not in expected:
        wrong_type = _NotMarkdown if representation == "md" else FetchError
        raise wrong_type(url, f"unexpected content type {response.content_type!r}",
                         response.attempts, response.status)
    extract = extract_markdown if representation == "md" else extract_exdoc
    extracted: Extracted = await ctx.offload(analysed, extract, response.text,
                                             "changelog" in page.id.lower())
    if not extracted.text.strip():
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

    The last index is remembered in ``ctx.state``: a conditional request for the main
    page answers 304 when nothing was rebuilt (then the root stub is not asked), and a
    sidebar file whose digest did not change is not fetched again (its name changes with
    its content).

    A root that answers a permanent redirect (hexdocs.pm's move to per-package
    subdomains) is followed: the pages are those under the new root, and the index says
    where the configured root moved. It is remembered by identity (hexdocs.url_key), so
    a config rewritten to the new form keeps the index.
    """
    configured = root
    key = url_key(root)
    state = ctx.state.setdefault("exdoc", {})
    cache: dict[str, Any] = state.get(key) or state.get(root) or {}
    root = cache.get("moved_to") or root
    early = await _main_first(ctx, cache) if cache.get("pages") is not None else None
    # A 304 through a permanent redirect is the same build at a new place (hexdocs.pm
    # serves the same files from the subdomain): the stub says where the root is now.
    if early is not None and early.not_modified and not early.moved_permanently:
        return PackageIndex(root, _cached_pages(cache, root), cache["markdown"], early,
                            Validators.from_stored(cache["main"]),
                            moved_from=_moved(configured, root))
    entry = await ctx.fetcher.get(configured, Validators.from_stored(cache.get("root")))
    root = _moved_root(configured, entry)
    if entry.not_modified and entry.moved_permanently:
        # The cached facts name the old place; the stub's own text names the main page.
        entry = replace(await ctx.fetcher.get(entry.final_url), moved_permanently=True)
    if entry.not_modified and cache:
        main_url = cache["main_url"]
    else:
        refresh = _meta_refresh(entry.text)
        main_url = urljoin(entry.final_url, refresh) if refresh else entry.final_url
        if refresh:
            _check_inside(root, main_url)
    cached = (Validators.from_stored(cache.get("main")) if cache.get("main_url") == main_url
              else None)
    asked_with = cached
    if main_url == entry.final_url and not entry.not_modified:
        main = entry  # the root is itself the main page
    elif early is not None and early.url == main_url:
        main = early  # asked first: a new build
    else:
        # The main page is usually a guide page as well: asked with the page's own
        # validators, one request serves discovery and the page (see _fetch_page).
        asked_with = ctx.validators_for(main_url) or cached
        main = await ctx.fetcher.get(main_url, asked_with)
        if main.not_modified and asked_with != cached:
            main = await ctx.fetcher.get(main_url)  # the cached facts are of another build
    if main.not_modified and cache.get("pages") is not None:
        pages, markdown, sidebar = _cached_pages(cache, root), cache["markdown"], cache["sidebar"]
        complete = settled = True
    else:
        markdown, sidebar = _main_page_facts(main.text, main.final_url)
        pages, complete, settled = None, True, True
        if sidebar and sidebar == cache.get("sidebar") and cache.get("pages") is not None:
            pages = _cached_pages(cache, root)
        elif sidebar:
            _check_inside(root, sidebar)
            listed = await _get_unless_gone(ctx, sidebar)
            pages = _parse_sidebar(listed, root) if listed else None
        if pages is None and markdown:
            listed = await _get_unless_gone(ctx, urljoin(root, "llms.txt"))
            pages = _parse_llms(listed, root) if listed else None
            if pages:
                pages, settled = await _without_link_extras(ctx, pages)
        if pages is None and (sidebar or markdown):
            # An ExDoc build whose index cannot be read: the guides its main page links to.
            pages, complete = _linked_guides(main, root, cache), False
    if pages is None:
        what = f"unreadable {sidebar}" if sidebar else "no ExDoc sidebar_items"
        raise FetchError(root, f"{what} or llms.txt found: is this an ExDoc root?")
    # A partial list, or one that left entries out on a 404, is not remembered for this
    # build: the next run reads the index again rather than trust it until a rebuild.
    settled = settled and complete
    state.pop(configured, None)  # remembered by its URL before it was by identity
    state[key] = {
        "moved_to": root if root != configured else None,
        "root": _stored(entry, cache.get("root")), "main_url": main_url,
        "main": _stored(main, cache.get("main")) if settled else None, "sidebar": sidebar,
        "markdown": markdown, "pages": [[p.id, p.title, p.group] for p in pages] if settled
        else None}
    return PackageIndex(root, pages, markdown, main, asked_with, complete,
                        _moved(configured, root))


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


async def _main_first(ctx: CrawlContext, cache: dict[str, Any]) -> Response | None:
    """The remembered main page, asked before the root stub.

    ExDoc writes every file of a package on each build, so a 304 here means the stub
    did not change either and need not be asked. None when the stub must be asked: the
    main page is gone, or the page's own validators are not those the index was read with.
    """
    main_url, cached = cache.get("main_url"), Validators.from_stored(cache.get("main"))
    if main_url is None or cached is None or ctx.validators_for(main_url) not in (None, cached):
        return None
    # Renamed or gone: the stub names the main page now.
    return await _get_unless_gone(ctx, main_url, cached)


def _stored(response: Response, before: list[str | None] | None) -> list[str | None] | None:
    if response.not_modified:
        return before
    return response.validators.stored()


def _cached_pages(cache: dict[str, Any], root: str) -> list[GuidePage]:
    return [GuidePage(i, t, g, f"{root}{i}.html") for i, t, g in cache["pages"]]


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


def _moved(configured: str, root: str) -> str | None:
    return configured if root != configured else None


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


def _linked_guides(main: Response, root: str, cache: dict[str, Any]) -> list[GuidePage] | None:
    """The main page and the guides it links to: ``<id>.html`` right inside ``root``,
    module pages (``Phoenix.Router.html``) left out. Only part of the guides: never a
    list to remove pages by. Titles and groups are those last listed, if any.
    """
    known = {i: (t, g) for i, t, g in cache.get("pages") or []}
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
