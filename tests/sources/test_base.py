"""What every source kind shares: its targets crawled a bounded number at a time, each
opened before it is crawled and said done after its last result."""

from __future__ import annotations

import asyncio

from crawler.http import Fetcher, FetchSettings
from crawler.sources.base import (
    TARGETS_IN_FLIGHT,
    TARGETS_PER_SLOT,
    BaseSource,
    CrawlContext,
    Emit,
    Failure,
    Result,
    SourceConfig,
    TargetDone,
)


class CountingSource(BaseSource):
    """A source whose targets take a while each, counting how many are crawled at once."""

    kind = "counting"
    Config = SourceConfig

    def __init__(self, config: SourceConfig):
        super().__init__(config)
        self.active = self.most = 0
        self.opened: list[str] = []

    async def crawl_one(self, ctx: CrawlContext, target: str, emit: Emit) -> None:
        assert target in self.opened
        self.active += 1
        self.most = max(self.most, self.active)
        await asyncio.sleep(0.001)
        self.active -= 1
        await emit(Failure(target, "counted", 1))


def crawl_targets(count: int, concurrency: int) -> tuple[CountingSource, list[Result]]:
    """The source and its results, each target's TargetDone checked and left out."""
    async def go() -> tuple[CountingSource, list[Result]]:
        urls = [f"http://127.0.0.1:9/{i}" for i in range(count)]
        source = CountingSource(SourceConfig(name="many", kind="counting", urls=urls))
        async with Fetcher(FetchSettings(concurrency=concurrency)) as fetcher:
            ctx = CrawlContext(fetcher, validators_for=lambda u: None,
                               open_target=source.opened.append)
            results = [r async for r in source.crawl(ctx)]
        done = [r.target for r in results if isinstance(r, TargetDone)]
        assert sorted(done) == sorted(urls) == sorted(source.opened)
        for target in urls:  # after the target's own results
            assert results.index(TargetDone(target)) > next(
                i for i, r in enumerate(results) if getattr(r, "url", None) == target)
        return source, [r for r in results if not isinstance(r, TargetDone)]
    return asyncio.run(go())


def test_a_source_of_thousands_of_targets_crawls_a_bounded_number_at_once():
    # 2,000 package roots would otherwise hold every root's index and pages at once.
    source, results = crawl_targets(2000, concurrency=16)
    assert sorted(r.url for r in results) == sorted(f"http://127.0.0.1:9/{i}" for i in range(2000))
    assert source.most == TARGETS_IN_FLIGHT


def test_more_request_slots_keep_more_targets_in_flight():
    source, results = crawl_targets(2000, concurrency=64)
    assert len(results) == 2000
    assert source.most == TARGETS_PER_SLOT * 64


def test_a_source_of_few_targets_crawls_them_all_at_once():
    source, results = crawl_targets(5, concurrency=16)
    assert len(results) == 5 and source.most == 5
