"""Open a database and bring its schema up to date through the Alembic migrations."""

from __future__ import annotations

import os
import sqlite3
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from crawler.errors import DocwatchError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

DEFAULT_DATABASE = "sqlite:///db/docwatch.sqlite3"
ENV_VAR = "DOCWATCH_DATABASE_URL"


def database_url(explicit: str | None = None) -> str:
    """``--db``, else ``$DOCWATCH_DATABASE_URL``, else the SQLite file in ``db/``."""
    return explicit or os.environ.get(ENV_VAR) or DEFAULT_DATABASE


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite ``url`` (None for another database or an in-memory one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class DatabaseUnusable(DocwatchError):
    """The database cannot hold docwatch's history: an empty or foreign file, a server
    that cannot be reached, a disk that is full, a file that is read-only."""


def describe_database_error(exc: BaseException) -> str:
    """One sentence for a failure of the database itself (the driver's own words,
    without the SQL statement SQLAlchemy appends)."""
    orig = getattr(exc, "orig", None) or exc
    words = str(orig).strip().splitlines()
    return words[0] if words else type(orig).__name__


def open_database(url: str) -> Engine:
    """Create the engine for ``url`` (creating a SQLite file's folder) and migrate it.

    SQLite (``sqlite:///path``) and PostgreSQL (``postgresql+psycopg://…``, the
    ``postgres`` extra) are the databases docwatch is tested on.
    """
    file = sqlite_file(url)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        if file.is_file() and file.stat().st_size == 0:
            # SQLite would take it for a new database: a history lost, silently.
            raise DatabaseUnusable(f"{file} is an empty file, not a docwatch database: "
                                   "restore a backup, or remove it to start a new history")
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        # A server may drop an idle connection (a restart, a proxy's timeout) between the
        # scheduler's runs: a pooled connection is checked before it is handed out.
        engine = create_engine(url, pool_pre_ping=True)
    else:
        engine = create_engine(url)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        revision = current_revision(engine)
        if revision is None and file is not None:
            # Only a file without docwatch's schema can be someone else's (a nightly
            # run's database is up to date: it lists no tables).
            _refuse_a_foreign_sqlite_file(engine, file)
        if revision != SCHEMA_HEAD:
            upgrade(engine)
    except DBAPIError as exc:
        if file is not None and file.is_file() and _on_read_only_file_system(file):
            # SQLite says "unable to open database file": say why.
            raise DatabaseUnusable(
                f"{file} is on a read-only file system: SQLite writes beside it (its -wal "
                "and -shm files) even to read it; copy it to a writable folder") from exc
        raise
    return engine


def _refuse_a_foreign_sqlite_file(engine: Engine, file: Path) -> None:
    """A SQLite file with tables but no docwatch schema is another program's database:
    migrating into it would mix docwatch's tables into it."""
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
    if tables and "alembic_version" not in tables:
        engine.dispose()
        shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
        raise DatabaseUnusable(f"{file} is another program's SQLite database (tables: "
                               f"{shown}), not a docwatch database: check --db")


def _on_read_only_file_system(file: Path) -> bool:
    try:
        return bool(os.statvfs(file.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets a report be read while a run writes; the timeout rides out the short write
    # transactions of another run (of other sources) instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# The newest migration in crawler/alembic/versions (tests/store/test_db.py keeps it so).
# A database already there is not handed to Alembic at all: that import costs more than
# a nightly run's bookkeeping.
SCHEMA_HEAD = "0012"


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(files("crawler") / "alembic"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Apply every pending migration (a no-op on an up-to-date database)."""
    if current_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def checkpoint(engine: Engine) -> None:
    """Write SQLite's write-ahead log back into the database file and empty it.

    Between runs the main file then holds everything: copying ``docwatch.sqlite3``
    alone is a backup (in WAL mode a run's writes first go to ``-wal``). A no-op for
    other databases, and when a reader holds the log (the next checkpoint catches up).
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


class BackupRefused(DocwatchError):
    """``docwatch db backup`` of a database it cannot copy (not SQLite), or to a path
    that already exists."""


def backup(engine: Engine, target: Path) -> Path:
    """Copy the SQLite database of ``engine`` into the new file ``target``, consistent
    even while a run writes (SQLite's online backup). PostgreSQL has ``pg_dump``."""
    if engine.dialect.name != "sqlite":
        raise BackupRefused(f"docwatch db backup copies SQLite databases; for "
                            f"{engine.dialect.name} use its own tools (pg_dump)")
    if target.exists():
        raise BackupRefused(f"{target} already exists: not overwriting it")
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = engine.raw_connection()
    try:
        with sqlite3.connect(target) as copy:
            raw.driver_connection.backup(copy)  # type: ignore[union-attr]
        # A backup is one self-contained file: not in WAL mode, no -wal beside it.
        with sqlite3.connect(target) as copy:
            copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        raw.close()
    return target
