"""Crawls of disjoint sources at once, as processes, on SQLite and on PostgreSQL
(``database_url``): both complete and the date's report holds both; a second crawl of a
source that is being crawled exits 3; a killed holder blocks no one."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import QuietHandler, execute, query, start_server, stop_server
from test_runs import wait_for

PAGES = 30  # per source: enough writes for the two runs' transactions to meet
DAY1, DAY2 = "2024-03-01", "2024-03-02"


class TwoSourceSite:
    """The pages of two sources, ``alpha`` and ``beta``, on one local server.

    A page's text carries ``version``. After :meth:`meet`, the first request of each
    source waits until the other source asked too: two runs started together are then in
    flight at the same time, however the machine schedules them. A source in ``held``,
    or a path in ``held_paths``, gets no answer until :meth:`release`.
    """

    SOURCES = ("alpha", "beta")

    def __init__(self) -> None:
        self.version = 1
        self._meeting = False
        self.held: set[str] = set()
        self.held_paths: set[str] = set()
        self._asked = {s: threading.Event() for s in self.SOURCES}
        self._released = threading.Event()
        site = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                source = self.path.strip("/").split("/")[0]
                if source not in site.SOURCES:
                    self.answer(404, b"")
                    return
                site._asked[source].set()
                if site._meeting:
                    other = next(s for s in site.SOURCES if s != source)
                    site._asked[other].wait(60)
                if source in site.held or self.path in site.held_paths:
                    site._released.wait(60)
                body = (f"<html><head><title>{self.path}</title></head><body><main>"
                        f"<h1>{self.path}</h1><p>The {source} text, version {site.version}."
                        f"</p></main></body></html>").encode()
                self.answer(200, body)

        self._server, self.base = start_server(Handler)

    def urls(self, source: str) -> list[str]:
        return [f"{self.base}/{source}/{n}.html" for n in range(1, PAGES + 1)]

    def meet(self) -> None:
        """From now on each source's requests wait until the other source asked (what
        was asked before, e.g. by the baseline crawl, does not count)."""
        for asked in self._asked.values():
            asked.clear()
        self._meeting = True

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        stop_server(self._server)


@pytest.fixture
def two_sources() -> Iterator[TwoSourceSite]:
    site = TwoSourceSite()
    yield site
    site.close()


def write_config(folder: Path, site: TwoSourceSite, extra: str = "") -> Path:
    path = folder / "sources.yaml"
    sources = "".join(f"  - name: {s}\n    kind: page\n    urls: {json.dumps(site.urls(s))}\n"
                      for s in site.SOURCES)
    path.write_text(f'report:\n  title: "Two Sources"\n  dir: {folder / "reports"}\n'
                    f"sources:\n{sources}{extra}", encoding="utf-8")
    return path


def docwatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler", *args]


def start(config: Path, db: str, date: str, *sources: str) -> subprocess.Popen:
    selected = [arg for s in sources for arg in ("--source", s)]
    return subprocess.Popen(docwatch("crawl", "--config", str(config), "--db", db,
                                     "--date", date, *selected),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def crawl(config: Path, db: str, date: str, *sources: str) -> subprocess.CompletedProcess:
    proc = start(config, db, date, *sources)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def report(folder: Path, date: str) -> dict:
    return json.loads((folder / "reports" / f"{date}-two-sources.json").read_text())


def changed_sources(data: dict) -> dict[str, int]:
    found: dict[str, int] = {}
    for change in data["changes"]:
        source = change["url"].split("/")[3]
        found[source] = found.get(source, 0) + 1
    return found


@pytest.fixture
def baseline(two_sources: TwoSourceSite, tmp_path: Path, database_url: str) -> Path:
    """Both sources crawled once on DAY1, then every page of both changed."""
    config = write_config(tmp_path, two_sources)
    first = crawl(config, database_url, DAY1)
    assert first.returncode == 0, first.stderr
    two_sources.version = 2
    return config


def test_crawls_of_disjoint_sources_run_together_and_the_dates_report_holds_both(
        two_sources, baseline, tmp_path, database_url):
    db = database_url
    two_sources.meet()
    runs = [start(baseline, db, DAY2, "alpha"), start(baseline, db, DAY2, "beta")]
    for proc in runs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "database is locked" not in err

    rows = query(db, "select sources, status, message, started_at, finished_at from runs "
                     "where run_date = :day order by id", day=dt.date.fromisoformat(DAY2))
    assert sorted(json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in rows) == [
        ["alpha"], ["beta"]]
    # Neither took the other, live, for a killed run.
    assert [(status, message) for _s, status, message, *_ in rows] == [
        ("completed", None), ("completed", None)]
    # They did run at the same time.
    assert max(r[3] for r in rows) < min(r[4] for r in rows)
    # The report written last, and the one written again from the database, hold both.
    written_last = report(tmp_path, DAY2)
    assert changed_sources(written_last) == {"alpha": PAGES, "beta": PAGES}
    assert {s["name"] for s in written_last["sources"]} == {"alpha", "beta"}
    assert len(written_last["runs"]) == 2
    (tmp_path / "reports" / f"{DAY2}-two-sources.json").unlink()
    again = subprocess.run(docwatch("report", "--config", str(baseline), "--db", db,
                                    "--date", DAY2), capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    assert changed_sources(report(tmp_path, DAY2)) == {"alpha": PAGES, "beta": PAGES}
    assert query(db, "select count(*) from run_lock")[0][0] == 0
    if db.startswith("sqlite"):
        assert query(db, "pragma integrity_check")[0][0] == "ok"


def test_a_second_crawl_of_a_source_being_crawled_exits_3_and_other_sources_go_on(
        two_sources, baseline, tmp_path, database_url):
    db = database_url
    two_sources.held = {"beta"}
    first = start(baseline, db, DAY2, "beta")
    wait_for(db, "select count(*) from runs", 2)  # recorded: its lock is taken

    again = crawl(baseline, db, DAY2, "beta")
    assert again.returncode == 3
    assert "another docwatch run" in again.stderr and "crawling beta" in again.stderr
    # Every source, alpha first: refused at beta, and alpha's lock not left taken.
    everything = crawl(baseline, db, DAY2)
    assert everything.returncode == 3 and "crawling beta" in everything.stderr
    assert [name for (name,) in query(db, "select name from run_lock")] == ["beta"]
    # Nor are beta's snapshots pruned while it is crawled.
    prune = subprocess.run(docwatch("prune", "--config", str(baseline), "--db", db),
                           capture_output=True, text=True, timeout=120)
    assert prune.returncode == 3 and "crawling beta" in prune.stderr

    # alpha is free: crawled to the end while beta's run goes on.
    other = crawl(baseline, db, DAY2, "alpha")
    assert other.returncode == 0, other.stderr
    assert first.poll() is None
    # Its report has what has ended: alpha's run, not beta's, still crawling.
    assert changed_sources(report(tmp_path, DAY2)) == {"alpha": PAGES}

    two_sources.release()
    _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    statuses = [s for (s,) in query(db, "select status from runs order by id")]
    assert statuses == ["completed", "completed", "completed"]
    # beta's end wrote the date's report again: both runs of the date.
    assert changed_sources(report(tmp_path, DAY2)) == {"alpha": PAGES, "beta": PAGES}


def test_a_killed_crawl_of_a_source_does_not_block_the_next_one(
        two_sources, baseline, tmp_path, database_url):
    db = database_url
    two_sources.held = {"alpha"}
    victim = start(baseline, db, DAY2, "alpha")
    wait_for(db, "select count(*) from runs", 2)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    assert query(db, "select count(*) from run_lock")[0][0] == 1  # left behind

    two_sources.held = set()
    result = crawl(baseline, db, DAY2, "alpha")
    assert result.returncode == 0, result.stderr
    statuses = [s for (s,) in query(db, "select status from runs order by id")]
    assert statuses == ["completed", "aborted", "completed"]
    assert changed_sources(report(tmp_path, DAY2)) == {"alpha": PAGES}
    assert query(db, "select count(*) from run_lock")[0][0] == 0


def test_a_holder_on_postgresql_is_judged_by_its_advisory_lock_not_its_heartbeat(
        two_sources, baseline, tmp_path, database_url):
    """On PostgreSQL a run on another machine that died frees its sources at once (its
    connection's advisory lock went with it), and one that lives keeps them however old
    its row looks. SQLite, one machine's file, has only the row to go by."""
    db = database_url
    two_sources.held = {"alpha"}
    holder = start(baseline, db, DAY2, "alpha")
    wait_for(db, "select count(*) from runs", 2)
    # The row of a run on another machine, silent for an hour.
    long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    execute(db, f"update run_lock set holder = 'elsewhere:4242', "
                f"heartbeat_at = '{long_ago:%Y-%m-%d %H:%M:%S}'")
    if db.startswith("postgresql"):
        refused = crawl(baseline, db, DAY2, "alpha")
        assert refused.returncode == 3 and "elsewhere:4242" in refused.stderr

    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    # Dead, but its row says it beat a moment ago.
    execute(db, "update run_lock set heartbeat_at = "
                f"'{dt.datetime.now(dt.UTC).replace(tzinfo=None):%Y-%m-%d %H:%M:%S}'")
    two_sources.held = set()
    after = crawl(baseline, db, DAY2, "alpha")
    if db.startswith("postgresql"):
        assert after.returncode == 0, after.stderr
    else:  # SQLite waits for the heartbeat to be stale (``STALE_AFTER``)
        assert after.returncode == 3 and "elsewhere:4242" in after.stderr


def test_pages_fetched_are_committed_while_the_run_waits_on_a_slow_one(
        two_sources, tmp_path, database_url):
    """No write transaction waits on the network: on SQLite it would hold up the writes
    of a run of other sources, and a kill would lose what was already fetched."""
    db = database_url
    config = write_config(tmp_path, two_sources)
    two_sources.held_paths = {f"/alpha/{PAGES}.html"}  # the last page, asked for last
    proc = start(config, db, DAY1, "alpha")
    try:
        wait_for(db, "select count(*) from snapshots", PAGES - 1, timeout=20)
        assert proc.poll() is None  # still waiting on the last page
    finally:
        two_sources.release()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err


def test_a_run_pruning_at_its_end_leaves_the_sources_another_run_crawls(
        two_sources, tmp_path, database_url):
    db = database_url
    config = write_config(tmp_path, two_sources, "history: {keep: 1}\n")
    days = [f"2024-03-0{n}" for n in range(1, 6)]
    for version, day in enumerate(days[:4], start=1):
        two_sources.version = version
        assert crawl(config, db, day).returncode == 0
    sql = ("select count(*) from snapshots s join pages p on p.id = s.page_id "
           "where p.source = :source")

    def snapshots(source: str) -> int:
        return query(db, sql, source=source)[0][0]

    # v1 to v4 of each page; the kept report (v3 -> v4) no longer needs v2.
    assert snapshots("alpha") == snapshots("beta") == 4 * PAGES

    write_config(tmp_path, two_sources, "history: {keep: 1, prune_after_run: true}\n")
    two_sources.version = 5
    two_sources.held = {"beta"}
    crawling = start(config, db, days[4], "beta")
    wait_for(db, "select count(*) from runs", 5)
    pruning = crawl(config, db, days[4], "alpha")
    assert pruning.returncode == 0, pruning.stderr
    assert snapshots("alpha") == 3 * PAGES  # v1, v4, v5: v2 and v3 went
    assert snapshots("beta") == 4 * PAGES  # beta's run is under way: left to it
    two_sources.release()
    _out, err = crawling.communicate(timeout=120)
    assert crawling.returncode == 0, err
    assert snapshots("beta") == 3 * PAGES  # pruned at its own end
