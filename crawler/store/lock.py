"""One run at a time per database, whatever the database is.

The lock is a row in ``run_lock``. A second ``docwatch crawl`` (cron overlapping a
manual run) finds it and exits at once. A lock left by a killed run is taken over:
at once when its process is gone from this host, or when its heartbeat is older than
``stale_after`` (a run on another machine that died).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import threading
from collections.abc import Iterator

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crawler.errors import DocwatchError
from crawler.store.models import RunLock, utcnow

LOCK_NAME = "crawl"
HEARTBEAT = dt.timedelta(seconds=30)
STALE_AFTER = dt.timedelta(minutes=10)


class RunLocked(DocwatchError):
    """Another run holds the database."""

    def __init__(self, holder: str, since: dt.datetime):
        super().__init__(f"another docwatch run ({holder}) has been running on this database "
                         f"since {since:%Y-%m-%d %H:%M:%S} UTC")
        self.holder = holder
        self.since = since


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine: only its heartbeat can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire(engine: Engine, stale_after: dt.timedelta = STALE_AFTER) -> None:
    """Take the lock or raise :class:`RunLocked`; a dead holder's lock is taken over."""
    me = _me()
    with Session(engine) as session:
        lock = session.get(RunLock, LOCK_NAME)
        if lock is not None:
            stale = (not _alive(lock.holder)
                     or utcnow() - lock.heartbeat_at > stale_after)
            if lock.holder != me and not stale:
                raise RunLocked(lock.holder, lock.acquired_at)
            session.delete(lock)
            session.commit()
    try:
        with Session(engine) as session, session.begin():
            session.add(RunLock(name=LOCK_NAME, holder=me))
    except IntegrityError:
        # Someone took it between our check and our insert.
        with Session(engine) as session:
            lock = session.get_one(RunLock, LOCK_NAME)
            raise RunLocked(lock.holder, lock.acquired_at) from None


def release(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.execute(delete(RunLock).where(RunLock.name == LOCK_NAME,
                                              RunLock.holder == _me()))


@contextlib.contextmanager
def run_lock(engine: Engine, stale_after: dt.timedelta = STALE_AFTER) -> Iterator[None]:
    """Hold the lock for the ``with`` block, refreshing its heartbeat in the background."""
    acquire(engine, stale_after)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT.total_seconds()):
            with contextlib.suppress(Exception), Session(engine) as session, session.begin():
                session.execute(update(RunLock).where(RunLock.name == LOCK_NAME)
                                .values(heartbeat_at=utcnow()))

    thread = threading.Thread(target=beat, name="docwatch-lock-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        release(engine)
