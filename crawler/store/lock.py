"""One crawl of a source at a time, whatever the database is; disjoint sources together.

A run locks each source it crawls, by name: a row of ``run_lock`` per source says who
holds it (``host:pid``), since when, and for which run. A crawl of a source another run
holds (cron overlapping a manual run) is refused at once, before anything is taken;
crawls of disjoint sources run side by side, from one machine or several.

Whether a holder is still alive:

- PostgreSQL: the row is backed by a session-level advisory lock on the source's name,
  held on a connection of the run's own for as long as the run lasts. The server drops
  it when that connection ends (a killed process at once; a machine gone, once TCP
  keepalives give up), so a dead holder's source is taken over from any machine.
- SQLite (one machine's file): the row alone. Its holder is dead when it was this
  host's and its process is gone, or when its heartbeat is older than ``stale_after``.

The end of a run (prune, report, the skills' record) is one run at a time:
:meth:`SourceLocks.reporting` waits for another run's end, so the date's report written
last has seen every run that ended before it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Collection, Iterable, Iterator

from sqlalchemy import Connection, Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from crawler.errors import DocwatchError
from crawler.store.models import Page, RunLock, utcnow

log = logging.getLogger(__name__)

HEARTBEAT = dt.timedelta(seconds=30)
STALE_AFTER = dt.timedelta(minutes=10)
# The longest a run's end waits for another run's (then it goes on, saying so).
REPORT_WAIT = dt.timedelta(minutes=10)
REPORT_POLL_SECONDS = 0.1
# The row of the report turn: no source can be named so (names start with a letter or
# digit and hold no "~").
REPORT_KEY = "~report"
KEY_LENGTH = 32  # run_lock.name
# How soon a PostgreSQL server notices a machine that vanished with the lock: idle 60 s,
# then 6 probes 10 s apart.
KEEPALIVES = {"tcp_keepalives_idle": 60, "tcp_keepalives_interval": 10,
              "tcp_keepalives_count": 6}

# The keys this process holds now (a row naming this host:pid is only alive for these:
# another is left by an earlier process that had the same pid, e.g. in a container).
_held_here: set[str] = set()
_held_here_guard = threading.Lock()


class RunLocked(DocwatchError):
    """Another run holds a source this run would crawl."""

    def __init__(self, source: str, holder: str, since: dt.datetime | None):
        when = f" since {since:%Y-%m-%d %H:%M:%S} UTC" if since is not None else ""
        super().__init__(f"another docwatch run ({holder}) has been crawling {source} "
                         f"on this database{when}")
        self.source = source
        self.holder = holder
        self.since = since


def stored_sources(engine: Engine) -> list[str]:
    """The sources the database holds pages of: those a whole-database command (prune,
    db copy) locks, besides the configured ones."""
    with Session(engine) as session:
        return sorted(session.scalars(select(Page.source).distinct()))


def lock_key(source: str) -> str:
    """The ``run_lock`` row of ``source``: its name, or for a long one a prefix and a
    digest (``~`` is in no source name, so no short name is ever a long one's key)."""
    if len(source) <= KEY_LENGTH:
        return source
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]
    return f"{source[:KEY_LENGTH - 13]}~{digest}"


def advisory_key(key: str) -> int:
    """The PostgreSQL advisory lock (a signed 64-bit number) of a ``run_lock`` key."""
    digest = hashlib.sha256(f"docwatch:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_alive(holder: str) -> bool:
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


def _is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _advisory_held(session: Session) -> set[int]:
    """The advisory locks some session holds on this PostgreSQL database."""
    rows = session.execute(text(
        "SELECT classid, objid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
        "AND granted AND database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database())"))
    # A bigint lock shows as its high and low 32 bits.
    return {int.from_bytes(((int(high) << 32) | int(low)).to_bytes(8, "big"), "big",
                           signed=True) for high, low in rows}


def _alive(row: RunLock, advisory: set[int] | None, stale_after: dt.timedelta) -> bool:
    """Whether the holder of ``row`` still runs (``advisory``: PostgreSQL's held locks)."""
    if advisory is not None:
        return advisory_key(row.name) in advisory
    if row.holder == _me():
        with _held_here_guard:
            return row.name in _held_here
    return _process_alive(row.holder) and utcnow() - row.heartbeat_at <= stale_after


def live_run_ids(session: Session, stale_after: dt.timedelta = STALE_AFTER) -> set[int]:
    """The runs a live holder's lock names: a run still marked running but not among
    them was killed."""
    postgres = session.get_bind().dialect.name == "postgresql"
    advisory = _advisory_held(session) if postgres else None
    return {row.run_id for row in session.scalars(select(RunLock)
                                                  .where(RunLock.run_id.is_not(None)))
            if row.run_id is not None and _alive(row, advisory, stale_after)}


class SourceLocks:
    """The source locks one run holds (see :func:`run_lock`): taken together or not at
    all, refreshed by a heartbeat, released together."""

    def __init__(self, engine: Engine, stale_after: dt.timedelta = STALE_AFTER):
        self.engine = engine
        self.stale_after = stale_after
        self.keys: dict[str, str] = {}  # key -> the source it locks
        self._me = _me()
        self._connection: Connection | None = None  # PostgreSQL: holds the advisory locks
        self._connection_guard = threading.Lock()

    @property
    def sources(self) -> list[str]:
        """The sources held, in key order."""
        return [self.keys[key] for key in sorted(self.keys) if key != REPORT_KEY]

    # -- taking ----------------------------------------------------------------------

    def take(self, sources: Iterable[str]) -> None:
        """Take the lock of every source, in key order, or none: a source another run
        holds raises :class:`RunLocked` (naming it) and releases what was taken."""
        wanted = {lock_key(s): s for s in sources if lock_key(s) not in self.keys}
        taken: list[str] = []
        try:
            for key in sorted(wanted):
                self._take(key, wanted[key])
                taken.append(key)
        except BaseException:
            self._release(taken)
            raise

    def take_free(self, sources: Iterable[str]) -> list[str]:
        """Take the lock of each source no other run holds; the sources taken."""
        got = []
        for source in sorted(set(sources), key=lock_key):
            if lock_key(source) in self.keys:
                continue
            with contextlib.suppress(RunLocked):
                self._take(lock_key(source), source)
                got.append(source)
        return got

    def _take(self, key: str, source: str) -> None:
        if _is_postgres(self.engine):
            self._take_advisory(key, source)
        else:
            self._take_row(key, source)
        self.keys[key] = source
        with _held_here_guard:
            _held_here.add(key)

    def _take_advisory(self, key: str, source: str) -> None:
        with self._connection_guard:
            if self._connection is None:
                self._connection = _lock_connection(self.engine)
            got = self._connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                           {"key": advisory_key(key)}).scalar()
        if not got:
            with Session(self.engine) as session:
                row = session.get(RunLock, key)
                # Taken a moment ago and not written yet: the holder is still unnamed.
                raise RunLocked(source, row.holder if row else "another process",
                                row.acquired_at if row else None)
        try:
            # The advisory lock is ours: a row left there is a dead holder's.
            with Session(self.engine) as session, session.begin():
                session.execute(delete(RunLock).where(RunLock.name == key))
                session.add(RunLock(name=key, holder=self._me))
        except BaseException:
            with self._connection_guard, contextlib.suppress(DBAPIError):
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": advisory_key(key)})
            raise

    def _take_row(self, key: str, source: str) -> None:
        with Session(self.engine) as session:
            row = session.get(RunLock, key)
            if row is not None and _alive(row, None, self.stale_after):
                raise RunLocked(source, row.holder, row.acquired_at)
            old = (row.holder, row.acquired_at) if row is not None else None
        try:
            with Session(self.engine) as session, session.begin():
                if old is not None:
                    # Only the dead holder's row: another run may have taken it over since.
                    session.execute(delete(RunLock).where(
                        RunLock.name == key, RunLock.holder == old[0],
                        RunLock.acquired_at == old[1]))
                session.add(RunLock(name=key, holder=self._me))
        except IntegrityError:
            # Someone took it between our check and our insert.
            with Session(self.engine) as session:
                taken = session.get(RunLock, key)
                raise RunLocked(source, taken.holder if taken else "another process",
                                taken.acquired_at if taken else None) from None

    # -- while held ------------------------------------------------------------------

    def claim(self, session: Session, run_id: int) -> None:
        """Name run ``run_id`` on the rows, in the caller's transaction (the one that
        records the run): a run is live exactly while a live holder's row names it."""
        session.execute(update(RunLock).where(RunLock.name.in_(list(self.keys)),
                                              RunLock.holder == self._me)
                        .values(run_id=run_id))

    def alone(self) -> bool:
        """Whether no other run holds a lock on this database now."""
        with Session(self.engine) as session:
            advisory = _advisory_held(session) if _is_postgres(self.engine) else None
            return not any(_alive(row, advisory, self.stale_after)
                           for row in session.scalars(select(RunLock))
                           if row.name not in self.keys)

    def beat(self) -> None:
        """Refresh the heartbeat of the rows (and, on PostgreSQL, use the connection
        that holds the locks, so that no idle timeout ends it)."""
        with Session(self.engine) as session, session.begin():
            session.execute(update(RunLock).where(RunLock.name.in_(list(self.keys)),
                                                  RunLock.holder == self._me)
                            .values(heartbeat_at=utcnow()))
        with self._connection_guard:
            if self._connection is not None:
                try:
                    self._connection.execute(text("SELECT 1"))
                except DBAPIError as exc:
                    log.error("the connection holding the locks of %s was lost (%s): "
                              "another run may take them over",
                              ", ".join(self.sources), exc)

    @contextlib.contextmanager
    def reporting(self, wait: dt.timedelta = REPORT_WAIT) -> Iterator[None]:
        """The end of a run, one run at a time: wait (up to ``wait``) while another run
        ends. Past ``wait`` the run goes on all the same, and says so."""
        if _is_postgres(self.engine):
            with self._advisory_turn(wait):
                yield
            return
        held = self._wait_for_turn(time.monotonic() + wait.total_seconds())
        try:
            yield
        finally:
            if held:
                self._release([REPORT_KEY])

    def _wait_for_turn(self, deadline: float) -> bool:
        while True:
            try:
                self._take(REPORT_KEY, "its end")
                return True
            except RunLocked as exc:
                if time.monotonic() >= deadline:
                    log.warning("%s: writing this run's report without waiting longer", exc)
                    return False
            time.sleep(REPORT_POLL_SECONDS)

    @contextlib.contextmanager
    def _advisory_turn(self, wait: dt.timedelta) -> Iterator[None]:
        connection = _lock_connection(self.engine)
        try:
            try:
                connection.execute(text("SELECT set_config('lock_timeout', :ms, false)"),
                                   {"ms": f"{int(wait.total_seconds() * 1000)}"})
                connection.execute(text("SELECT pg_advisory_lock(:key)"),
                                   {"key": advisory_key(REPORT_KEY)})
            except DBAPIError as exc:
                log.warning("another run's end took longer than %s (%s): writing this "
                            "run's report without waiting longer", wait, exc)
            yield
        finally:
            connection.invalidate()  # ends the session: its advisory lock with it
            connection.close()

    # -- releasing -------------------------------------------------------------------

    def release(self) -> None:
        """Release every lock held."""
        self._release(list(self.keys))
        with self._connection_guard:
            if self._connection is not None:
                with contextlib.suppress(DBAPIError):
                    self._connection.invalidate()
                    self._connection.close()
                self._connection = None

    def release_sources(self, sources: Collection[str]) -> None:
        """Release the locks of ``sources`` (taken by :meth:`take_free`)."""
        self._release([lock_key(s) for s in sources])

    def _release(self, keys: list[str]) -> None:
        keys = [k for k in keys if k in self.keys]
        if not keys:
            return
        try:
            # The rows first: a row is never left behind by a holder that let go.
            with Session(self.engine) as session, session.begin():
                session.execute(delete(RunLock).where(RunLock.name.in_(keys),
                                                      RunLock.holder == self._me))
            with self._connection_guard:
                if self._connection is not None:
                    for key in keys:
                        self._connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                                 {"key": advisory_key(key)})
        finally:
            for key in keys:
                del self.keys[key]
            with _held_here_guard:
                _held_here.difference_update(keys)


def _lock_connection(engine: Engine) -> Connection:
    """A PostgreSQL connection of its own, outside any transaction, that the server keeps
    for as long as this process lives (and drops soon after it is gone)."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    for name, value in KEEPALIVES.items():
        connection.execute(text("SELECT set_config(:name, :value, false)"),
                           {"name": name, "value": str(value)})
    if int(connection.execute(text("SHOW server_version_num")).scalar_one()) >= 140000:
        connection.execute(text("SET idle_session_timeout = 0"))
    return connection


@contextlib.contextmanager
def run_lock(engine: Engine, sources: Iterable[str],
             stale_after: dt.timedelta = STALE_AFTER) -> Iterator[SourceLocks]:
    """Hold the lock of every one of ``sources`` for the ``with`` block (or raise
    :class:`RunLocked` having taken none), refreshing the heartbeat in the background."""
    locks = SourceLocks(engine, stale_after)
    try:
        locks.take(sources)
    except BaseException:
        locks.release()  # PostgreSQL: the connection opened for the locks
        raise
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT.total_seconds()):
            with contextlib.suppress(Exception):
                locks.beat()

    thread = threading.Thread(target=beat, name="docwatch-lock-heartbeat", daemon=True)
    thread.start()
    try:
        yield locks
    finally:
        stop.set()
        thread.join(5)
        locks.release()
