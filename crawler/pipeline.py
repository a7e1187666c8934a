"""One run, top to bottom: config -> fetch -> extract -> store -> diff -> flag -> report.

:func:`crawl` is the library entry point the CLI (and the scheduler) call.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from crawler.config import Config, ConfigError
from crawler.cpu import Offloader, offloader
from crawler.http import Fetcher, FetchSettings, FetchStats
from crawler.report import Report, build_report, publish
from crawler.report.deliver import deliver
from crawler.sources import SOURCE_KINDS, make_source
from crawler.sources.base import CrawlContext, Listing, SourceConfig
from crawler.store.db import database_url, open_database
from crawler.store.lock import run_lock
from crawler.store.recorder import (
    BatchWriter,
    SourceRecorder,
    SourceTally,
    finish_run,
    start_run,
)

log = logging.getLogger(__name__)


class Progress:
    """Hooks for showing a run's progress; the default shows nothing."""

    def listed(self, source: str, pages: int) -> None:
        """A source's index listed ``pages`` more pages to check."""

    def advanced(self, source: str) -> None:
        """One more page (or item) of ``source`` was checked."""

    def finished(self, source: str) -> None:
        """``source`` is done."""


@dataclass
class RunOutcome:
    """What a run did, for the CLI's exit status and summary line."""

    run_id: int
    status: str
    date: dt.date
    report_paths: list[Path]
    tallies: dict[str, SourceTally] = field(default_factory=dict)
    delivery_problems: list[str] = field(default_factory=list)
    report: Report | None = field(default=None, repr=False)  # what the report files say

    @property
    def pages_checked(self) -> int:
        return sum(t.checked for t in self.tallies.values())

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.tallies.values())

    @property
    def changed(self) -> int:
        return sum(t.changed for t in self.tallies.values())

    @property
    def all_failed(self) -> bool:
        """Every fetch failed: nothing at all was learned in this run."""
        return self.errors > 0 and all(t.errors >= max(t.checked, 1)
                                       for t in self.tallies.values())


def select_sources(config: Config, names: list[str] | None) -> list[SourceConfig]:
    if not names:
        return list(config.typed_sources)
    known = {s.name for s in config.typed_sources}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError([f"{config.path}: no source named {', '.join(map(repr, unknown))} "
                           f"(configured: {', '.join(sorted(known)) or 'none'})"])
    return [s for s in config.typed_sources if s.name in names]


def fetch_settings(config: Config) -> FetchSettings:
    """The fetcher's limits: the ``http:`` block, key for key."""
    return FetchSettings(**config.http.model_dump())


def crawl(config: Config, *, date: dt.date | None = None, sources: list[str] | None = None,
          database: str | None = None, engine: Engine | None = None,
          progress: Progress | None = None) -> RunOutcome:
    """Crawl the selected sources, record what changed and write the dated report.

    Raises :class:`~crawler.store.lock.RunLocked` when another run holds the database.
    SIGINT/SIGTERM stop the run between pages: it is recorded (and reported) as
    interrupted, and every page it finished is stored.
    """
    selected = select_sources(config, sources)
    run_date = date or dt.datetime.now(dt.UTC).date()
    engine = engine or open_database(database_url(database))
    with run_lock(engine):
        return _locked_crawl(config, selected, run_date, engine, progress or Progress())


def _locked_crawl(config: Config, selected: list[SourceConfig], run_date: dt.date,
                  engine: Engine, progress: Progress) -> RunOutcome:
    run_id = start_run(engine, run_date, [s.name for s in selected])
    log.info("run %d started: %s", run_id, ", ".join(s.name for s in selected))
    writer = BatchWriter(engine)
    recorders = [SourceRecorder.open(engine, run_id, s.name, s.kind,
                                     remove_after_missing=SOURCE_KINDS[s.kind].remove_after_missing,
                                     run_date=run_date, alerts=config.alerts, writer=writer)
                 for s in selected]
    status, message = "completed", None
    fetch_stats = FetchStats()
    with _signals_kept():
        try:
            asyncio.run(_until_signalled(_crawl_all(config, selected, recorders, fetch_stats,
                                                    progress)))
        except (KeyboardInterrupt, asyncio.CancelledError):
            status, message = "interrupted", "stopped by a signal before every page was checked"
        except BaseException as exc:
            finish_run(engine, run_id, "failed", _stats(recorders, fetch_stats),
                       f"{type(exc).__name__}: {exc}")
            raise
        with _signals_deferred():
            return _finish(config, selected, run_id, run_date, engine, recorders, fetch_stats,
                           status, message)


def _finish(config: Config, selected: list[SourceConfig], run_id: int, run_date: dt.date,
            engine: Engine, recorders: list[SourceRecorder], fetch_stats: FetchStats,
            status: str, message: str | None) -> RunOutcome:
    """Record the run's end, then prune, report and deliver."""
    finish_run(engine, run_id, status, _stats(recorders, fetch_stats), message)
    if any(config.history_for(s.name).prune_after_run for s in selected):
        from crawler.store.prune import prune

        prune(engine, config, today=run_date)
    report = build_report(engine, config, run_date)
    paths = publish(report, config)
    problems = deliver(report, paths, config)
    tallies = {r.source: r.tally for r in recorders}
    outcome = RunOutcome(run_id, status, run_date, paths, tallies, problems, report)
    log.info("run %d %s: %d pages checked, %d changed, %d errors", run_id, status,
             outcome.pages_checked, outcome.changed, outcome.errors)
    return outcome


@contextlib.contextmanager
def _signals_kept():
    """Restore the SIGINT/SIGTERM handlers the caller had (asyncio resets them to default
    when it removes its own, which would let a late signal kill the process)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_deferred():
    """While the report is written, a SIGINT/SIGTERM waits: the run's end is not lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    saved = {signum: signal.signal(signum, lambda n, _f: received.append(n))
             for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        if received:
            log.warning("signal %d received while the report was written: stopping now",
                        received[0])
            signal.raise_signal(received[0])


async def _until_signalled(work) -> None:
    """Run ``work``; SIGINT/SIGTERM cancel it (in-flight pages are abandoned, not half-written)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(signum, task.cancel)
            installed.append(signum)
    try:
        await task
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def _crawl_all(config: Config, selected: list[SourceConfig],
                     recorders: list[SourceRecorder], stats: FetchStats,
                     progress: Progress) -> None:
    with offloader() as cpu:
        async with Fetcher(fetch_settings(config), stats) as fetcher:
            await asyncio.gather(*(_crawl_source(fetcher, source, recorder, progress, cpu)
                                   for source, recorder in zip(selected, recorders,
                                                               strict=True)))


async def _crawl_source(fetcher: Fetcher, source: SourceConfig, recorder: SourceRecorder,
                        progress: Progress, cpu: Offloader) -> None:
    ctx = CrawlContext(fetcher, recorder.validators_for, recorder.has_page, recorder.page_meta,
                       recorder.state, cpu.run)
    try:
        async for result in make_source(source).crawl(ctx):
            recorder.record(result)
            if isinstance(result, Listing):
                progress.listed(source.name, len(result.urls))
            else:
                progress.advanced(source.name)
    finally:
        recorder.flush()  # an interrupted run keeps every page it finished
    recorder.finish()
    progress.finished(source.name)


def _stats(recorders: list[SourceRecorder], fetch: FetchStats) -> dict[str, int]:
    return {
        "requests": fetch.requests,
        "not_modified": fetch.not_modified,
        "bytes_received": fetch.bytes_received,
        "pages_checked": sum(r.tally.checked for r in recorders),
        "pages_unchanged": sum(r.tally.unchanged for r in recorders),
        "pages_changed": sum(r.tally.changed for r in recorders),
        "errors": sum(r.tally.errors for r in recorders),
    }
