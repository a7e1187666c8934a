"""``docwatch schedule``: run the crawl in the foreground on the ``schedule:`` of sources.yaml.

The APScheduler (3.x) ``BackgroundScheduler`` decides *when*; each run itself happens on
the thread that called :func:`run_schedule`, the one that watches its ``stop`` event:
a stop between runs ends the loop at once, and the same event, handed to
:func:`crawler.pipeline.crawl`, stops a run between pages (recorded as interrupted).
Like ``crawl``, it never touches the process: ``docwatch schedule`` installs the
SIGINT/SIGTERM handlers that set ``stop`` and turns the :class:`ScheduleOutcome` into
the exit status.

- Never two runs at once: the job has ``max_instances=1``, and a fire time that comes
  while a run is still going is skipped (and logged), not queued.
- ``coalesce=True`` and ``misfire_grace_time=schedule.grace_seconds``: runs missed
  while the machine slept run once on wake-up, if it wakes within the grace period.
- Each run re-reads the configuration, so edits apply without a restart (an edited
  ``schedule:`` is read by the next run and used from then on); a configuration that
  became invalid is logged and that run is skipped. A run that finds the database
  held by another run (a manual ``docwatch crawl``) is logged and skipped.
- ``stop`` set between runs stops the scheduler at once; during a run it interrupts the
  run the way ``docwatch crawl`` is interrupted, then the scheduler stops.

``schedule.cron`` is a crontab expression with crontab's meanings (``0`` and ``7`` are
Sunday; when both day of month and day of week are restricted, either one matching is
enough), the ``@daily``-style macros, or six fields with the seconds first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from apscheduler.schedulers.background import (
    BackgroundScheduler,
)
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger

from crawler.config import Config, ConfigError, ScheduleConfig, load_config
from crawler.cron import make_trigger, next_fire_times, parse_timezone
from crawler.pipeline import RunOutcome, crawl, stopping_signal
from crawler.store.lock import RunLocked
from crawler.types import RunStatus

log = logging.getLogger("docwatch.schedule")

JOB_ID = "docwatch-crawl"
# How often the waiting loop looks at ``stop`` and at the wall clock (s).
POLL_SECONDS = 0.2
# A wall clock that moved this much against the monotonic one (suspend, NTP step) wakes
# the scheduler, whose own waits run on the monotonic clock and would oversleep.
CLOCK_JUMP_SECONDS = 1.0

def schedule_trigger(config: Config) -> BaseTrigger:
    """The trigger of ``config.schedule``; a :class:`ConfigError` (file:line: field) if bad."""
    schedule = config.schedule
    try:
        parse_timezone(schedule.timezone)
    except ValueError as exc:
        field = "timezone"
        problem = str(exc)
    else:
        try:
            return make_trigger(schedule.cron, schedule.timezone)
        except ValueError as exc:
            field = "cron"
            problem = str(exc)
    raise ConfigError([f"{config.where('schedule', field)}: schedule.{field}: {problem}"])


def grace_time(grace_seconds: int) -> int:
    """APScheduler's ``misfire_grace_time`` for ``grace_seconds``.

    At least one second: APScheduler counts a run that starts any later than its grace
    time as missed, and even an on-time run starts a few milliseconds late.
    """
    return max(int(grace_seconds), 1)


def _when(moment: dt.datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S %Z}" if moment is not None else "never"


def _describe(schedule: ScheduleConfig) -> str:
    return f"{schedule.cron!r} ({schedule.timezone}), grace {schedule.grace_seconds}s"


# -- the scheduler ------------------------------------------------------------------------

def source_groups(config: Config) -> dict[str, list[str]]:
    """Sources grouped by the cron expression they run on (their own, else the global one).

    With no source schedule of its own, one group: every source on ``schedule.cron``.
    """
    groups: dict[str, list[str]] = {}
    for source in config.typed_sources:
        groups.setdefault(source.schedule or config.schedule.cron, []).append(source.name)
    return groups or {config.schedule.cron: []}


def source_triggers(config: Config) -> dict[str, BaseTrigger]:
    """A trigger per source-level cron expression; a :class:`ConfigError` if one is bad."""
    triggers = {}
    for i, source in enumerate(config.typed_sources):
        if source.schedule and source.schedule not in triggers:
            try:
                triggers[source.schedule] = make_trigger(source.schedule,
                                                         config.schedule.timezone)
            except ValueError as exc:
                raise ConfigError([f"{config.where('sources')}: sources[{i}].schedule: {exc}"]
                                  ) from None
    return triggers


def _add_jobs(scheduler: BaseScheduler, config: Config, job: Callable[..., object],
              trigger: BaseTrigger) -> None:
    grace = grace_time(config.schedule.grace_seconds)
    groups = source_groups(config)
    if len(groups) == 1:
        # One schedule for everything: the job crawls every source.
        scheduler.add_job(job, trigger, id=JOB_ID, name="docwatch crawl", max_instances=1,
                          coalesce=True, misfire_grace_time=grace, replace_existing=True)
        return
    own = source_triggers(config)
    for cron, names in groups.items():
        scheduler.add_job(job, own.get(cron, trigger), args=[names], id=f"{JOB_ID}:{cron}",
                          name=f"docwatch crawl {', '.join(names)}", max_instances=1,
                          coalesce=True, misfire_grace_time=grace, replace_existing=True)


def build_scheduler(config: Config, job: Callable[..., object], *,
                    trigger: BaseTrigger | None = None) -> BaseScheduler:
    """A scheduler (not started) that calls ``job`` on ``config.schedule``.

    Sources with a ``schedule:`` of their own get a job each (grouped by cron
    expression), called with their names; without any, one job crawls every source.
    A job never runs twice at once; missed runs coalesce into one, run if they are at
    most ``grace_seconds`` late. Skipped and missed runs are logged. Raises
    :class:`ConfigError` if a schedule is invalid.
    """
    schedule = config.schedule
    trigger = trigger or schedule_trigger(config)
    scheduler = BackgroundScheduler(timezone=parse_timezone(schedule.timezone))
    _add_jobs(scheduler, config, job, trigger)

    def on_event(event: SchedulerEvent) -> None:
        if isinstance(event, JobSubmissionEvent) and event.code == EVENT_JOB_MAX_INSTANCES:
            for due in event.scheduled_run_times:
                log.warning("run due at %s skipped: the previous run is still going",
                            _when(due))
        elif isinstance(event, JobExecutionEvent) and event.code == EVENT_JOB_MISSED:
            current = scheduler.get_job(event.job_id)
            grace = current.misfire_grace_time if current else schedule.grace_seconds
            log.warning("run due at %s missed: more than %ss late (schedule.grace_seconds)",
                        _when(event.scheduled_run_time), grace)

    scheduler.add_listener(on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
    return scheduler


class ScheduledRun:
    """One scheduled run: re-read the configuration, crawl, log one line at start and end.

    Calling it raises no :class:`Exception`: an invalid configuration, a database held
    by another run, or a failed run is logged and the call returns ``None``.
    """

    def __init__(self, config_path: Path, database: str | None,
                 crawl_fn: Callable[..., RunOutcome] = crawl):
        self.config_path = Path(config_path)
        self.database = database
        self.crawl_fn = crawl_fn
        #: The last valid configuration read, and its trigger.
        self.config: Config | None = None
        self.trigger: BaseTrigger | None = None

    def __call__(self, sources: list[str] | None = None) -> RunOutcome | None:
        try:
            config = load_config(self.config_path)
            trigger = schedule_trigger(config)
            source_triggers(config)
        except ConfigError as exc:
            log.error("run skipped: the configuration is invalid: %s", "; ".join(exc.problems))
            return None
        self.config, self.trigger = config, trigger
        known = {s.name for s in config.typed_sources}
        if sources:
            sources = [n for n in sources if n in known]
            if not sources:  # an empty list would mean "every source" to crawl()
                log.warning("run skipped: none of its sources is in the configuration now")
                return None
        else:
            sources = None
        names = ", ".join(sources or (s.name for s in config.typed_sources)) or "(none)"
        log.info("run starting: sources %s", names)
        started = time.monotonic()
        try:
            outcome = self.crawl_fn(config, database=self.database, sources=sources)
        except RunLocked as exc:
            log.warning("run skipped: %s", exc)
            return None
        except Exception as exc:
            log.error("run failed after %.1fs: %s: %s", time.monotonic() - started,
                      type(exc).__name__, exc, exc_info=True)
            return None
        elapsed = time.monotonic() - started
        clean = outcome.status == RunStatus.COMPLETED and not outcome.errors \
            and not outcome.delivery_problems
        delivery = f"; {len(outcome.delivery_problems)} delivery problem(s)" \
            if outcome.delivery_problems else ""
        log.log(logging.INFO if clean else logging.WARNING,
                "run %d %s: %d pages checked, %d changed, %d errors in %.1fs%s",
                outcome.run_id, outcome.status, outcome.pages_checked, outcome.changed,
                outcome.errors, elapsed, delivery)
        return outcome


class _Handoff:
    """Carries each fired job from the scheduler's worker thread to the running thread.

    The job (:meth:`fire`) waits until the run is over, so APScheduler sees the job as
    running for the whole run and skips fire times that come meanwhile.
    """

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[threading.Event, list[str] | None]] = queue.Queue()
        self._closed = False

    def fire(self, sources: list[str] | None = None) -> None:
        """The scheduled job: ask for a run (of ``sources``, or all) and wait until it is
        done (or we shut down). Runs asked for by several jobs happen one after another."""
        done = threading.Event()
        self._requests.put((done, sources))
        while not done.wait(POLL_SECONDS):
            if self._closed:
                return

    def take(self, timeout: float) -> tuple[threading.Event, list[str] | None] | None:
        """The next run asked for, within ``timeout`` seconds: its done event (set it when
        the run is over) and its sources."""
        try:
            return self._requests.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Release every waiting job: no run is coming."""
        self._closed = True
        while (pending := self.take(0)) is not None:
            done, _sources = pending
            done.set()


class _ClockWatch:
    """Notices the wall clock jumping against the monotonic clock (suspend, NTP step)."""

    def __init__(self, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self._wall, self._monotonic = wall, monotonic
        self._offset = wall() - monotonic()

    def jumped(self) -> bool:
        offset = self._wall() - self._monotonic()
        moved = abs(offset - self._offset) > CLOCK_JUMP_SECONDS
        self._offset = offset
        return moved


class ScheduleOutcome(StrEnum):
    """How :func:`run_schedule` ended."""

    CONFIG_INVALID = "config invalid"  # at startup (its schedule included): nothing ran
    STOPPED = "stopped"  # ``stop`` was set between runs (or as a run finished)
    RUN_INTERRUPTED = "run interrupted"  # ``stop`` interrupted a run, then the scheduler


def run_schedule(config_path: Path, database: str | None, *,
                 stop: threading.Event | None = None) -> ScheduleOutcome:
    """Run the crawl on the configuration's schedule until ``stop`` is set.

    ``stop`` may be set from any thread or from a signal handler the caller installed:
    between runs the scheduler stops at once (:attr:`ScheduleOutcome.STOPPED`); during
    a run, the run is interrupted as :func:`crawler.pipeline.crawl` says, then the
    scheduler stops (:attr:`ScheduleOutcome.RUN_INTERRUPTED`). An invalid configuration
    (its schedule included) at startup is logged and returns
    :attr:`ScheduleOutcome.CONFIG_INVALID`. Logs to ``docwatch.schedule``.
    """
    stop = stop if stop is not None else threading.Event()
    try:
        config = load_config(config_path)
        trigger = schedule_trigger(config)
        source_triggers(config)
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("%s", problem)
        return ScheduleOutcome.CONFIG_INVALID

    handoff = _Handoff()
    scheduler = build_scheduler(config, handoff.fire, trigger=trigger)
    current = config
    ended = ScheduleOutcome.STOPPED
    with _quiet_apscheduler():
        runner = ScheduledRun(config_path, database, crawl_fn=functools.partial(crawl, stop=stop))
        scheduler.start()
        for job in scheduler.get_jobs():
            log.info("scheduled %s%s; next run at %s", _label(job), _describe(current.schedule),
                     _when(job.next_run_time))
        clock = _ClockWatch()
        try:
            while not stop.is_set():
                if clock.jumped():
                    scheduler.wakeup()
                taken = handoff.take(POLL_SECONDS)
                if taken is None:
                    continue
                request, names = taken
                try:
                    if stop.is_set():
                        break
                    outcome = runner(names)
                finally:
                    request.set()
                if outcome is not None and outcome.status == RunStatus.INTERRUPTED:
                    ended = ScheduleOutcome.RUN_INTERRUPTED
                    break
                current = _apply_schedule_change(scheduler, runner, current, handoff.fire)
        finally:
            handoff.close()
            scheduler.shutdown(wait=False)
    log.info("scheduler stopped: %s", _stop_reason(ended, stopping_signal(stop)))
    return ended


def _stop_reason(ended: ScheduleOutcome, signum: int | None) -> str:
    """Why the scheduler stopped, for its last log line."""
    if ended == ScheduleOutcome.RUN_INTERRUPTED:
        return "run interrupted by a signal" if signum is not None \
            else "run interrupted: stop requested"
    return f"received {signal.Signals(signum).name}" if signum is not None else "stop requested"


@contextlib.contextmanager
def _quiet_apscheduler() -> Iterator[None]:
    """Keep APScheduler to its errors: its warnings repeat ours (skipped, missed runs).

    Left alone when the application configured the ``apscheduler`` logger itself.
    """
    logger = logging.getLogger("apscheduler")
    if logger.level != logging.NOTSET:
        yield
        return
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(logging.NOTSET)


def _signature(config: Config) -> tuple:
    """What the scheduler's jobs depend on: the global schedule and the source groups."""
    schedule = config.schedule
    groups = tuple(sorted((cron, tuple(names)) for cron, names in source_groups(config).items()))
    return schedule.cron, schedule.timezone, schedule.grace_seconds, groups


def _apply_schedule_change(scheduler: BaseScheduler, runner: ScheduledRun,
                           current: Config, job: Callable[..., object]) -> Config:
    """Follow an edited ``schedule:`` (global or per source) from the next fire time on;
    return the configuration whose schedule is in force."""
    if runner.config is None or runner.trigger is None \
            or _signature(runner.config) == _signature(current):
        return current
    scheduler.remove_all_jobs()
    _add_jobs(scheduler, runner.config, job, runner.trigger)
    for scheduled in scheduler.get_jobs():
        log.info("schedule changed to %s%s; next run at %s", _label(scheduled),
                 _describe(runner.config.schedule), _when(scheduled.next_run_time))
    return runner.config


def _label(job) -> str:
    # The single all-sources job keeps the short form; per-source jobs say whose they are.
    return "" if job.id == JOB_ID else f"{job.name} on {job.id.split(':', 1)[1]!r}, "


__all__ = ["JOB_ID", "ScheduleOutcome", "ScheduledRun", "build_scheduler", "grace_time",
           "make_trigger", "next_fire_times", "parse_timezone", "run_schedule",
           "schedule_trigger", "source_groups", "source_triggers"]
