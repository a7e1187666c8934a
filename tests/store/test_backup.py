"""After a run the database file alone holds every row, and ``docwatch db backup``
makes a consistent single-file copy."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3

from click.testing import CliRunner
from conftest import write_config

from crawler.cli import cli
from crawler.config import load_config
from crawler.pipeline import crawl


def counts(path) -> tuple[int, int, int]:
    with sqlite3.connect(path) as db:
        return tuple(db.execute(f"select count(*) from {table}").fetchone()[0]
                     for table in ("runs", "pages", "snapshots"))


def every_table(path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute(
            "select name from sqlite_master where type = 'table'")]
        return {table: db.execute(f"select count(*) from {table}").fetchone()[0]
                for table in tables}


def test_the_database_file_copied_alone_after_a_run_holds_everything(tmp_path, site):
    database = tmp_path / "db" / "docwatch.sqlite3"
    crawl(load_config(write_config(tmp_path, site.base_url)), date=dt.date(2024, 1, 2),
          database=f"sqlite:///{database}")

    copy = tmp_path / "copy.sqlite3"
    shutil.copyfile(database, copy)  # the obvious backup: the main file, no -wal beside it

    runs, pages, snapshots = counts(copy)
    assert (runs, pages) == (1, counts(database)[1]) and pages > 0 and snapshots == pages
    # Every table as the run left it: its lock released too, written after the report.
    assert every_table(copy) == every_table(database) and every_table(copy)["run_lock"] == 0
    result = CliRunner().invoke(cli, ["runs", "--db", f"sqlite:///{copy}"])
    assert result.exit_code == 0 and " 1  2024-01-02  completed " in result.output


def test_db_backup_writes_a_usable_single_file_copy_and_never_overwrites(tmp_path, site):
    database = tmp_path / "db" / "docwatch.sqlite3"
    url = f"sqlite:///{database}"
    crawl(load_config(write_config(tmp_path, site.base_url)), date=dt.date(2024, 1, 2),
          database=url)
    target = tmp_path / "backups" / "docwatch-2024-01-02.sqlite3"
    runner = CliRunner()

    result = runner.invoke(cli, ["db", "backup", str(target), "--db", url])
    again = runner.invoke(cli, ["db", "backup", str(target), "--db", url])

    assert result.exit_code == 0, result.output
    assert counts(target) == counts(database)
    assert not target.with_name(target.name + "-wal").exists()
    with sqlite3.connect(target) as db:
        assert db.execute("pragma journal_mode").fetchone()[0] == "delete"
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert again.exit_code == 2
    assert f"error: {target} already exists: not overwriting it" in again.output
