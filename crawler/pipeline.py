"""One run, top to bottom: config -> fetch -> extract -> store -> diff -> flag -> report.

:func:`crawl` is the library entry point the CLI (and the scheduler) call. It never touches
the process: it installs no signal handler and never exits; a caller stops a run by
setting the ``stop`` event it passed (``docwatch crawl`` does so on SIGINT/SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from crawler.config import Config, ConfigError
from crawler.cpu import Offloader, offloader
from crawler.errors import DocwatchError
from crawler.history import last_run_date
from crawler.http import Fetcher, FetchSettings, FetchStats
from crawler.report import Report, ReportUnwritable, build_report, publish
from crawler.report.deliver import deliver
from crawler.sources import SOURCE_KINDS, make_source
from crawler.sources.base import CrawlContext, Failure, Listing, SourceConfig, TargetDone
from crawler.store.db import (
    checkpoint,
    database_url,
    describe_database_error,
    open_database,
)
from crawler.store.gap_records import record_gaps
from crawler.store.lock import SourceLocks, run_lock
from crawler.store.recorder import (
    BATCH_SECONDS,
    BatchWriter,
    SourceRecorder,
    SourceTally,
    finish_run,
    start_run,
)
from crawler.store.refresh import refresh_notices
from crawler.store.skill_checks import record_skill_checks
from crawler.types import RunStatus

log = logging.getLogger(__name__)
# How often a crawl looks at its stop event (s): the longest a stop waits to be seen.
STOP_POLL_SECONDS = 0.05


class Progress:
    """Hooks for showing a run's progress; the default shows nothing."""

    def listed(self, source: str, pages: int) -> None:
        """A source's index listed ``pages`` more pages to check."""

    def advanced(self, source: str) -> None:
        """One more page (or item) of ``source`` was checked."""

    def finished(self, source: str) -> None:
        """``source`` is done."""


class StopRequest(threading.Event):
    """A stop event that remembers the signal that set it, if one did.

    Any :class:`threading.Event` stops :func:`crawl` and
    :func:`~crawler.schedule.run_schedule`; the CLI's SIGINT/SIGTERM handlers set this
    one with :meth:`set_by_signal`, so that the run's message and the scheduler's last
    log line can say that a signal stopped them.
    """

    def __init__(self) -> None:
        super().__init__()
        self.signum: int | None = None

    def set_by_signal(self, signum: int) -> None:
        """Set the event on behalf of signal ``signum`` (callable from a signal handler);
        a later signal leaves the first one named."""
        if self.signum is None:
            self.signum = signum
        self.set()


def stopping_signal(stop: threading.Event) -> int | None:
    """The signal that set ``stop``, when it is a :class:`StopRequest` a signal set."""
    return stop.signum if isinstance(stop, StopRequest) else None


@dataclass
class RunOutcome:
    """What a run did, for the CLI's exit status and summary line."""

    run_id: int
    status: RunStatus
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
    """The sources a run crawls: ``names``, or every configured one (at least one)."""
    if not config.typed_sources:
        raise ConfigError([f"{config.where('sources')}: sources: no source is configured "
                           "(see `docwatch init` for a starter sources.yaml)"])
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


class RunDateRefused(DocwatchError):
    """A run's logical date that would put the history out of date order (before the
    last run's) or is implausible (before 2000, after tomorrow), unless backfilling."""


# Dates a run may carry without ``backfill``: docs of this century, and no later than
# tomorrow (a cron job just after midnight somewhere east of UTC).
EARLIEST_RUN_DATE = dt.date(2000, 1, 1)


def check_run_date(engine: Engine, date: dt.date, *, backfill: bool = False,
                   today: dt.date | None = None) -> None:
    """Raise :class:`RunDateRefused` unless ``date`` may be recorded: not before the
    last run's date (history is read in date order), not implausibly far from
    ``today``. ``backfill`` records it anyway."""
    if backfill:
        return
    today = today or dt.datetime.now(dt.UTC).date()
    if not EARLIEST_RUN_DATE <= date <= today + dt.timedelta(days=1):
        raise RunDateRefused(f"run date {date.isoformat()} is implausible (today is "
                             f"{today.isoformat()}); pass --backfill to record it anyway")
    last = last_run_date(engine)
    if last is not None and date < last:
        raise RunDateRefused(
            f"run date {date.isoformat()} is before the last run's ({last.isoformat()}): "
            "history is kept in date order; pass --backfill to record an older date anyway")


def crawl(config: Config, *, date: dt.date | None = None, sources: list[str] | None = None,
          database: str | None = None, engine: Engine | None = None,
          progress: Progress | None = None,
          stop: threading.Event | None = None, backfill: bool = False) -> RunOutcome:
    """Crawl the selected sources, record what changed and write the dated report.

    Setting ``stop`` (from any thread, or from a signal handler the caller installed)
    stops the run between pages: pages in flight are abandoned, every page it finished
    is stored, and the run is recorded and reported as interrupted. Once the pages are
    done ``stop`` is no longer looked at: the run's end is recorded and its report
    written all the same, and the caller decides what a late stop means.

    Raises :class:`RunDateRefused` for a ``date`` before the last run's (unless
    ``backfill``), :class:`~crawler.config.ConfigError` for a source name that is not
    configured and :class:`~crawler.store.lock.RunLocked` when another run holds one of
    the selected sources (runs of disjoint sources go on side by side). Any other
    exception is recorded as the run's failure, then re-raised.
    """
    selected = select_sources(config, sources)
    run_date = date or dt.datetime.now(dt.UTC).date()
    engine = engine or open_database(database_url(database))
    held: SourceLocks | None = None
    try:
        with run_lock(engine, [s.name for s in selected]) as locks:
            held = locks
            check_run_date(engine, run_date, backfill=backfill)
            return _locked_crawl(config, selected, run_date, engine, locks,
                                 progress or Progress(),
                                 stop if stop is not None else threading.Event())
    finally:
        if held is not None:
            _checkpoint_when_alone(engine, held)


def _checkpoint_when_alone(engine: Engine, locks: SourceLocks) -> None:
    """Once the run's locks are released (its last write), empty SQLite's write-ahead log
    into the database file, so that the file alone is a backup; not while another run
    writes (a checkpoint would hold it up), nor when the database itself failed."""
    if engine.dialect.name != "sqlite":
        return
    try:
        if locks.alone():
            checkpoint(engine)
    except DBAPIError as exc:
        log.warning("the write-ahead log was not checkpointed: %s",
                    describe_database_error(exc))


def _locked_crawl(config: Config, selected: list[SourceConfig], run_date: dt.date,
                  engine: Engine, locks: SourceLocks, progress: Progress,
                  stop: threading.Event) -> RunOutcome:
    run_id = start_run(engine, run_date, [s.name for s in selected], locks)
    log.info("run %d started: %s", run_id, ", ".join(s.name for s in selected))
    writer = BatchWriter(engine)
    recorders: list[SourceRecorder] = []
    status, message = RunStatus.COMPLETED, None
    fetch_stats = FetchStats()
    try:
        # Inside the try: a database that fails while the sources' memory is read (a
        # damaged page of its file) closes the run as failed, never leaves it running.
        recorders.extend(
            SourceRecorder.open(engine, run_id, s.name, s.kind,
                                remove_after_missing=SOURCE_KINDS[s.kind].remove_after_missing,
                                run_date=run_date, alerts=config.alerts, writer=writer,
                                by_target=SOURCE_KINDS[s.kind].memory_by_target)
            for s in selected)
        stopped = _run_until_stopped(_crawl_all(config, selected, recorders, writer,
                                                fetch_stats, progress), stop)
    except KeyboardInterrupt:
        # The caller's own SIGINT handler (Python's default): a stop, not a crash.
        finish_run(engine, run_id, RunStatus.INTERRUPTED, _stats(recorders, fetch_stats),
                   "stopped by KeyboardInterrupt before every page was checked")
        raise
    except BaseException as exc:
        _record_failure(engine, run_id, _stats(recorders, fetch_stats), exc)
        raise
    if stopped:
        how = "by a signal" if stopping_signal(stop) is not None else "on request"
        status, message = RunStatus.INTERRUPTED, f"stopped {how} before every page was checked"
    try:
        return _finish(config, selected, run_id, run_date, engine, locks, recorders,
                       fetch_stats, status, message)
    except (DBAPIError, ReportUnwritable) as exc:
        # The pages are stored but the run's end failed (the database, reading for the
        # report or recording the skills; the report folder, full or read-only): the run
        # is not 'completed' with no report, it failed, saying why.
        _record_failure(engine, run_id, _stats(recorders, fetch_stats), exc)
        raise


def _record_failure(engine: Engine, run_id: int, stats: dict[str, int],
                    exc: BaseException) -> None:
    """Close the run as failed, saying why in one sentence, where the database still
    accepts the write; the exception that failed the run is what the caller sees."""
    if isinstance(exc, DBAPIError):
        message = describe_database_error(exc)
    elif isinstance(exc, DocwatchError):
        message = str(exc)  # already a sentence for the user
    else:
        message = f"{type(exc).__name__}: {exc}"
    try:
        finish_run(engine, run_id, RunStatus.FAILED, stats, message)
    except DBAPIError as second:  # the database itself failed: a later run closes it
        log.warning("run %d could not be marked failed: %s", run_id,
                    describe_database_error(second))


def _finish(config: Config, selected: list[SourceConfig], run_id: int, run_date: dt.date,
            engine: Engine, locks: SourceLocks, recorders: list[SourceRecorder],
            fetch_stats: FetchStats, status: RunStatus, message: str | None) -> RunOutcome:
    """Record the run's end, then prune, report and deliver."""
    finish_run(engine, run_id, status, _stats(recorders, fetch_stats), message)
    # One run's end at a time: the report written last has seen every run ended before.
    with locks.reporting():
        if any(config.history_for(s.name).prune_after_run for s in selected):
            _prune(config, engine, locks, run_date)
        refresh_notices(engine)  # pages unchanged since an older docwatch read them
        report = build_report(engine, config, run_date)
        paths = publish(report, config)
        record_skill_checks(engine, report.skill_checks)  # for the next report's Decisions
        record_gaps(engine, report.date, report.gaps, report.covered_gaps)  # ... and its gaps
    problems = deliver(report, paths, config)
    tallies = {r.source: r.tally for r in recorders}
    outcome = RunOutcome(run_id, status, run_date, paths, tallies, problems, report)
    log.info("run %d %s: %d pages checked, %d changed, %d errors", run_id, status,
             outcome.pages_checked, outcome.changed, outcome.errors)
    return outcome


def _prune(config: Config, engine: Engine, locks: SourceLocks, run_date: dt.date) -> None:
    """Prune the run's sources and every other one no run is crawling now (held
    meanwhile); another run's sources are left to it, and so is the file's vacuum."""
    from crawler.store.prune import known_sources, prune

    others = locks.take_free(set(known_sources(engine, config)) - set(locks.sources))
    try:
        prune(engine, config, today=run_date, only=locks.sources, vacuum=locks.alone())
    finally:
        locks.release_sources(others)


def _run_until_stopped(work: Coroutine[object, object, None], stop: threading.Event) -> bool:
    """Run ``work`` on an event loop of its own; True when ``stop`` cancelled it.

    Not :func:`asyncio.run`, which installs a SIGINT handler of its own while it runs.
    """
    with asyncio.Runner() as runner:
        return runner.get_loop().run_until_complete(_until_stopped(work, stop))


async def _until_stopped(work: Coroutine[object, object, None], stop: threading.Event) -> bool:
    """Await ``work`` unless ``stop`` is set first: then cancel it (pages in flight are
    abandoned, not half-written) and return True."""
    task = asyncio.ensure_future(work)
    while not stop.is_set():
        # Polled: a threading.Event cannot wake the loop, and set() may come from a
        # signal handler, which must not reach into the loop.
        done, _pending = await asyncio.wait({task}, timeout=STOP_POLL_SECONDS)
        if done:
            break
    if task.done():
        task.result()  # the crawl's own exception, if it had one
        return False
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return True


async def _crawl_all(config: Config, selected: list[SourceConfig],
                     recorders: list[SourceRecorder], writer: BatchWriter, stats: FetchStats,
                     progress: Progress) -> None:
    committer = asyncio.ensure_future(_commit_while_waiting(writer))
    try:
        with offloader() as cpu:
            async with Fetcher(fetch_settings(config), stats) as fetcher:
                await asyncio.gather(*(_crawl_source(fetcher, source, recorder, progress, cpu)
                                       for source, recorder in zip(selected, recorders,
                                                                   strict=True)))
    finally:
        committer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await committer


async def _commit_while_waiting(writer: BatchWriter) -> None:
    """Commit a batch that has been open too long while every page is still on its way:
    no write transaction waits on the network (on SQLite it would hold up the writes of
    a run of other sources)."""
    while True:
        await asyncio.sleep(BATCH_SECONDS)
        writer.flush_if_old()


async def _crawl_source(fetcher: Fetcher, source: SourceConfig, recorder: SourceRecorder,
                        progress: Progress, cpu: Offloader) -> None:
    ctx = CrawlContext(fetcher, recorder.validators_for, recorder.has_page, recorder.page_meta,
                       recorder.state, cpu.run, targets=recorder,
                       open_target=recorder.open_target)
    crawler = make_source(source)
    try:
        async for result in crawler.crawl(ctx):
            recorder.record(result)
            if isinstance(result, Listing):
                progress.listed(source.name, len(result.urls))
            elif not isinstance(result, TargetDone):
                progress.advanced(source.name)
    except DBAPIError:
        raise  # the database itself: no source can be recorded (the CLI says so)
    except Exception as exc:
        # One source's bug must not cost the others their night, nor the report its
        # facts: the source ends here, its failure is a fetch problem of the report.
        log.exception("source %s crashed", source.name)
        where = next(iter(crawler.probe_urls()), source.name)
        recorder.record(Failure(where, f"docwatch could not crawl this source "
                                       f"({type(exc).__name__}: {exc}); the other sources "
                                       "were crawled", page=False))
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
