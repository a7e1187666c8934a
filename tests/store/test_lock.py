"""The source locks in one process, on SQLite and PostgreSQL (``database_url``): disjoint
sources at once, a held one refused with nothing taken, who counts as alive, one run's
end at a time. Whole runs as processes are in tests/test_concurrent_runs.py."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import query
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crawler.store.db import open_database
from crawler.store.lock import KEY_LENGTH, RunLocked, SourceLocks, live_run_ids, lock_key, run_lock
from crawler.store.models import RunLock, utcnow


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def rows(url: str) -> list[str]:
    return [name for (name,) in query(url, "select name from run_lock order by name")]


def dead_pid() -> int:
    """The pid of a process of this host that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_disjoint_sources_are_held_at_once_and_a_held_one_is_refused_taking_nothing(
        engine, database_url):
    with run_lock(engine, ["beta"]), run_lock(engine, ["alpha"]):
        assert rows(database_url) == ["alpha", "beta"]
        # aardvark would be taken first, then beta is refused: aardvark is let go.
        with pytest.raises(RunLocked, match=r"another docwatch run \(.+\) has been "
                                            r"crawling beta on this database since") as exc, \
                run_lock(engine, ["zebra", "beta", "aardvark"]):
            pass
        assert exc.value.source == "beta"
        assert rows(database_url) == ["alpha", "beta"]
    assert rows(database_url) == []


def test_a_long_source_name_is_locked_under_a_key_that_fits_the_column(engine,
                                                                       database_url):
    long_a, long_b = "docs-" + "a" * 195, "docs-" + "a" * 194 + "b"
    assert lock_key("hexdocs") == "hexdocs"
    assert len(lock_key(long_a)) == KEY_LENGTH and lock_key(long_a) != lock_key(long_b)
    assert "~" in lock_key(long_a)  # no source name holds one: never a short name's key
    with run_lock(engine, [long_a]):
        with run_lock(engine, [long_b]):  # its own lock, though the names start alike
            assert len(rows(database_url)) == 2
        with pytest.raises(RunLocked, match=f"crawling {long_a} "), \
                run_lock(engine, [long_a]):
            pass


def test_a_run_is_live_while_a_live_holders_lock_names_it(engine, database_url):
    long_ago = utcnow() - dt.timedelta(hours=1)
    with run_lock(engine, ["alpha"]) as locks:
        with Session(engine) as session, session.begin():
            locks.claim(session, 1)
            # Rows left by runs that died: on this host (its process is gone), and on
            # another machine, silent for an hour.
            session.add(RunLock(name="beta", holder=f"{socket.gethostname()}:{dead_pid()}",
                                run_id=2))
            session.add(RunLock(name="gamma", holder="elsewhere:1", run_id=3,
                                heartbeat_at=long_ago))
            # One that looks alive: another machine's, beating a moment ago.
            session.add(RunLock(name="delta", holder="elsewhere:2", run_id=4))
        with Session(engine) as session:
            live = live_run_ids(session)
    # PostgreSQL goes by the advisory locks: none is held for delta.
    assert live == ({1} if database_url.startswith("postgresql") else {1, 4})


def test_the_lock_of_a_dead_holder_is_taken_over(engine, database_url):
    with Session(engine) as session, session.begin():
        session.add(RunLock(name="alpha", holder=f"{socket.gethostname()}:{dead_pid()}",
                            run_id=2))
    with run_lock(engine, ["alpha"]) as locks:
        assert locks.sources == ["alpha"]
        [(holder,)] = query(database_url, "select holder from run_lock")
        assert holder == f"{socket.gethostname()}:{os.getpid()}"


def test_take_free_takes_only_what_no_other_run_holds(engine, database_url):
    with run_lock(engine, ["beta"]), run_lock(engine, ["alpha"]) as locks:
        assert locks.take_free(["beta", "gamma", "alpha"]) == ["gamma"]
        assert locks.sources == ["alpha", "gamma"]
        locks.release_sources(["gamma"])
        assert rows(database_url) == ["alpha", "beta"]


def test_the_end_of_a_run_waits_for_the_end_of_another(engine):
    order: list[str] = []
    first_in = threading.Event()

    def second_run() -> None:
        with run_lock(engine, ["beta"]) as locks:
            first_in.wait(10)
            with locks.reporting():
                order.append("second ends")

    with run_lock(engine, ["alpha"]) as locks:
        with locks.reporting():
            other = threading.Thread(target=second_run)
            other.start()
            first_in.set()
            time.sleep(0.5)  # the second run is waiting meanwhile
            order.append("first ends")
        other.join(20)
    assert order == ["first ends", "second ends"]


def test_an_end_that_waited_too_long_goes_on_and_says_so(engine, caplog):
    caplog.set_level(logging.WARNING, logger="crawler.store.lock")
    with run_lock(engine, ["alpha"]) as first, first.reporting(), \
            run_lock(engine, ["beta"]) as second:
        started = time.monotonic()
        with second.reporting(wait=dt.timedelta(seconds=0.3)):
            waited = time.monotonic() - started
    assert 0.25 <= waited < 5
    assert "without waiting longer" in caplog.text


def test_a_run_alone_on_the_database_knows_it(engine):
    with run_lock(engine, ["alpha"]) as locks:
        assert locks.alone()
        with run_lock(engine, ["beta"]):
            assert not locks.alone()
        assert locks.alone()


def test_a_run_taking_its_own_source_again_is_not_refused(engine):
    """Taking a source twice in one run is a no-op, not a refusal."""
    locks = SourceLocks(engine)
    try:
        locks.take(["alpha"])
        locks.take(["alpha", "beta"])
        assert locks.sources == ["alpha", "beta"]
    finally:
        locks.release()
