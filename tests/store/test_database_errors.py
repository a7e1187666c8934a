"""A failure of the database itself is one sentence and exit status 4, never a
traceback; the run row says why where the database still takes the write."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import small_tmpfs, write_config

from crawler.cli import EXIT_DATABASE, cli
from crawler.store.db import open_database


def docwatch(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_an_empty_database_file_is_an_error_not_a_fresh_start(tmp_path, site):
    empty = tmp_path / "docwatch.sqlite3"
    empty.touch()
    config = write_config(tmp_path, site.base_url)

    status, output = docwatch("crawl", "--config", str(config), "--db", f"sqlite:///{empty}")

    assert status == EXIT_DATABASE
    assert output == (f"error: {empty} is an empty file, not a docwatch database: restore a "
                      "backup, or remove it to start a new history\n")
    assert empty.stat().st_size == 0 and site.log.count() == 0


def test_a_file_that_is_not_a_database_is_one_sentence(tmp_path, site):
    other = tmp_path / "notes.sqlite3"
    other.write_bytes(os.urandom(4096))
    config = write_config(tmp_path, site.base_url)

    for args in (["crawl", "--config", str(config)], ["runs"]):
        status, output = docwatch(*args, "--db", f"sqlite:///{other}")
        assert status == EXIT_DATABASE, output
        assert output == ("error: the database cannot be used: file is not a database "
                          "(see --db / DOCWATCH_DATABASE_URL)\n")


def test_a_read_only_database_is_one_sentence(tmp_path, site):
    config = write_config(tmp_path, site.base_url)
    database = tmp_path / "docwatch.sqlite3"
    assert docwatch("crawl", "--config", str(config), "--db", f"sqlite:///{database}",
                    "--date", "2024-01-02", "-q")[0] == 0
    read_only = f"sqlite:///file:{database}?mode=ro&uri=true"

    status, output = docwatch("crawl", "--config", str(config), "--db", read_only,
                              "--date", "2024-01-03")

    assert status == EXIT_DATABASE
    assert output.splitlines()[-1] == ("error: the database cannot be used: attempt to write "
                                       "a readonly database (see --db / DOCWATCH_DATABASE_URL)")
    assert "Traceback" not in output


def test_a_full_disk_fails_the_run_in_one_sentence_and_records_why(tmp_path, site):
    # A file-size limit stands in for a full disk: SQLite gets the same "full" answer.
    config = write_config(tmp_path, site.base_url)
    database = tmp_path / "docwatch.sqlite3"
    open_database(f"sqlite:///{database}").dispose()  # the schema, before the disk fills
    # Room for the shared-memory file and a few pages of the write-ahead log: the run
    # starts, its pages do not fit. (SQLite calls a file that may not grow an I/O error.)
    script = ("import resource, signal, sys\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))\n"
              "from crawler.cli import main\n"
              f"sys.argv = ['docwatch', 'crawl', '--config', {str(config)!r}, '--db', "
              f"{'sqlite:///' + str(database)!r}, '--date', '2024-01-02']\n"
              "main()\n")

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})

    assert done.returncode == EXIT_DATABASE, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: the database cannot be used: disk I/O error (see --db / DOCWATCH_DATABASE_URL)")
    with sqlite3.connect(database) as db:
        assert db.execute("select status, message from runs").fetchall() == [
            ("failed", "disk I/O error")]


def damage_table(database: Path, table: str) -> None:
    """Overwrite the first page of ``table``'s b-tree in the file, as a bad disk block or
    a stray write would: the file still opens, reading that table fails."""
    with closing(sqlite3.connect(database)) as db:
        (root,), (size,) = (db.execute("select rootpage from sqlite_master where type = "
                                       "'table' and name = ?", (table,)).fetchone(),
                            db.execute("pragma page_size").fetchone())
    with database.open("r+b") as file:
        file.seek((root - 1) * size)
        file.write(b"\xff" * size)


@pytest.mark.parametrize("table", [
    "sources",  # read as the run starts (each source's memory)
    "skill_checks",  # read once the pages are stored (the report's Decisions)
])
def test_a_damaged_database_fails_the_run_in_one_sentence_and_closes_it(tmp_path, site,
                                                                       table):
    config = write_config(tmp_path, site.base_url)
    database = tmp_path / "docwatch.sqlite3"
    url = f"sqlite:///{database}"
    for day in ("2024-01-02", "2024-01-03"):  # a history, with skill checks recorded
        assert docwatch("crawl", "--config", str(config), "--db", url, "--date", day,
                        "-q")[0] == 0
    damage_table(database, table)

    done = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--config", str(config),
                           "--db", url, "--date", "2024-01-04"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})

    assert done.returncode == EXIT_DATABASE, done.stderr
    assert done.stderr.splitlines() == [
        "error: the database cannot be used: database disk image is malformed "
        "(see --db / DOCWATCH_DATABASE_URL)"]
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("select run_date, status, message from runs order by id").fetchall(
            ) == [("2024-01-02", "completed", None), ("2024-01-03", "completed", None),
                  ("2024-01-04", "failed", "database disk image is malformed")]


@pytest.fixture
def read_only_copy(tmp_path: Path, site) -> Iterator[tuple[Path, Path]]:
    """A docwatch database with a run, on a tmpfs remounted read-only (a read-only file
    system for real: needs mount rights, else skipped), and the configuration."""
    config = write_config(tmp_path, site.base_url)
    made = tmp_path / "made.sqlite3"
    assert docwatch("crawl", "--config", str(config), "--db", f"sqlite:///{made}",
                    "--date", "2024-01-02", "-q")[0] == 0
    with small_tmpfs(tmp_path / "ro", "4m") as folder:
        shutil.copyfile(made, folder / "docwatch.sqlite3")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder / "docwatch.sqlite3", config


def test_a_database_on_a_read_only_file_system_says_so(read_only_copy):
    database, config = read_only_copy

    for args in (["crawl", "--config", str(config), "--date", "2024-01-03"], ["runs"]):
        status, output = docwatch(*args, "--db", f"sqlite:///{database}")
        assert status == EXIT_DATABASE, output
        assert output == (f"error: {database} is on a read-only file system: SQLite writes "
                          "beside it (its -wal and -shm files) even to read it; copy it to a "
                          "writable folder\n")


def test_another_programs_sqlite_database_is_refused_and_left_as_it_was(tmp_path, site):
    other = tmp_path / "notes.sqlite3"
    with closing(sqlite3.connect(other)) as db, db:
        db.execute("create table notes (body text)")
        db.execute("insert into notes values ('mine')")
    config = write_config(tmp_path, site.base_url)

    for args in (["crawl", "--config", str(config)], ["runs"]):
        status, output = docwatch(*args, "--db", f"sqlite:///{other}")
        assert status == EXIT_DATABASE, output
        assert output == (f"error: {other} is another program's SQLite database (tables: "
                          "notes), not a docwatch database: check --db\n")
    with closing(sqlite3.connect(other)) as db:
        assert db.execute("select name from sqlite_master").fetchall() == [("notes",)]
    assert site.log.count() == 0
