"""The schema comes from the Alembic migrations, on first use, and only then."""

from __future__ import annotations

import sqlite3

from alembic.script import ScriptDirectory

from crawler.store.db import SCHEMA_HEAD, alembic_config, current_revision, open_database


def test_schema_head_is_the_newest_migration():
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert scripts.get_current_head() == SCHEMA_HEAD


def test_a_new_database_is_created_by_the_migrations(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'sub' / 'new.sqlite3'}")
    assert current_revision(engine) == SCHEMA_HEAD
    tables = {name for (name,) in sqlite3.connect(tmp_path / "sub" / "new.sqlite3").execute(
        "select name from sqlite_master where type = 'table'")}
    assert {"runs", "pages", "snapshots", "changes", "fetch_errors", "sources",
            "run_sources", "run_lock", "alembic_version"} <= tables


def test_a_database_not_at_head_is_handed_to_alembic(tmp_path):
    path = tmp_path / "old.sqlite3"
    open_database(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:  # pretend the schema predates the newest migration
        db.execute("drop table run_lock")
        db.execute("update alembic_version set version_num = 'base-test'")
    # An unknown revision is Alembic's to judge: it must not be silently skipped.
    try:
        open_database(f"sqlite:///{path}")
    except Exception as exc:  # alembic: "Can't locate revision identified by 'base-test'"
        assert "base-test" in str(exc)
    else:
        raise AssertionError("an unknown schema revision was not handed to Alembic")
