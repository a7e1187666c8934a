"""The recorder's own parts: a source's memory, read whole or a package root at a time."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import new_database_url
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from crawler.hexdocs import url_key
from crawler.sources.base import TargetDone
from crawler.store.db import open_database
from crawler.store.memory import load_memory, url_under
from crawler.store.models import Page, Run, SourceState
from crawler.store.recorder import BatchWriter, SourceRecorder
from crawler.types import PageStatus, RunStatus

PAGES = [
    (1, "https://hexdocs.pm/phoenix/overview.html"),
    (2, "https://phoenix.hexdocs.pm/routing.html"),  # the subdomain form of phoenix
    (3, "https://hexdocs.pm/phoenix_live_view/welcome.html"),  # a name phoenix begins
    (4, "https://hexdocs.pm/phoenix/1.7.0/overview.html"),
    (5, "https://example.test/blog/post.html"),
    (6, "https://hexdocs.pm/ecto/Ecto.html"),
    (7, "https://hexdocs.pm/phoenix0/index.html"),  # just past phoenix/ in byte order
    (8, "https://hexdocs.pm/phoenix/Phoenix.Router.html"),  # capitals sort before "/"
    (9, "https://hexdocs.pm/phoenix.html"),
]
BUILT = "Tue, 01 Dec 2026 04:00:00 GMT"
SCOPES = ["https://hexdocs.pm/phoenix/", "https://phoenix.hexdocs.pm/",
          "https://hexdocs.pm/phoenix/1.7.0/", "https://hexdocs.pm/phoenix_live_view/",
          "https://example.test/", "https://hexdocs.pm/absinthe/"]


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-icu"])
def pages_database(request, tmp_path) -> str:
    """A database holding PAGES; on PostgreSQL also one whose collation orders text
    skipping its punctuation at first, as glibc's en_US.UTF-8 (a common default) does."""
    if request.param == "postgresql-icu":
        server = request.getfixturevalue("postgres_server")
        name = f"docwatch_icu_{tmp_path.name[-20:]}".replace("-", "_")
        server.admin(f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                     "ICU_LOCALE 'en-US-u-ka-shifted' LOCALE 'C.UTF-8'")
        url = server.url(name)
    else:
        url = new_database_url(request.param, request, tmp_path)
    engine = open_database(url)
    with Session(engine) as session, session.begin():
        session.add(Run(id=1, run_date=dt.date(2026, 12, 1), sources=["docs"],
                        status=RunStatus.COMPLETED))
        session.flush()
        session.add(SourceState(name="docs", kind="exdoc", baseline_run_id=1, last_run_id=1))
        session.add(SourceState(name="other", kind="exdoc", baseline_run_id=1))
        for page_id, url_ in PAGES:
            session.add(Page(id=page_id, source="docs", url=url_, first_seen_run_id=1,
                             last_seen_run_id=1, fetched_url=url_, etag=f'"{page_id}"'))
        session.add(Page(id=100, source="other", url=PAGES[0][1], first_seen_run_id=1,
                         last_seen_run_id=1))
    engine.dispose()
    return url


def test_a_target_reads_the_pages_under_it_in_either_form_and_no_other(pages_database):
    engine = open_database(pages_database)
    try:
        for scope in SCOPES:
            memory = load_memory(engine, "docs", "exdoc", by_target=True)
            assert not memory.page_ids  # nothing read before the crawl reaches a target
            with Session(engine) as session:
                memory.read_target(session, "docs", scope)
            expected = {page_id for page_id, url in PAGES
                        if url_key(url).startswith(url_key(scope))}
            assert set(memory.page_ids.values()) == expected, scope
            assert set(memory.validators) == {url_key(url) for page_id, url in PAGES
                                              if page_id in expected}
            memory.release(scope)
            assert not memory.page_ids and not memory.known and not memory.validators
    finally:
        engine.dispose()


def test_a_page_outside_every_target_read_is_read_on_its_own(pages_database):
    engine = open_database(pages_database)
    try:
        recorder = SourceRecorder.open(engine, 1, "docs", "exdoc", by_target=True)
        recorder.open_target("https://hexdocs.pm/ecto/")
        assert recorder.has_page("https://hexdocs.pm/ecto/Ecto.html")
        # Not under the target read: a stored page is still known, a new one is not.
        assert recorder.has_page("https://phoenix.hexdocs.pm/overview.html")
        assert recorder.validators_for("https://hexdocs.pm/phoenix/routing.html").etag == '"2"'
        assert not recorder.has_page("https://hexdocs.pm/phoenix/new.html")
        recorder.writer.discard()
    finally:
        engine.dispose()


def test_a_source_remembers_its_pages_then_hands_them_back_when_it_finishes(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    root = "https://glimmer.hexdocs.pm/"
    with Session(engine) as session, session.begin():
        session.add(Run(id=1, run_date=dt.date(2026, 12, 1), sources=["docs"],
                        status=RunStatus.COMPLETED))
        session.add(Run(id=2, run_date=dt.date(2026, 12, 2), sources=["docs"],
                        status=RunStatus.RUNNING))
        session.flush()
        session.add(SourceState(name="docs", kind="exdoc", baseline_run_id=1, last_run_id=1))
        for name, meta in (("guide", {}), ("release", {"version": "1.2.0"})):
            session.add(Page(source="docs", url=f"{root}{name}.html", first_seen_run_id=1,
                             last_seen_run_id=1, fetched_url=f"{root}{name}.html",
                             etag=f'"{name}"', last_modified=BUILT, meta=meta))
        session.add(Page(source="docs", url=f"{root}gone.html", first_seen_run_id=1,
                         last_seen_run_id=1, status=PageStatus.REMOVED, etag='"gone"'))
    recorder = SourceRecorder.open(engine, 2, "docs", "exdoc")

    # Asked under either hexdocs form, a page is the one stored; a removed page is not
    # active, and sends no validators.
    assert recorder.has_page("https://hexdocs.pm/glimmer/guide.html")
    assert not recorder.has_page(f"{root}gone.html")
    assert recorder.validators_for("https://hexdocs.pm/glimmer/guide.html").etag == '"guide"'
    assert recorder.validators_for(f"{root}gone.html") is None
    # One build's pages share their Last-Modified: one string for all of them.
    assert recorder.validators_for(f"{root}guide.html").last_modified == BUILT
    assert recorder.validators_for(f"{root}guide.html").last_modified \
        is recorder.validators_for(f"{root}release.html").last_modified
    facts = recorder.page_meta(f"{root}release.html")
    facts["version"] = "9.9.9"  # the caller's copy
    assert recorder.page_meta(f"{root}release.html") == {"version": "1.2.0"}
    assert recorder.page_meta(f"{root}guide.html") == {}

    recorder.finish()
    assert not recorder.memory.page_ids and not recorder.memory.known
    assert not recorder.memory.validators and recorder.tally.checked == 0


def test_a_root_done_hands_back_its_pages_and_keeps_those_of_roots_in_flight(
        pages_database):
    engine = open_database(pages_database)
    try:
        recorder = SourceRecorder.open(engine, 1, "docs", "exdoc", by_target=True)
        recorder.open_target("https://hexdocs.pm/phoenix/")
        recorder.open_target("https://ecto.hexdocs.pm/")
        assert set(recorder.memory.page_ids.values()) == {1, 2, 4, 6, 8}

        recorder.record(TargetDone("https://phoenix.hexdocs.pm/"))  # either form

        assert set(recorder.memory.page_ids.values()) == {6}
        assert set(recorder.memory.validators) == {"https://hexdocs.pm/ecto/Ecto.html"}
        # Asked again, a handed-back page is read again, not taken for a new one.
        assert recorder.validators_for("https://hexdocs.pm/phoenix/overview.html").etag \
            == '"1"'
        recorder.writer.discard()
    finally:
        engine.dispose()


def test_what_a_source_remembers_of_a_root_is_written_as_the_root_is_done(pages_database):
    engine = open_database(pages_database)
    try:
        recorder = SourceRecorder.open(engine, 1, "docs", "exdoc", by_target=True)
        root = "https://hexdocs.pm/phoenix/"
        recorder.remember(root, {"main_url": f"{root}overview.html"})
        assert recorder.remembered("https://phoenix.hexdocs.pm/") == {
            "main_url": f"{root}overview.html"}
        recorder.record(TargetDone(root))
        recorder.flush()

        again = SourceRecorder.open(engine, 2, "docs", "exdoc", by_target=True)
        assert again.remembered("https://phoenix.hexdocs.pm/") == {
            "main_url": f"{root}overview.html"}
        assert again.remembered("https://hexdocs.pm/ecto/") is None
        again.writer.discard()
    finally:
        engine.dispose()


def test_on_postgresql_a_roots_pages_are_read_through_the_byte_order_index(pages_database):
    if not pages_database.startswith("postgresql"):
        pytest.skip("SQLite's unique index on (source, url) is in byte order already")
    engine = open_database(pages_database)
    try:
        with engine.connect() as connection:
            connection.execute(text("SET enable_seqscan = off"))  # a few rows: force it
            query = select(Page.id).where(Page.source == "docs",
                                          url_under("https://hexdocs.pm/phoenix/", "postgresql"))
            compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
            plan = "\n".join(connection.execute(text(f"EXPLAIN {compiled}")).scalars())
        # The index bounds the URLs too, not only the source (then a filter reads all).
        assert "Index Scan using ix_pages_source_url_bytes" in plan, plan
        assert "url" in next(line for line in plan.splitlines() if "Index Cond" in line), plan
    finally:
        engine.dispose()


def test_a_batch_that_cannot_be_committed_is_dropped_and_the_next_starts_clean(tmp_path):
    # A full disk fails one commit (here a trigger refuses the write): the batch is
    # lost, but the next write meets the database's own answer again, not a session
    # left failed ("this transaction has been rolled back"), which a source would take
    # for its own crash.
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    engine = open_database(url)
    with Session(engine) as session, session.begin():
        session.add(Run(id=1, run_date=dt.date(2026, 12, 1), sources=["docs"]))
        session.flush()
        session.add(Page(id=1, source="docs", url="https://d.test/a", first_seen_run_id=1,
                         last_seen_run_id=1))
    with engine.begin() as conn:
        conn.execute(text("CREATE TRIGGER full BEFORE UPDATE ON pages "
                          "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"))
    writer = BatchWriter(engine)
    writer.touch({"id": 1, "missing_runs": 1})
    with pytest.raises(DBAPIError, match="disk is full"):
        writer.flush()
    writer.touch({"id": 1, "missing_runs": 2})
    with pytest.raises(DBAPIError, match="disk is full"):
        writer.flush()
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER full"))
    writer.touch({"id": 1, "missing_runs": 3})
    writer.flush()
    with Session(engine) as session:
        assert session.get_one(Page, 1).missing_runs == 3
    engine.dispose()
