"""Carry a whole history into another database: ``docwatch db copy --to URL``.

Every table of the models (:mod:`crawler.store.models`) is copied, parents before
children, a batch of rows at a time (the source is streamed, never read whole), with its
primary keys, so the foreign keys hold and the next run on the copy diffs against the
copied snapshots. Rows travel as stored: a compressed text stays the same bytes, a
timestamp the same instant. The target is brought to the schema through the Alembic
migrations by whoever opened it (:func:`crawler.store.db.open_database`), must hold no
history, and is written in one transaction: a failure half-way leaves it empty. Row
counts are compared table by table before that transaction commits.

The code knows no table by name: a table added to the models is carried too. Only
``run_lock`` (the process holding a database, not history), ``analysis_cache`` (what a
report worked out, not history: the copy's first report works it out again) and
``alembic_version`` (the migrations' own bookkeeping) stay behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator, TypeEngine

from crawler.errors import DocwatchError
from crawler.store.db import checkpoint, describe_database_error
from crawler.store.models import AnalysisCacheEntry, Base, RunLock

# Rows held in memory at a time, per table: a batch of snapshots is a few megabytes.
BATCH_ROWS = 500
# Tables that are the state of a process or derived from the history, not history.
NOT_COPIED = frozenset({RunLock.__tablename__, AnalysisCacheEntry.__tablename__})


class CopyRefused(DocwatchError):
    """``docwatch db copy`` into a database that already holds a history (or is the
    source itself): merging two histories is never done silently."""


class CopyFailed(DocwatchError):
    """The target refused a row (a value its type cannot hold), or its counts differ
    from the source's afterwards: the copy was rolled back, the target left empty."""


@dataclass(frozen=True)
class TableCount:
    """The rows of one table, counted in the source and in the target after the copy."""

    table: str
    source: int
    target: int


@dataclass(frozen=True)
class CopyResult:
    """What :func:`copy_history` carried, table by table in the order copied."""

    tables: tuple[TableCount, ...]

    @property
    def rows(self) -> int:
        return sum(t.target for t in self.tables)


def copied_tables() -> list[Table]:
    """The tables a copy carries, parents before children."""
    return [t for t in Base.metadata.sorted_tables if t.name not in NOT_COPIED]


def same_database(a: URL, b: URL) -> bool:
    """Whether two URLs name the same database (a copy onto itself would refuse anyway,
    but should say why)."""
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        return bool(a.database and b.database
                    and Path(a.database).resolve() == Path(b.database).resolve())
    return ((a.host or "localhost", a.port or 5432, a.database)
            == (b.host or "localhost", b.port or 5432, b.database))


def copy_history(source: Engine, target: Engine, *, batch_rows: int = BATCH_ROWS,
                 on_table: Callable[[str, int], None] | None = None) -> CopyResult:
    """Copy every table of ``source`` into the empty, migrated ``target``.

    ``on_table(name, rows)`` is told each table once it is copied. Raises
    :class:`CopyRefused` when ``target`` holds a history or is ``source``, and
    :class:`CopyFailed` when a row cannot be written or the counts differ afterwards
    (nothing is then written).
    Runs must not write to either database meanwhile: the caller holds their run locks.
    """
    if same_database(source.url, target.url):
        raise CopyRefused(f"{_shown(target)} is the source database itself")
    tables = copied_tables()
    plan = [_TablePlan(t, {t2.name for t2 in tables[:i]}) for i, t in enumerate(tables)]
    with _reading(source) as reader, target.begin() as writer:
        _refuse_a_history(writer, plan, target)
        for step in plan:
            try:
                copied = step.copy_rows(reader, writer, batch_rows)
            except DBAPIError as exc:
                raise CopyFailed(f"copying {step.name}: {describe_database_error(exc)}; "
                                 f"nothing was written to {_shown(target)}") from exc
            if on_table is not None:
                on_table(step.name, copied)
        for step in plan:
            step.link_deferred(reader, writer, batch_rows)
        if writer.dialect.name == "postgresql":
            for step in plan:
                step.reset_sequence(writer)
        counts = tuple(TableCount(s.name, _count(reader, s.stored), _count(writer, s.stored))
                       for s in plan)
        wrong = [c for c in counts if c.source != c.target]
        if wrong:
            raise CopyFailed("the rows counted differ, so nothing was written to "
                             f"{_shown(target)}: " + ", ".join(
                                 f"{c.table} {c.source:,} in the source, {c.target:,} in "
                                 "the copy" for c in wrong))
    checkpoint(target)
    return CopyResult(counts)


class _TablePlan:
    """How one table is carried: its columns as stored, and the foreign keys to a table
    copied later (pages.latest_snapshot_id: pages and snapshots point at each other),
    written empty first and filled in once every table is there."""

    def __init__(self, table: Table, copied_before: set[str]):
        self.name = table.name
        self.stored = _as_stored(table)
        self.key = list(self.stored.primary_key.columns)
        self.deferred = sorted({fk.parent.name for fk in table.foreign_keys
                                if fk.column.table.name not in copied_before})
        for name in self.deferred:
            if not table.c[name].nullable:
                raise ValueError(f"{table.name}.{name} refers to a table copied after it "
                                 "and cannot be NULL meanwhile")
        self.autoincrement = (table.autoincrement_column.name
                              if table.autoincrement_column is not None else None)

    def copy_rows(self, reader: Connection, writer: Connection, batch_rows: int) -> int:
        statement = insert(self.stored)
        blank = dict.fromkeys(self.deferred)
        copied = 0
        for rows in _batches(reader, select(self.stored).order_by(*self.key), batch_rows):
            writer.execute(statement, [{**row._asdict(), **blank} for row in rows])
            copied += len(rows)
        return copied

    def link_deferred(self, reader: Connection, writer: Connection, batch_rows: int) -> None:
        if not self.deferred:
            return
        columns = [self.stored.c[name] for name in self.deferred]
        statement = (update(self.stored)
                     .where(*[c == bindparam(f"key_{c.name}") for c in self.key])
                     .values({c.name: bindparam(f"value_{c.name}") for c in columns}))
        query = (select(*self.key, *columns).where(or_(*[c.is_not(None) for c in columns]))
                 .order_by(*self.key))
        for rows in _batches(reader, query, batch_rows):
            writer.execute(statement, [
                {**{f"key_{c.name}": row._mapping[c.name] for c in self.key},
                 **{f"value_{c.name}": row._mapping[c.name] for c in columns}}
                for row in rows])

    def reset_sequence(self, writer: Connection) -> None:
        """Point PostgreSQL's id sequence past the copied ids: the next run's rows get
        new ones, not a copied run's."""
        if self.autoincrement is None:
            return
        column = self.stored.c[self.autoincrement]
        writer.execute(select(func.setval(
            func.pg_get_serial_sequence(
                writer.dialect.identifier_preparer.format_table(self.stored), column.name),
            func.coalesce(func.max(column), 0) + 1, False)).select_from(self.stored))


def _as_stored(table: Table) -> Table:
    """``table`` with each column typed as its database stores it: a compressed text is
    read and written as its bytes, an enum as its string (no decoding on the way)."""
    return Table(table.name, MetaData(),
                 *[Column(c.name, _stored_type(c), primary_key=c.primary_key)
                   for c in table.columns])


def _stored_type(column: Column[Any]) -> TypeEngine[Any]:
    kind: TypeEngine[Any] = column.type
    while isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, JSON) and column.nullable:
        # A NULL stays NULL (JSON's default would write the JSON value null).
        return JSON(none_as_null=True)
    return kind


def _batches(reader: Connection, query: Any, batch_rows: int) -> Iterator[list[Any]]:
    """The rows of ``query``, ``batch_rows`` at a time (a server-side cursor on
    PostgreSQL, SQLite's own stepping otherwise)."""
    result = reader.execution_options(yield_per=batch_rows).execute(query)
    for partition in result.partitions():
        yield list(partition)


@contextlib.contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    """A connection to the source in one read transaction: every table is read as of
    the same moment (repeatable read on PostgreSQL, a WAL snapshot on SQLite)."""
    options = ({"isolation_level": "REPEATABLE READ"}
               if engine.dialect.name == "postgresql" else {})
    with engine.connect().execution_options(**options) as connection:
        connection.begin()
        if engine.dialect.name == "sqlite":
            # pysqlite opens a transaction only before a write: open it now.
            connection.exec_driver_sql("BEGIN")
        try:
            yield connection
        finally:
            connection.rollback()  # read only: nothing to keep


def _refuse_a_history(writer: Connection, plan: list[_TablePlan], target: Engine) -> None:
    for step in plan:
        rows = _count(writer, step.stored)
        if rows:
            what = (f"a docwatch history ({rows:,} runs)" if step.name == "runs"
                    else f"{rows:,} rows in {step.name}")
            raise CopyRefused(f"{_shown(target)} already holds {what}: db copy only "
                              "writes into an empty database (create a new one)")


def _count(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
