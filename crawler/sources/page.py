"""``kind: page``: any single page, with an optional content selector and ignored lines.

A page is removed only after answering 404/410 on two consecutive runs: one bad
night of a web server is not a deletion.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import field_validator

from crawler.extract import extract_html
from crawler.http import FetchError
from crawler.sources.base import (
    BaseSource,
    CrawlContext,
    CssSelector,
    Document,
    Emit,
    Failure,
    Result,
    SourceConfig,
    Unchanged,
)

HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
PAGE_CHROME = ("script", "style", "nav", "header", "footer", "noscript")


class PageConfig(SourceConfig):
    kind: str = "page"
    select: CssSelector | None = None
    # Regular expressions; a normalised line matching one is dropped (dates, counters).
    ignore: list[str] = []

    @field_validator("ignore")
    @classmethod
    def _valid_regexes(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        return patterns


def drop_ignored(text: str, patterns: list[re.Pattern[str]]) -> str:
    if not patterns:
        return text
    kept = [line for line in text.split("\n") if not any(p.search(line) for p in patterns)]
    return "\n".join(kept)


class PageSource(BaseSource):
    kind: ClassVar[str] = "page"
    Config: ClassVar[type[SourceConfig]] = PageConfig
    remove_after_missing: ClassVar[int | None] = 2
    config: PageConfig

    def __init__(self, config: PageConfig):
        super().__init__(config)
        self.ignore = [re.compile(p) for p in config.ignore]

    async def crawl_one(self, ctx: CrawlContext, url: str, emit: Emit) -> None:
        await emit(await self._fetch(ctx, url))

    async def _fetch(self, ctx: CrawlContext, url: str) -> Result:
        try:
            response = await ctx.fetcher.get(url, ctx.validators_for(url))
        except FetchError as exc:
            return Failure(url, exc.message, exc.attempts, exc.status)
        moved_to = response.final_url if response.moved_permanently else None
        if response.not_modified:
            return Unchanged(url, response.validators, moved_to)
        if response.content_type and response.content_type not in HTML_TYPES:
            return Failure(url, f"unexpected content type {response.content_type!r}",
                           response.attempts, response.status)
        extracted = extract_html(response.text, select=self.config.select, drop=PAGE_CHROME)
        text = drop_ignored(extracted.text, self.ignore)
        if not text or text.isspace():  # not strip(): it would copy a long page
            where = f"selector {self.config.select!r}" if self.config.select else "the page"
            return Failure(url, f"no content found in {where}", response.attempts,
                           response.status)
        return Document(url, extracted.title or url, text, response.final_url,
                        response.validators, "html", moved_to=moved_to)
