"""The schema comes from the Alembic migrations, on first use, and only then; on SQLite
and on PostgreSQL it holds the same values."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import execute, query
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from crawler.store.db import SCHEMA_HEAD, alembic_config, current_revision, open_database
from crawler.store.models import Base, Change, Page, Run, Snapshot
from crawler.types import ChangeKind, Item, PageStatus, RunStatus

TABLES = {"runs", "pages", "snapshots", "changes", "fetch_errors", "sources", "run_sources",
          "run_lock", "skill_checks", "skill_gaps", "alembic_version"}


def test_schema_head_is_the_newest_migration():
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert scripts.get_current_head() == SCHEMA_HEAD


def test_a_new_database_is_created_by_the_migrations(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'sub' / 'new.sqlite3'}")
    assert current_revision(engine) == SCHEMA_HEAD
    tables = {name for (name,) in sqlite3.connect(tmp_path / "sub" / "new.sqlite3").execute(
        "select name from sqlite_master where type = 'table'")}
    assert tables >= TABLES


def test_every_database_gets_the_whole_schema(database_url):
    engine = open_database(database_url)
    try:
        assert current_revision(engine) == SCHEMA_HEAD
        assert set(inspect(engine).get_table_names()) >= TABLES
        # The page → latest snapshot link is a real foreign key on every database.
        assert any(fk["referred_table"] == "snapshots" and
                   fk["constrained_columns"] == ["latest_snapshot_id"]
                   for fk in inspect(engine).get_foreign_keys("pages"))
    finally:
        engine.dispose()


# SQLite cannot hold the PostgreSQL-only index below: Alembic says it skips it.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression")
def test_the_migrations_build_the_schema_the_models_declare(database_url):
    """Tables, columns, indexes and foreign keys: what Alembic would autogenerate from the
    models is nothing (a model's new index without its migration fails here)."""
    engine = open_database(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": _comparable})
            assert compare_metadata(context, Base.metadata) == []
            if engine.dialect.name == "postgresql":
                [(definition,)] = connection.execute(text(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                    {"name": BYTE_ORDER_INDEX}).all()
                assert definition.endswith('(source, url COLLATE "C")')
    finally:
        engine.dispose()


# Alembic reads this PostgreSQL index (an expression: the URL in byte order) as one of
# plain columns, so it cannot compare it: its definition is checked by hand instead.
BYTE_ORDER_INDEX = "ix_pages_source_url_bytes"


def _comparable(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name == BYTE_ORDER_INDEX)


def test_a_database_not_at_head_is_handed_to_alembic(database_url):
    open_database(database_url).dispose()
    # Pretend the schema predates the newest migration.
    execute(database_url, "drop table run_lock",
            "update alembic_version set version_num = 'base-test'")
    # An unknown revision is Alembic's to judge: it must not be silently skipped.
    try:
        open_database(database_url)
    except Exception as exc:  # alembic: "Can't locate revision identified by 'base-test'"
        assert "base-test" in str(exc)
    else:
        raise AssertionError("an unknown schema revision was not handed to Alembic")


def test_every_column_reads_back_what_was_written(database_url):
    long_url = "https://example.org/" + "a" * 1980  # the longest URL a page may have
    text = "Überall — ünïcode text\n" * 2000  # stored compressed (bytea on PostgreSQL)
    fetched = dt.datetime(2025, 5, 1, 12, 30, 15, 123456)
    engine = open_database(database_url)
    try:
        with Session(engine) as session, session.begin():
            run = Run(run_date=dt.date(2025, 5, 1), sources=["docs"],
                      status=RunStatus.COMPLETED, started_at=fetched)
            session.add(run)
            session.flush()
            page = Page(source="docs", url=long_url, item=Item.POST,
                        meta={"summary": "ß", "feed": None}, first_seen_run_id=run.id,
                        last_seen_run_id=run.id, aux_validators={long_url: ['"e"', None]})
            session.add(page)
            session.flush()
            snapshot = Snapshot(page_id=page.id, run_id=run.id, content_hash="h" * 64,
                                content=text, size=len(text), fetched_url=long_url,
                                fetched_at=fetched, terms=["function:a/1"],
                                notices=[{"kind": "deprecated", "subject": "x"}])
            session.add(snapshot)
            session.flush()
            session.add(Change(run_id=run.id, report_run_id=run.id, page_id=page.id,
                               kind=ChangeKind.ADDED, details={"lines_added": 3},
                               new_snapshot_id=snapshot.id))
            page.latest_snapshot_id = snapshot.id
        with Session(engine) as session:
            page = session.query(Page).one()
            assert (page.url, page.item, page.status) == (long_url, Item.POST, PageStatus.ACTIVE)
            assert isinstance(page.item, Item) and page.meta == {"summary": "ß", "feed": None}
            assert page.aux_validators == {long_url: ['"e"', None]}
            assert page.latest is not None and page.latest.content == text
            assert page.latest.fetched_at == fetched and page.latest.fetched_at.tzinfo is None
            assert page.latest.terms == ["function:a/1"]
            change = session.query(Change).one()
            assert change.kind == ChangeKind.ADDED and change.details == {"lines_added": 3}
            run = session.query(Run).one()
            assert run.status == RunStatus.COMPLETED and run.sources == ["docs"]
            assert run.started_at == fetched
        # What the columns hold is the enum's value, as before the enums existed.
        assert [tuple(row) for row in query(database_url, "select item, status from pages")] \
            == [("post", "active")]
    finally:
        engine.dispose()
