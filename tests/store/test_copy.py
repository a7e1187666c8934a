"""``docwatch db copy --to URL``: a SQLite history moved to PostgreSQL (and back, and to
another SQLite file) reads the same, and the next run on the copy carries on from it.

The history: the bundled demo site plus one large page (about a megabyte of text, so its
compressed snapshot is a real blob), crawled on two dates with the site's edits between
them and one page failing on the second (a fetch error). Every test copies it anew.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import sqlite3
import tracemalloc
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import copy_database, execute, new_database_url, query, write_config
from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from test_prune import write_long_history

from crawler.cli import cli
from crawler.config import load_config
from crawler.demo.server import SITE_ROOT, DocServer, Fault
from crawler.pipeline import crawl
from crawler.store.copy import copied_tables, copy_history
from crawler.store.db import open_database
from crawler.store.models import Base, Page, RunLock

DAYS = [dt.date(2024, 5, 6), dt.date(2024, 5, 13), dt.date(2024, 5, 20)]
BIG_PAGE = "big.html"
FAILING_PAGE = "/lumen/installation.html"  # answers 500 on the second date
NOT_HISTORY = {"alembic_version", "run_lock", "analysis_cache"}
VOCABULARY = ["socket", "router", "channel", "assign", "stream", "render", "mount", "handle",
              "event", "params", "session", "token", "endpoint", "plug", "pipeline", "layout",
              "component", "slot", "attr", "form", "field", "changeset", "query", "schema",
              "repo", "migration", "preload", "transaction"]


def big_page(version: str) -> str:
    """About a megabyte of varied prose in 120 sections; v2 rewrites one sentence."""
    words = random.Random(16).choices(VOCABULARY, k=160_000)
    sections = []
    for number in range(120):
        chunk = words[number * 1300:(number + 1) * 1300]
        paragraphs = [" ".join(chunk[i:i + 100]) + "." for i in range(0, len(chunk), 100)]
        sections.append(f"<h2>Part {number}</h2>" + "".join(f"<p>{p}</p>" for p in paragraphs))
    body = "".join(sections)
    if version == "v2":
        body = body.replace("<h2>Part 60</h2><p>", "<h2>Part 60</h2><p>Revised in v2: ", 1)
    return (f"<html><head><title>The big guide</title></head><body><main><h1>The big guide"
            f"</h1>{body}</main></body></html>")


@dataclass(frozen=True)
class History:
    folder: Path
    base: str
    database: str

    @property
    def config(self) -> Path:
        return self.folder / "sources.yaml"

    def cli(self, *args: str, database: str | None = None) -> Result:
        return CliRunner().invoke(cli, [*args, "--db", database or self.database])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(SITE_ROOT, root, dirs_exist_ok=True)
    for version in ("v1", "v2"):
        (root / version / BIG_PAGE).write_text(big_page(version), encoding="utf-8")
    with DocServer(root=root, version="v1") as server:
        yield server


def write_project(folder: Path, base: str) -> Path:
    return write_config(folder, base, extra="http: {attempts: 1}\n", sources=f"""\
  - name: guide
    kind: page
    urls: [{base}/{BIG_PAGE}]
""")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, site: DocServer) -> History:
    """The demo site and the big page on two dates, in SQLite."""
    folder = tmp_path_factory.mktemp("source")
    config = load_config(write_project(folder, site.base_url))
    database = f"sqlite:///{folder / 'db.sqlite3'}"
    crawl(config, date=DAYS[0], database=database)
    site.set_version("v2")
    site.set_fault(FAILING_PAGE, Fault("status", status=500))
    try:
        outcome = crawl(config, date=DAYS[1], database=database)
    finally:
        site.clear_faults()
    assert outcome.changed > 0 and outcome.errors == 1
    return History(folder, site.base_url, database)


@pytest.fixture
def source(history: History, tmp_path: Path, request: pytest.FixtureRequest) -> History:
    """A copy of the crawled history for one test, in its own project folder."""
    folder = tmp_path / "source"
    shutil.copytree(history.folder, folder, ignore=shutil.ignore_patterns("db.sqlite3*"))
    return History(folder, history.base, copy_database(history.database, request, folder))


def new_project(source: History, folder: Path, database: str) -> History:
    """A project folder like ``source``'s (configuration, skill, no reports) on
    ``database``."""
    folder.mkdir()
    write_project(folder, source.base)
    return History(folder, source.base, database)


def copy_to(source: History, target: str) -> Result:
    return source.cli("db", "copy", "--to", target)


def table_counts(url: str) -> dict[str, int]:
    """Rows per table of the database at ``url``, its history tables found by reflection."""
    engine = open_database(url)
    try:
        names = set(inspect(engine).get_table_names()) - NOT_HISTORY
    finally:
        engine.dispose()
    return {name: query(url, f"SELECT count(*) FROM {name}")[0][0] for name in names}


@pytest.fixture(params=["postgresql", "sqlite"])
def copied(request: pytest.FixtureRequest, source: History, tmp_path: Path
           ) -> tuple[History, History, Result]:
    """``source`` copied with ``docwatch db copy`` into a new database of each kind."""
    target = new_project(source, tmp_path / "target",
                         new_database_url(request.param, request, tmp_path / "target"))
    return source, target, copy_to(source, target.database)


# -- the copy reads as the source did -------------------------------------------------------


def test_the_copy_has_every_row_and_says_so(copied):
    source, target, result = copied

    assert result.exit_code == 0, result.output
    counts = table_counts(source.database)
    assert all(counts.values()), counts  # every table holds rows: a skipped one would show
    assert table_counts(target.database) == counts
    for table, rows in counts.items():
        assert f"copied {table}: {rows} row" in result.stderr
    printed = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:-1]}
    assert printed == {table: [f"{rows:,}", f"{rows:,}"] for table, rows in counts.items()}
    assert result.stdout.splitlines()[-1].endswith(
        f"{sum(counts.values()):,} rows in {len(counts)} tables, the same counts as the source")


def test_every_table_of_the_models_and_the_migrations_is_carried(source, tmp_path, request):
    target = new_database_url("postgresql", request, tmp_path)
    source_engine, target_engine = open_database(source.database), open_database(target)
    try:
        result = copy_history(source_engine, target_engine)
        migrated = set(inspect(target_engine).get_table_names())
    finally:
        source_engine.dispose()
        target_engine.dispose()

    carried = [t.table for t in result.tables]
    assert set(carried) == set(Base.metadata.tables) - NOT_HISTORY
    assert set(carried) == migrated - NOT_HISTORY
    assert carried == [t.name for t in copied_tables()]


def test_history_reports_runs_and_stats_read_the_same_on_the_copy(copied):
    source, target, result = copied
    assert result.exit_code == 0, result.output

    for args in (["history", f"{source.base}/{BIG_PAGE}"],
                 ["history", f"{source.base}/lumen/routing.html"],
                 ["history", f"{source.base}{FAILING_PAGE}"],
                 ["runs"], ["stats"],
                 ["show", f"{source.base}/{BIG_PAGE}", "--at", DAYS[0].isoformat()],
                 ["diff", f"{source.base}/lumen/routing.html", "--no-color"]):
        on_source, on_target = source.cli(*args), target.cli(*args)
        assert on_source.exit_code == on_target.exit_code == 0, (args, on_target.output)
        assert on_target.stdout == on_source.stdout, args
        assert on_target.stdout.strip()
    for day in DAYS[:2]:
        for project in (source, target):
            shutil.rmtree(project.folder / "reports", ignore_errors=True)
            made = project.cli("report", "--date", day.isoformat(), "--config",
                               str(project.config))
            assert made.exit_code == 0, made.output
        # The dated reports (the feed's ids name the folder they are in).
        written = sorted(p.name for p in (source.folder / "reports").glob(f"{day}-*"))
        assert written == sorted(p.name for p in (target.folder / "reports").glob(f"{day}-*"))
        assert {Path(name).suffix for name in written} >= {".json", ".md", ".html"}
        for name in written:  # run ids and times included: the very same files
            assert ((target.folder / "reports" / name).read_bytes()
                    == (source.folder / "reports" / name).read_bytes()), (day, name)


def test_compressed_texts_and_timestamps_are_carried_exactly(source, tmp_path, request):
    target = new_database_url("postgresql", request, tmp_path)
    assert copy_to(source, target).exit_code == 0

    def snapshots(url: str) -> list[tuple[int, bytes, dt.datetime]]:
        rows = query(url, "SELECT id, content, fetched_at FROM snapshots ORDER BY id")
        return [(i, bytes(content), at if isinstance(at, dt.datetime)
                 else dt.datetime.fromisoformat(at)) for i, content, at in rows]

    copied, original = snapshots(target), snapshots(source.database)
    assert copied == original
    assert max(len(content) for _, content, _ in copied) > 100_000  # the big page's blob
    assert any(at.microsecond for _, _, at in copied)
    started = "SELECT id, started_at, finished_at FROM runs ORDER BY id"
    assert [(i, str(a), str(b)) for i, a, b in query(target, started)] == \
        [(i, a, b) for i, a, b in query(source.database, started)]


def test_postgresql_back_to_sqlite_is_the_same_file_row_for_row(source, tmp_path, request):
    """SQLite → PostgreSQL → SQLite: every value of every table as it was stored."""
    middle = new_database_url("postgresql", request, tmp_path)
    back = tmp_path / "back.sqlite3"
    assert copy_to(source, middle).exit_code == 0
    result = source.cli("db", "copy", "--to", f"sqlite:///{back}", database=middle)
    assert result.exit_code == 0, result.output

    original = make_url(source.database).database
    with closing(sqlite3.connect(str(original))) as a, closing(sqlite3.connect(back)) as b:
        tables = [name for (name,) in a.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'") if name not in NOT_HISTORY]
        assert len(tables) == len(copied_tables())
        for table in tables:
            rows = f'SELECT * FROM "{table}" ORDER BY 1'
            assert b.execute(rows).fetchall() == a.execute(rows).fetchall(), table


# -- and the history goes on -----------------------------------------------------------------


def test_a_run_on_the_copy_continues_the_history(source, site, tmp_path, request):
    target_url = new_database_url("postgresql", request, tmp_path / "target")
    target = new_project(source, tmp_path / "target", target_url)
    assert copy_to(source, target.database).exit_code == 0
    config = {p: load_config(p.config) for p in (source, target)}

    site.set_version("v1")  # the third date: the site's edits undone
    try:
        on_source = crawl(config[source], date=DAYS[2], database=source.database)
        on_target = crawl(config[target], date=DAYS[2], database=target.database)
    finally:
        site.set_version("v2")

    def report(outcome) -> dict:
        [path] = [p for p in outcome.report_paths if p.suffix == ".json"]
        data = json.loads(path.read_text(encoding="utf-8"))
        for run in data["runs"]:
            del run["started_at"], run["finished_at"]
        return data

    # The copy's next run is the source's next run: same id (the sequences moved past the
    # copied ids), diffed against the copied snapshots, not a new baseline.
    assert on_target.run_id == on_source.run_id == 3
    assert report(on_target) == report(on_source)
    data = report(on_target)
    assert not any(s["baseline"] for s in data["sources"])
    changed = {c["url"]: c["change"] for c in data["changes"]}
    assert changed[f"{source.base}/{BIG_PAGE}"] == "modified"
    assert f"{source.base}{FAILING_PAGE}" not in changed  # fetched again, unchanged
    history = target.cli("history", f"{source.base}/{BIG_PAGE}")
    assert [line.split()[0] for line in history.stdout.splitlines()[2:]] == \
        [d.isoformat() for d in DAYS]


# -- refusals -----------------------------------------------------------------------------------


def test_a_target_that_holds_a_history_is_refused_and_left_alone(source, tmp_path, request):
    target = new_database_url("postgresql", request, tmp_path)
    assert copy_to(source, target).exit_code == 0
    before = table_counts(target)

    again = copy_to(source, target)
    onto_itself = copy_to(source, source.database)

    assert again.exit_code == 2
    shown = make_url(target).render_as_string(hide_password=True)
    assert again.stderr == (f"error: {shown} already holds a docwatch history (2 runs): db copy "
                            "only writes into an empty database (create a new one)\n")
    assert table_counts(target) == before
    assert onto_itself.exit_code == 2
    assert "is the source database itself" in onto_itself.stderr


def test_no_copy_while_a_crawl_holds_the_source(source, tmp_path, request):
    engine = open_database(source.database)
    try:
        with Session(engine) as session, session.begin():
            crawled = session.scalars(select(Page.source)).first()
            session.add(RunLock(name=crawled, holder="cron-host:4242"))  # alive, elsewhere
    finally:
        engine.dispose()
    target = new_database_url("postgresql", request, tmp_path)

    result = copy_to(source, target)

    assert result.exit_code == 3
    assert f"another docwatch run (cron-host:4242) has been crawling {crawled} on this " \
        "database" in result.stderr
    assert query(target, "SELECT count(*) FROM runs")[0][0] == 0


def test_a_row_the_target_refuses_leaves_it_empty(source, tmp_path, request):
    # PostgreSQL refuses a NUL in text (SQLite stores it): the copy stops at that table.
    execute(source.database, "UPDATE pages SET title = 'a' || char(0) || 'b' "
                             "WHERE id = (SELECT max(id) FROM pages)")
    target = new_database_url("postgresql", request, tmp_path)

    result = copy_to(source, target)

    assert result.exit_code == 4
    error = result.stderr.splitlines()[-1]
    assert error.startswith("error: copying pages: PostgreSQL text fields cannot contain NUL")
    assert error.endswith(f"nothing was written to {target}")
    assert all(rows == 0 for rows in table_counts(target).values())


def test_a_long_history_is_copied_a_batch_at_a_time(tmp_path):
    """Four times the rows, no more memory: no table is read whole."""
    peaks = []
    for runs in (20, 80):
        source, target = (f"sqlite:///{tmp_path / f'{name}-{runs}.sqlite3'}"
                          for name in ("source", "target"))
        write_long_history(source, pages=50, runs=runs)
        engines = open_database(source), open_database(target)
        tracemalloc.start()
        try:
            result = copy_history(*engines)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
            for engine in engines:
                engine.dispose()
        assert {t.table: t.target for t in result.tables}["snapshots"] == 50 * runs
    small, large = peaks
    assert large < small + 300_000, peaks
