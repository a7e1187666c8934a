"""A report folder that takes no file (a full disk, a file where the folder should be) is
one sentence and exit status 5, never a traceback; the run's pages are stored and the
run is closed as failed with that sentence, not 'completed' with no report."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from conftest import small_tmpfs, write_config

from crawler.cli import EXIT_REPORT
from crawler.config import load_config
from crawler.pipeline import crawl
from crawler.report import ReportUnwritable


def runs(database: Path) -> list[tuple[str, str | None, int]]:
    with closing(sqlite3.connect(database)) as db:
        return db.execute("select status, message, pages_checked from runs").fetchall()


def test_a_file_in_the_report_folders_place_fails_the_run_saying_so(tmp_path, site):
    config = load_config(write_config(tmp_path, site.base_url))
    # The folder was not there when sources.yaml was read; a file took its place since.
    config.report_dir.write_text("not a folder")
    database = tmp_path / "docwatch.sqlite3"

    with pytest.raises(ReportUnwritable) as raised:
        crawl(config, date=dt.date(2024, 1, 2), database=f"sqlite:///{database}")

    assert str(raised.value) == (f"the report could not be written into {config.report_dir}: "
                                 "File exists")
    [(status, message, checked)] = runs(database)
    assert (status, message) == ("failed", str(raised.value)) and checked > 0


@pytest.fixture
def full_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 64 KB tmpfs that is full: a real full disk (needs mount rights)."""
    with small_tmpfs(tmp_path / "full", "64k") as folder:
        with contextlib.suppress(OSError), (folder / "filler").open("wb") as filler:
            filler.write(b"\0" * 128 * 1024)
        yield folder


def test_a_full_disk_under_the_report_folder_is_one_sentence_and_exit_5(tmp_path, site,
                                                                        full_folder):
    config = write_config(tmp_path, site.base_url)
    text = config.read_text(encoding="utf-8")
    assert "\n  dir: reports\n" in text
    config.write_text(text.replace("\n  dir: reports\n", f"\n  dir: {full_folder / 'reports'}\n"),
                      encoding="utf-8")
    database = tmp_path / "docwatch.sqlite3"

    done = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--config", str(config),
                           "--db", f"sqlite:///{database}", "--date", "2024-01-02"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})

    assert done.returncode == EXIT_REPORT, done.stderr
    sentence = (f"the report could not be written into {full_folder / 'reports'}: "
                "No space left on device")
    assert done.stderr.splitlines() == [f"error: {sentence}"]
    [(status, message, checked)] = runs(database)
    assert (status, message) == ("failed", sentence) and checked > 0
