"""An existing database is upgraded in place, its data kept: 0003 moves the store's
bookkeeping out of ``pages.meta`` / ``sources.meta`` into typed columns (and back on a
downgrade), and gives old modified packages the ``details.before`` the report reads. On
SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest
from alembic import command
from conftest import execute, query
from sqlalchemy import create_engine, inspect, text

from crawler.hexdocs import url_key
from crawler.http import Validators
from crawler.store.db import SCHEMA_HEAD, alembic_config, current_revision, open_database
from crawler.store.memory import load_memory

DOCS_PAGE = "https://quill.hexdocs.pm/overview.html"
PACKAGE_PAGE = "https://hex.pm/packages/lantern"
POST = "https://blog.example/posts/1"

PAGE_META = {"validators": {"https://quill.hexdocs.pm/overview.md": ['"md-1"', None]},
             "moved_to": "https://quill.hexdocs.pm/start.html",
             "suspect": {"hash": "ab12", "runs": 2}}
PACKAGE_META = {"package": "lantern", "latest_stable_version": "1.4.2",
                "latest_version": "1.4.2", "docs_url": None, "link": PACKAGE_PAGE}
POST_META = {"link": POST, "author": "Ada", "published_at": None, "feed": "Blog",
             "summary": "hello"}
DOCS_SOURCE_META = {"state": {"exdoc": {"https://quill.hexdocs.pm/": {"main": ['"m"', None]}}},
                    "index_suspects": {"https://quill.hexdocs.pm/": 1}}
BLOG_SOURCE_META = {"state": {}}


def package_text(stable: str, latest: str) -> bytes:
    text = f"# lantern\n\nlatest stable version: {stable}\nlatest version: {latest}\n"
    return zlib.compress(text.encode("utf-8"), 1)


@pytest.fixture
def old_database(database_url: str) -> str:
    """A database at 0002 holding bookkeeping in meta and old package changes."""
    url = database_url
    command.upgrade(alembic_config(url), "0002")
    engine = create_engine(url)
    with engine.begin() as db:
        def insert(sql: str, **params: Any) -> None:
            db.execute(text(sql), params)

        for run_id in (1, 2):
            insert("insert into runs (id, run_date, started_at, status, sources, "
                   "pages_checked, pages_unchanged, pages_changed, errors, requests, "
                   "not_modified, bytes_received) values (:id, :day, "
                   "'2025-05-01 00:00:00', 'completed', '[]', 0, 0, 0, 0, 0, 0, 0)",
                   id=run_id, day=f"2025-05-0{run_id}")
        for name, kind, meta in (("docs", "exdoc", DOCS_SOURCE_META),
                                 ("blog", "feed", BLOG_SOURCE_META),
                                 ("hex", "hexpm", {})):
            insert("insert into sources (name, kind, baseline_run_id, last_run_id, "
                   "failing_runs, meta) values (:name, :kind, 1, 2, 0, :meta)",
                   name=name, kind=kind, meta=json.dumps(meta))
        for page_id, source, page_url, item, meta in (
                (1, "docs", DOCS_PAGE, "page", {"summary": "a guide", **PAGE_META}),
                (2, "hex", PACKAGE_PAGE, "package", PACKAGE_META),
                (3, "blog", POST, "post", POST_META)):
            insert("insert into pages (id, source, url, title, \"group\", item, meta, "
                   "missing_runs, status, first_seen_run_id, last_seen_run_id, "
                   "fetched_url, etag) values (:id, :source, :url, 't', '', :item, :meta, 0, "
                   "'active', 1, 2, :url, '\"e\"')",
                   id=page_id, source=source, url=page_url, item=item, meta=json.dumps(meta))
        for snap_id, page_id, content in (
                (1, 2, package_text("1.4.1", "1.4.1")), (2, 2, package_text("1.4.2", "1.4.2")),
                (3, 2, package_text("None", "1.5.0-rc.0")),
                (4, 1, zlib.compress(b"# Overview\n", 1))):
            insert("insert into snapshots (id, page_id, run_id, content_hash, title, "
                   "content, size, representation, fetched_url, fetched_at, terms, "
                   "notices) values (:id, :page_id, 1, 'h', 't', :content, 10, 'json', 'u', "
                   "'2025-05-01 00:00:00', '[]', '[]')",
                   id=snap_id, page_id=page_id, content=content)
        for change_id, page_id, kind, old, details in (
                (1, 2, "modified", 2, {"lines_added": 2}),  # from 1.4.2
                (2, 2, "modified", 3, {"lines_added": 1}),  # from no stable release
                (3, 2, "modified", 1, {"before": {"latest_stable_version": "0.9.0"}}),
                (4, 1, "modified", 4, {"lines_added": 1}),  # a page: no facts before
                (5, 2, "added", None, {}),
                (6, 2, "modified", None, {"lines_added": 1})):  # old snapshot pruned
            insert("insert into changes (id, run_id, report_run_id, page_id, kind, "
                   "summary, details, old_snapshot_id, new_snapshot_id, created_at) "
                   "values (:id, 2, 2, :page_id, :kind, 's', :details, :old, NULL, "
                   "'2025-05-02 00:00:00')",
                   id=change_id, page_id=page_id, kind=kind, details=json.dumps(details),
                   old=old)
    engine.dispose()
    return url


def rows(url: str, sql: str) -> list[tuple]:
    """The rows of ``sql``, a JSON value as what it holds (SQLite gives its text)."""
    def value(v: Any) -> Any:
        return json.loads(v) if isinstance(v, str) and v[:1] in "{[" else v

    return [tuple(value(v) for v in row) for row in query(url, sql)]


def columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_the_bookkeeping_moves_to_its_columns_and_the_item_keeps_its_facts(old_database):
    url = old_database
    engine = open_database(url)  # as docwatch opens it: migrated on first use
    assert current_revision(engine) == SCHEMA_HEAD

    pages = {page_id: (meta, aux, moved, suspect_hash, runs)
             for page_id, meta, aux, moved, suspect_hash, runs in rows(
                 url, "select id, meta, aux_validators, moved_to, suspect_hash, "
                       "suspect_runs from pages")}
    assert pages[1] == ({"summary": "a guide"}, PAGE_META["validators"],
                        PAGE_META["moved_to"], "ab12", 2)
    assert pages[2] == (PACKAGE_META, {}, None, None, 0)
    assert pages[3] == (POST_META, {}, None, None, 0)

    assert "meta" not in columns(url, "sources")
    sources = {name: (state, suspects) for name, state, suspects
               in rows(url, "select name, state, index_suspects from sources")}
    # 0011: each root's ExDoc index in its own row.
    assert sources == {"docs": ({}, DOCS_SOURCE_META["index_suspects"]),
                       "blog": ({}, {}), "hex": ({}, {})}
    assert rows(url, "select source, target, state from target_states") == [
        ("docs", target, index) for target, index in DOCS_SOURCE_META["state"]["exdoc"].items()]

    # The next run reads them where they now are.
    memory = load_memory(engine, "docs", "exdoc")
    # Validators of the .md twin, sent next time (under either form of a hexdocs URL).
    assert memory.validators[url_key("https://hexdocs.pm/quill/overview.md")] == \
        Validators('"md-1"', None)
    known = memory.known[DOCS_PAGE]
    assert known.moved_to == PAGE_META["moved_to"]
    assert known.aux_validators == {"https://quill.hexdocs.pm/overview.md":
                                    Validators('"md-1"', None)}
    assert known.meta == {"summary": "a guide"}
    assert memory.state == {}
    assert memory.index_suspects == DOCS_SOURCE_META["index_suspects"]


def test_old_modified_packages_get_the_version_they_replaced(old_database):
    url = old_database
    open_database(url)
    details = {change_id: d for change_id, d in rows(
        url, "select id, details from changes")}
    assert details[1] == {"lines_added": 2, "before": {"latest_stable_version": "1.4.2"}}
    assert details[2] == {"lines_added": 1, "before": {"latest_stable_version": None}}
    assert details[3] == {"before": {"latest_stable_version": "0.9.0"}}  # already known
    assert details[4] == {"lines_added": 1}  # a page
    assert details[5] == {}  # not a modification
    assert details[6] == {"lines_added": 1}  # no old text left to read it from


def test_a_downgrade_puts_the_bookkeeping_back_into_meta(old_database):
    url = old_database
    open_database(url).dispose()
    command.downgrade(alembic_config(url), "0002")

    assert rows(url, "select version_num from alembic_version") == [("0002",)]
    assert not {"aux_validators", "moved_to", "suspect_hash", "suspect_runs"} \
        & columns(url, "pages")
    assert not {"state", "index_suspects"} & columns(url, "sources")
    metas = {page_id: meta for page_id, meta in rows(
        url, "select id, meta from pages")}
    assert metas == {1: {"summary": "a guide", **PAGE_META}, 2: PACKAGE_META, 3: POST_META}
    sources = {name: meta for name, meta in rows(
        url, "select name, meta from sources")}
    assert sources == {"docs": DOCS_SOURCE_META, "blog": BLOG_SOURCE_META,
                       "hex": {"state": {}}}

    # ... and upgrading again moves it out again.
    open_database(url)
    assert rows(url, "select moved_to, suspect_runs from pages where id = 1") == [
        (PAGE_META["moved_to"], 2)]


def test_0007_adds_the_gap_records_and_keeps_the_skill_checks(database_url):
    url = database_url
    command.upgrade(alembic_config(url), "0006")
    execute(url, "insert into skill_checks (run_date, skill, digest, stale, checked_at) "
                 "values ('2025-05-01', 's', 'd', '[]', '2025-05-01 03:00:00')")
    open_database(url).dispose()
    assert current_revision(create_engine(url)) == SCHEMA_HEAD
    assert {"first_seen", "covered_on", "covered_by", "new_skill", "group"} <= columns(
        url, "skill_gaps")
    execute(url, "insert into skill_gaps (kind, url, title, source, package, \"group\", "
                 "page_title, first_seen) values ('page', 'https://d/p.html', 'P', 'docs', "
                 "'p', 'Guides', 'P', '2025-05-01')")

    command.downgrade(alembic_config(url), "0006")
    engine = create_engine(url)
    try:
        assert "skill_gaps" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert rows(url, "select skill, digest from skill_checks") == [("s", "d")]


def test_0011_gives_each_remembered_root_its_row_and_a_downgrade_puts_them_back(
        database_url):
    url = database_url
    command.upgrade(alembic_config(url), "0010")
    roots = {"https://hexdocs.pm/quill/": {"main_url": "https://hexdocs.pm/quill/a.html"},
             "https://lamp.hexdocs.pm/": {"main_url": "https://lamp.hexdocs.pm/b.html",
                                          "pages": [["b", "B", "Guides"]]}}
    hexpm = {"lantern": {"etag": '"x"'}}
    for name, kind, state in (("docs", "exdoc", {"exdoc": roots}),
                              ("hex", "hexpm", {"hexpm": hexpm}), ("odd", "exdoc", [])):
        execute(url, "insert into sources (name, kind, failing_runs, state, index_suspects) "
                     f"values ('{name}', '{kind}', 0, '{json.dumps(state)}', '{{}}')")

    command.upgrade(alembic_config(url), "0011")
    assert sorted(rows(url, "select source, target, state from target_states")) == sorted(
        ("docs", target, index) for target, index in roots.items())
    assert dict(rows(url, "select name, state from sources")) == {
        "docs": {}, "hex": {"hexpm": hexpm}, "odd": []}

    command.downgrade(alembic_config(url), "0010")
    assert dict(rows(url, "select name, state from sources")) == {
        "docs": {"exdoc": roots}, "hex": {"hexpm": hexpm}, "odd": []}
    engine = create_engine(url)
    try:
        assert "target_states" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_0012_gives_each_remembered_package_its_row_and_a_downgrade_puts_them_back(
        database_url):
    url = database_url
    command.upgrade(alembic_config(url), "0011")
    packages = {"lantern": {"validators": ['"x"', None],
                            "items": ["https://hex.pm/packages/lantern/1.0.0"]},
                "wick": {"validators": [None, "Mon, 01 Dec 2025 00:00:00 GMT"], "items": []}}
    for name, kind, state in (("hex", "hexpm", {"hexpm": packages, "other": 1}),
                              ("docs", "exdoc", {"hexpm": {"not": {"a": "package"}}}),
                              ("odd", "hexpm", [])):
        execute(url, "insert into sources (name, kind, failing_runs, state, index_suspects) "
                     f"values ('{name}', '{kind}', 0, '{json.dumps(state)}', '{{}}')")

    open_database(url).dispose()
    assert sorted(rows(url, "select source, target, state from target_states")) == sorted(
        ("hex", package, value) for package, value in packages.items())
    assert dict(rows(url, "select name, state from sources")) == {
        "hex": {"other": 1}, "docs": {"hexpm": {"not": {"a": "package"}}}, "odd": []}

    command.downgrade(alembic_config(url), "0011")
    assert rows(url, "select source from target_states") == []
    assert dict(rows(url, "select name, state from sources")) == {
        "hex": {"other": 1, "hexpm": packages}, "docs": {"hexpm": {"not": {"a": "package"}}},
        "odd": []}
