"""``docwatch schedule``: when runs fire, that they never overlap, and how the process stops.

Cron expressions with six fields (seconds first) keep the timing tests short. The
real crawls run against the bundled demo site on 127.0.0.1, into SQLite under tmp_path.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import write_config as write_demo_config
from sqlalchemy.orm import Session

from crawler.config import load_config
from crawler.demo.server import DocServer, Fault
from crawler.schedule import (
    JOB_ID,
    ScheduledRun,
    ScheduleOutcome,
    _ClockWatch,
    build_scheduler,
    next_fire_times,
    run_schedule,
)
from crawler.store.db import open_database
from crawler.store.models import RunLock

UTC = dt.UTC
NOWHERE = "http://127.0.0.1:9"  # for configs whose sources are never fetched
END_LINE = re.compile(r"run (\d+) (completed|interrupted): (\d+) pages checked, (\d+) changed, "
                      r"(\d+) errors in \d+\.\ds")


def write_config(tmp_path: Path, base: str = NOWHERE, *, cron: str = "* * * * * *",
                 timezone: str = "UTC", grace: int = 3600, extra_sources: str = "",
                 name: str = "sources.yaml") -> Path:
    """The demo's sources.yaml with this ``schedule:``; ``extra_sources`` adds sources."""
    return write_demo_config(tmp_path, base, sources=extra_sources, name=name, extra=f"""\
http:
  timeout: 20
schedule:
  cron: "{cron}"
  timezone: "{timezone}"
  grace_seconds: {grace}
""")


def line_of(path: Path, start: str) -> int:
    """The number of the first line of ``path`` that starts with ``start``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if line.startswith(start))


def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'docwatch.sqlite3'}"


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "docwatch.schedule"]


@pytest.fixture(autouse=True)
def no_env_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCWATCH_DATABASE_URL", raising=False)


# -- when runs fire -----------------------------------------------------------------------

MONDAY = dt.datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def test_weekday_numbers_mean_what_they_mean_in_crontab():
    # crontab: 0 and 7 are Sunday (APScheduler 3 alone would read 0 as Monday).
    assert [t.date() for t in next_fire_times("0 3 * * 0", "UTC", 2, MONDAY)] == \
        [dt.date(2024, 1, 7), dt.date(2024, 1, 14)]
    assert next_fire_times("0 3 * * 7", "UTC", 1, MONDAY)[0].date() == dt.date(2024, 1, 7)
    weekdays = next_fire_times("30 6 * * 1-5", "UTC", 6, MONDAY)
    assert [t.strftime("%a %H:%M") for t in weekdays] == [
        "Tue 06:30", "Wed 06:30", "Thu 06:30", "Fri 06:30", "Mon 06:30", "Tue 06:30"]


def test_day_of_month_and_weekday_both_set_fire_on_either_like_cron():
    fires = next_fire_times("0 3 13 * 5", "UTC", 4, dt.datetime(2024, 10, 1, tzinfo=UTC))
    # Fridays of October 2024, and Sunday the 13th.
    assert [t.day for t in fires] == [4, 11, 13, 18]


def test_the_time_zone_is_the_wall_clock_the_runs_follow():
    paris = next_fire_times("0 3 * * *", "Europe/Paris", 1, MONDAY)[0]
    assert (paris.hour, paris.astimezone(UTC).hour) == (3, 2)
    # Across the spring DST change the run stays at 03:00 Paris time.
    spring = next_fire_times("0 3 * * *", "Europe/Paris", 2,
                             dt.datetime(2024, 3, 30, 12, tzinfo=UTC))
    assert [t.astimezone(UTC).strftime("%d %H:%M") for t in spring] == ["31 01:00", "01 01:00"]


def test_six_fields_put_the_seconds_first_and_macros_are_understood():
    fires = next_fire_times("*/15 * * * * *", "UTC", 4, MONDAY)
    assert [t.strftime("%H:%M:%S") for t in fires] == [
        "12:00:00", "12:00:15", "12:00:30", "12:00:45"]
    assert [t.strftime("%d %H:%M") for t in next_fire_times("@daily", "UTC", 2, MONDAY)] == \
        ["02 00:00", "03 00:00"]


# -- invalid schedules stop the command at startup -----------------------------------------

@pytest.mark.parametrize(("cron", "why"), [
    ("61 3 * * *", "higher than the maximum"),
    ("0 3 * *", "expected 5 fields"),
    ("0 3 * * 8", "out of range"),
    ("0 3 31 2 *", "never fires"),
    ("every night", "expected 5 fields"),
])
def test_an_invalid_cron_is_a_clear_error_at_startup(tmp_path, caplog, cron, why):
    config = write_config(tmp_path, cron=cron)

    assert run_schedule(config, db_url(tmp_path)) == ScheduleOutcome.CONFIG_INVALID

    [problem] = messages(caplog)
    assert problem.startswith(f"{config}:{line_of(config, '  cron:')}: schedule.cron: ")
    assert repr(cron) in problem and why in problem
    assert not (tmp_path / "db").exists()


@pytest.mark.parametrize(("zone", "why"), [
    ("Mars/Olympus_Mons", "expected an IANA name"),
    ("europe/paris", "did you mean 'Europe/Paris'?"),
    ("", "expected an IANA name"),
])
def test_an_invalid_timezone_is_a_clear_error_at_startup(tmp_path, caplog, zone, why):
    config = write_config(tmp_path, timezone=zone)

    assert run_schedule(config, db_url(tmp_path)) == ScheduleOutcome.CONFIG_INVALID

    [problem] = messages(caplog)
    assert problem.startswith(f"{config}:{line_of(config, '  timezone:')}: schedule.timezone: "
                              f"unknown time zone {zone!r}")
    assert why in problem


# -- the scheduler: overlap, missed runs ---------------------------------------------------

def test_the_job_runs_once_at_a_time_missed_runs_coalesce_within_the_grace_period(tmp_path):
    scheduler = build_scheduler(load_config(write_config(tmp_path, grace=900)), lambda: None)
    job = scheduler.get_job(JOB_ID)

    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 900)
    # A grace of 0 still lets an on-time run (a few milliseconds late) run.
    zero = build_scheduler(load_config(write_config(tmp_path, grace=0)), lambda: None)
    assert zero.get_job(JOB_ID).misfire_grace_time == 1


def test_a_run_still_going_when_the_next_is_due_is_skipped_and_logged_not_queued(
        tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="docwatch.schedule")
    lock, release = threading.Lock(), threading.Event()
    active, most_active, starts = 0, 0, []

    def slow_run() -> None:  # 1.5 s, with a fire time every second
        nonlocal active, most_active
        with lock:
            active += 1
            most_active = max(most_active, active)
            starts.append(time.monotonic())
        release.wait(1.5)
        with lock:
            active -= 1

    scheduler = build_scheduler(load_config(write_config(tmp_path, cron="* * * * * *")),
                                slow_run)
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while len(starts) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        release.set()
        scheduler.shutdown(wait=True)

    assert most_active == 1
    skipped = [m for m in messages(caplog) if "skipped: the previous run is still going" in m]
    assert skipped, messages(caplog)
    # The skipped run was dropped: the next run came at its own fire time, 2 s after
    # the first, not as soon as the first one ended (1.5 s).
    assert len(starts) == 2 and starts[1] - starts[0] > 1.8


def _asleep_for_five_minutes(tmp_path: Path, grace: int, ran: list[float]):
    """A scheduler whose runs (every minute, 30 s from now) were missed for 5 minutes."""
    second = (dt.datetime.now(UTC).second + 30) % 60
    config = load_config(write_config(tmp_path, cron=f"{second} * * * * *", grace=grace))
    scheduler = build_scheduler(config, lambda: ran.append(time.monotonic()))
    scheduler.start(paused=True)
    scheduler.get_job(JOB_ID).modify(
        next_run_time=dt.datetime.now(UTC) - dt.timedelta(minutes=5))
    return scheduler


def test_runs_missed_while_asleep_run_once_on_wake_up_within_the_grace_period(tmp_path):
    ran: list[float] = []
    scheduler = _asleep_for_five_minutes(tmp_path, 3600, ran)
    try:
        scheduler.resume()  # wake up
        deadline = time.monotonic() + 2
        while not ran and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
    finally:
        scheduler.shutdown(wait=True)
    assert len(ran) == 1  # five missed runs, one run


def test_runs_missed_longer_than_the_grace_period_are_logged_not_run(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="docwatch.schedule")
    ran: list[float] = []
    scheduler = _asleep_for_five_minutes(tmp_path, 10, ran)
    try:
        scheduler.resume()
        deadline = time.monotonic() + 2
        while not any("missed" in m for m in messages(caplog)) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scheduler.shutdown(wait=True)
    assert ran == []
    assert any(re.fullmatch(r"run due at .+ UTC missed: more than 10s late "
                            r"\(schedule\.grace_seconds\)", m) for m in messages(caplog))


def test_a_wall_clock_jump_such_as_waking_from_suspend_is_noticed():
    # The scheduler waits on the monotonic clock, which stands still during suspend:
    # run_schedule wakes it when the wall clock moves on its own.
    wall, monotonic = [1_000.0], [50.0]
    watch = _ClockWatch(wall=lambda: wall[0], monotonic=lambda: monotonic[0])
    wall[0] += 0.2
    monotonic[0] += 0.2
    assert not watch.jumped()
    wall[0] += 6 * 3600  # six hours asleep
    assert watch.jumped()
    assert not watch.jumped()


# -- one scheduled run ---------------------------------------------------------------------

def test_each_run_rereads_the_config_and_logs_one_start_and_one_end_line(
        tmp_path, site, caplog):
    caplog.set_level(logging.INFO, logger="docwatch.schedule")
    config = write_config(tmp_path, site.base_url)
    run = ScheduledRun(config, db_url(tmp_path))

    first = run()
    assert first is not None and first.status == "completed"
    assert messages(caplog)[0] == "run starting: sources lumen-docs"
    assert END_LINE.fullmatch(messages(caplog)[1])
    assert END_LINE.fullmatch(messages(caplog)[1]).groups() == ("1", "completed", "8", "0", "0")
    assert len(messages(caplog)) == 2

    # Broken between two runs: that run is skipped, nothing is crawled.
    write_config(tmp_path, site.base_url, extra_sources="  - name: feed\n    kind: rss\n")
    caplog.clear()
    requests_before = len(site.log)
    assert run() is None
    [skipped] = messages(caplog)
    assert skipped.startswith("run skipped: the configuration is invalid: ")
    assert "unknown source kind 'rss'" in skipped
    assert len(site.log) == requests_before

    # Fixed, with one more source: the next run uses it without a restart.
    write_config(tmp_path, site.base_url, extra_sources=f"""\
  - name: notes
    kind: page
    urls: [{site.base_url}/private/notes.html]
""")
    caplog.clear()
    second = run()
    assert second is not None and second.run_id == 2
    assert messages(caplog)[0] == "run starting: sources lumen-docs, notes"
    assert END_LINE.fullmatch(messages(caplog)[1]).groups()[:3] == ("2", "completed", "9")


def test_a_run_finding_the_database_held_by_another_run_is_skipped(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="docwatch.schedule")
    engine = open_database(db_url(tmp_path))
    with Session(engine) as session, session.begin():  # a manual `docwatch crawl` elsewhere
        session.add(RunLock(name="lumen-docs", holder="build-box:4242"))

    assert ScheduledRun(write_config(tmp_path), db_url(tmp_path))() is None

    assert messages(caplog)[0] == "run starting: sources lumen-docs"
    assert messages(caplog)[1].startswith(
        "run skipped: another docwatch run (build-box:4242) has been crawling lumen-docs")


def test_a_failed_run_is_logged_with_its_exception(tmp_path, caplog):
    (tmp_path / "not-a-folder").write_text("")
    database = f"sqlite:///{tmp_path / 'not-a-folder' / 'docwatch.sqlite3'}"

    assert ScheduledRun(write_config(tmp_path), database)() is None

    record = next(r for r in caplog.records if r.getMessage().startswith("run failed"))
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert re.fullmatch(r"run failed after \d+\.\ds: \w+Error: .*not-a-folder.*",
                        record.getMessage())


# -- run_schedule in the foreground ------------------------------------------------------

class _OnMessage(logging.Handler):
    """Calls ``react(message)`` for every docwatch.schedule record."""

    def __init__(self, react) -> None:
        super().__init__()
        self.react = react

    def emit(self, record: logging.LogRecord) -> None:
        self.react(record.getMessage())


def test_run_schedule_runs_on_time_follows_schedule_edits_and_stops_on_request(
        tmp_path, site, caplog):
    caplog.set_level(logging.INFO, logger="docwatch.schedule")
    config = write_config(tmp_path, site.base_url, cron="* * * * * *")
    stop = threading.Event()

    def react(message: str) -> None:
        if message.startswith("scheduled "):  # edited before the first run starts
            write_config(tmp_path, site.base_url, cron="0 3 * * *", timezone="Europe/Paris")
        if message.startswith("schedule changed"):
            stop.set()

    watcher = _OnMessage(react)
    logging.getLogger("docwatch.schedule").addHandler(watcher)
    try:
        status = run_schedule(config, db_url(tmp_path), stop=stop)
    finally:
        logging.getLogger("docwatch.schedule").removeHandler(watcher)

    assert status == ScheduleOutcome.STOPPED
    # A run slower than a second (a loaded machine) lets the every-second schedule fire
    # meanwhile: that fire is skipped, and said so, which is not what this test is about.
    lines = [line for line in messages(caplog)
             if not line.endswith("skipped: the previous run is still going")]
    assert lines[0].startswith("scheduled '* * * * * *' (UTC), grace 3600s; next run at ")
    # The run came at the fire time it announced, not before.
    announced = dt.datetime.strptime(lines[0].rsplit(" next run at ", 1)[1],
                                     "%Y-%m-%d %H:%M:%S %Z")
    with sqlite3.connect(tmp_path / "db" / "docwatch.sqlite3") as conn:
        [(started_at,)] = conn.execute("SELECT started_at FROM runs").fetchall()
    assert dt.datetime.fromisoformat(started_at) >= announced
    assert lines[1] == "run starting: sources lumen-docs"
    assert END_LINE.fullmatch(lines[2]).groups() == ("1", "completed", "8", "0", "0")
    assert re.fullmatch(r"schedule changed to '0 3 \* \* \*' \(Europe/Paris\), grace 3600s; "
                        r"next run at \d{4}-\d\d-\d\d 03:00:00 CES?T", lines[3])
    assert lines[4:] == ["scheduler stopped: stop requested"]
    assert len(list((tmp_path / "reports").glob("*.json"))) == 1


# -- SIGTERM to a real `docwatch schedule` process -----------------------------------------

SCHEDULE_PROCESS = """\
import logging, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
from crawler.cli import cli
cli(["schedule", "--config", sys.argv[1], "--db", sys.argv[2]], prog_name="docwatch")
"""


class ScheduleProcess:
    """``docwatch schedule`` in a subprocess, its log lines read as they come."""

    def __init__(self, config: Path, database: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SCHEDULE_PROCESS, str(config),
                                      database], cwd=config.parent, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: list[str] = []
        self._incoming: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._incoming.put(line.rstrip("\n"))
        self._incoming.put(None)

    def wait_for(self, pattern: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._incoming.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))

    def terminate_and_wait(self) -> tuple[int, float]:
        """SIGTERM; the exit status and the seconds the process took to exit."""
        sent = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        status = self.proc.wait(timeout=10)
        took = time.monotonic() - sent
        while (line := self._incoming.get(timeout=5)) is not None:
            self.lines.append(line)
        return status, took

    def schedule_lines(self) -> list[str]:
        prefix = "docwatch.schedule: "
        return [line.removeprefix(prefix) for line in self.lines if line.startswith(prefix)]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def schedule_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Two schedule processes, started together so that their start-ups overlap.

    ``between`` crawls a quick site every 2 s; ``during`` is stuck in its first run
    on a page the site answers only after 20 s.
    """
    with DocServer(version="v1") as quick, DocServer(version="v1") as slow:
        slow.set_fault("/lumen/routing.html", Fault(kind="delay", seconds=20))
        processes = {}
        for name, site, cron in (("between", quick, "*/2 * * * * *"),
                                 ("during", slow, "* * * * * *")):
            folder = tmp_path_factory.mktemp(name)
            config = write_config(folder, site.base_url, cron=cron)
            processes[name] = (ScheduleProcess(config, db_url(folder)), site, folder)
        try:
            yield processes
        finally:
            for process, _, _ in processes.values():
                process.kill()


def test_sigterm_between_runs_exits_0_at_once(schedule_processes):
    process, site, _ = schedule_processes["between"]
    process.wait_for(r"run 1 completed")  # crawl() has come and gone with its handlers
    asked = len(site.log)

    status, _ = process.terminate_and_wait()

    # It exited without starting the run due every 2 s: the site was asked nothing more.
    assert status == 0
    assert len(site.log) == asked
    lines = process.schedule_lines()
    assert lines[0].startswith("scheduled '*/2 * * * * *' (UTC)")
    assert lines[1] == "run starting: sources lumen-docs"
    assert END_LINE.fullmatch(lines[2]).groups() == ("1", "completed", "8", "0", "0")
    assert lines[3:] == ["scheduler stopped: received SIGTERM"]


def test_sigterm_during_a_run_interrupts_it_gracefully_then_exits_0(schedule_processes):
    process, site, folder = schedule_processes["during"]
    process.wait_for(r"run starting")
    # Fire times that come while the run is stuck are skipped, and said so.
    process.wait_for(r"run due at .* skipped: the previous run is still going")
    assert len(site.log) >= 3  # crawling, stuck on one page

    status, _ = process.terminate_and_wait()

    assert status == 0
    # It did not wait for the stuck page: the site has not even answered it yet.
    assert site.log.statuses("/lumen/routing.html") == []
    lines = [line for line in process.schedule_lines() if not line.startswith("run due at ")]
    assert lines[1] == "run starting: sources lumen-docs"
    assert END_LINE.fullmatch(lines[2]).group(1, 2) == ("1", "interrupted")
    assert lines[3:] == ["scheduler stopped: run interrupted by a signal"]
    [report] = (folder / "reports").glob("*.json")
    assert json.loads(report.read_text())["interrupted"] is True


def test_sources_with_their_own_schedule_run_on_it_one_run_at_a_time(tmp_path):
    from crawler.schedule import ScheduledRun, build_scheduler, source_groups

    path = tmp_path / "sources.yaml"
    path.write_text("""
schedule: {cron: "0 3 * * *"}
sources:
  - {name: docs, kind: exdoc, urls: ["http://127.0.0.1:9/docs/"]}
  - {name: blog, kind: feed, urls: ["http://127.0.0.1:9/feed.xml"], schedule: "0 * * * *"}
  - {name: news, kind: feed, urls: ["http://127.0.0.1:9/news.xml"], schedule: "0 * * * *"}
""")
    config = load_config(path)
    assert source_groups(config) == {"0 3 * * *": ["docs"], "0 * * * *": ["blog", "news"]}

    fired: list[object] = []
    scheduler = build_scheduler(config, lambda names=None: fired.append(names))
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert {tuple(job.args[0]) for job in jobs.values()} == {("docs",), ("blog", "news")}
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())

    calls = []
    outcome = SimpleNamespace(run_id=1, status="completed", pages_checked=2, changed=0,
                              errors=0, delivery_problems=[])
    runner = ScheduledRun(path, None,
                          crawl_fn=lambda config, **kw: calls.append(kw) or outcome)
    assert runner(["blog", "news"]) is outcome
    assert calls == [{"database": None, "sources": ["blog", "news"]}]


def test_a_job_whose_sources_all_left_the_config_crawls_nothing(tmp_path, caplog):
    from crawler.schedule import ScheduledRun

    calls = []
    runner = ScheduledRun(write_config(tmp_path), None,
                          crawl_fn=lambda config, **kw: calls.append(kw))
    assert runner(["gone"]) is None
    assert calls == []
    assert "run skipped: none of its sources" in caplog.text


def test_closing_the_handoff_releases_every_queued_job():
    from crawler.schedule import _Handoff

    handoff = _Handoff()
    waiting = [threading.Thread(target=handoff.fire, args=(names,)) for names in
               (["docs"], None)]
    for thread in waiting:
        thread.start()
    while handoff._requests.qsize() < 2:
        time.sleep(0.01)
    handoff.close()
    for thread in waiting:
        thread.join(5)
    assert not any(thread.is_alive() for thread in waiting)


def test_a_bad_source_schedule_is_a_config_error(tmp_path):
    from crawler.config import ConfigError
    from crawler.schedule import source_triggers

    path = tmp_path / "sources.yaml"
    path.write_text("""
sources:
  - {name: blog, kind: feed, urls: ["http://127.0.0.1:9/feed.xml"], schedule: "61 * * * *"}
""")
    with pytest.raises(ConfigError, match=r"sources\[0\]\.schedule"):
        source_triggers(load_config(path))


# -- the library never touches the process ---------------------------------------------------

def _handlers() -> dict:
    return {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}


def test_run_schedule_leaves_the_signal_handlers_as_it_found_them(tmp_path, site, caplog):
    caplog.set_level(logging.INFO, logger="docwatch.schedule")
    stop = threading.Event()
    seen: list[dict] = []

    def react(message: str) -> None:
        seen.append(_handlers())  # while scheduling, between runs, and around the run
        if END_LINE.fullmatch(message):
            stop.set()

    def ours(_signum, _frame) -> None:  # a handler of the application's own
        pass

    watcher = _OnMessage(react)
    logging.getLogger("docwatch.schedule").addHandler(watcher)
    previous = signal.signal(signal.SIGTERM, ours)
    try:
        before = _handlers()
        ended = run_schedule(write_config(tmp_path, site.base_url), db_url(tmp_path), stop=stop)
        after = _handlers()
    finally:
        signal.signal(signal.SIGTERM, previous)
        logging.getLogger("docwatch.schedule").removeHandler(watcher)

    assert ended == ScheduleOutcome.STOPPED
    ends = [match.group(1, 2) for match in map(END_LINE.fullmatch, messages(caplog)) if match]
    assert ends == [("1", "completed")]
    assert len(seen) >= 4 and all(handlers == before for handlers in seen)
    assert after == before and before[signal.SIGTERM] is ours


def test_a_stop_during_a_scheduled_run_interrupts_it_then_the_scheduler_stops(
        tmp_path, site, caplog):
    caplog.set_level(logging.INFO, logger="docwatch.schedule")
    site.set_fault("/lumen/routing.html", Fault(kind="delay", seconds=60))
    stop = threading.Event()

    def stop_mid_run() -> None:  # from another thread, once the run is crawling
        deadline = time.monotonic() + 30
        while len(site.log) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()

    def react(message: str) -> None:
        if message.startswith("run starting"):
            threading.Thread(target=stop_mid_run).start()

    watcher = _OnMessage(react)
    logging.getLogger("docwatch.schedule").addHandler(watcher)
    try:
        ended = run_schedule(write_config(tmp_path, site.base_url), db_url(tmp_path), stop=stop)
    finally:
        logging.getLogger("docwatch.schedule").removeHandler(watcher)

    assert ended == ScheduleOutcome.RUN_INTERRUPTED
    lines = [line for line in messages(caplog) if not line.startswith("run due at ")]
    assert lines[1] == "run starting: sources lumen-docs"
    assert END_LINE.fullmatch(lines[2]).group(1, 2) == ("1", "interrupted")
    assert lines[3:] == ["scheduler stopped: run interrupted: stop requested"]
    [report] = (tmp_path / "reports").glob("*.json")
    assert json.loads(report.read_text())["interrupted"] is True
