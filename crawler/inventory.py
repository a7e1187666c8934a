"""What a configuration watches, and whether its URLs answer (``docwatch sources``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from crawler.config import Config
from crawler.http import Fetcher, FetchError
from crawler.pipeline import fetch_settings
from crawler.sources import make_source


@dataclass(frozen=True)
class UrlCheck:
    source: str
    url: str
    ok: bool
    detail: str  # "HTTP 200", or the error
    # Where a permanent redirect leads: the URL to put in sources.yaml instead.
    moved_to: str | None = None


def check_sources(config: Config, names: list[str] | None = None) -> list[UrlCheck]:
    """GET every URL each source depends on (one attempt each, no retries)."""
    settings = fetch_settings(config)
    settings.attempts = 1

    async def run() -> list[UrlCheck]:
        async with Fetcher(settings) as fetcher:
            async def one(source: str, url: str) -> UrlCheck:
                try:
                    response = await fetcher.get(url)
                except FetchError as exc:
                    return UrlCheck(source, url, False, exc.message)
                moved = response.final_url if response.moved_permanently else None
                return UrlCheck(source, url, True, f"HTTP {response.status}", moved)

            jobs = [one(s.name, url) for s in config.typed_sources
                    if not names or s.name in names
                    for url in make_source(s).probe_urls()]
            return list(await asyncio.gather(*jobs))

    return asyncio.run(run())
