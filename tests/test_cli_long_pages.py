"""A page that is one 8 MB line, changed by one word, crawled through the CLI: the run's
memory, its report and its stored change stay small, the word is shown, the snapshot
stays whole. Each crawl is a real process, measured on its own (``os.wait4``)."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import QuietHandler, query, run_cli_measured, start_server, stop_server

from crawler.diff import MAX_LINE

WORDS = 1_100_000  # about 8 MB of text on one line
CHANGED = "Supercalifragilistic"
# What a run may take over the same run of a one-line page, per MB of page: the text,
# its HTML and lexbor's tree are each held once or twice, never per word or per copy
# of a diff (before lines were folded: about 17 MB per MB of page).
RSS_PER_PAGE_MB = 10
REPORT_CAP = 200_000  # bytes of each report file; the page's diff is a few KB of it


@dataclass
class Site:
    """Two pages on 127.0.0.1 whose one paragraph the test sets."""

    paragraphs: dict[str, bytes] = field(default_factory=dict)
    base: str = ""

    def page(self, name: str, paragraph: str) -> None:
        self.paragraphs[name] = (f"<html><head><title>{name}</title></head><body><main>"
                                 f"<p>{paragraph}</p></main></body></html>").encode()


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            body = served.paragraphs.get(self.path.strip("/"))
            self.answer(200 if body is not None else 404, body or b"")

    server, base = start_server(Handler)
    served.base = f"{base}/"
    yield served
    stop_server(server)


def project(folder: Path, url: str) -> tuple[Path, str]:
    folder.mkdir()
    config = folder / "sources.yaml"
    config.write_text(f"""\
report: {{title: Long page, dir: reports}}
http: {{max_bytes: 20000000, respect_robots: false}}
sources:
  - {{name: pages, kind: page, urls: ["{url}"]}}
skills:
  - {{name: watcher, watches: ["{url}"], keywords: [{CHANGED}]}}
""", encoding="utf-8")
    return config, f"sqlite:///{folder / 'db.sqlite3'}"


def crawl(config: Path, db: str, date: str) -> int:
    """``docwatch crawl`` as its own process; its peak RSS in MB."""
    done = run_cli_measured(config.parent, "crawl", "--config", str(config), "--db", db,
                            "--date", date, "-q")
    assert done.returncode == 0, done.stderr
    return done.peak_mb


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True,
                          text=True, timeout=300)


def long_paragraph() -> list[str]:
    rng = random.Random(17)
    return [f"w{rng.randrange(60_000)}" for _ in range(WORDS)]


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux's /proc")
def test_a_one_line_page_changed_by_one_word_costs_little_and_shows_the_word(site, tmp_path):
    words = long_paragraph()
    site.page("short", "A short page.")
    site.page("long", " ".join(words))
    page_mb = len(site.paragraphs["long"]) / 2**20
    short_config, short_db = project(tmp_path / "short", site.base + "short")
    long_config, long_db = project(tmp_path / "long", site.base + "long")
    url = site.base + "long"

    baseline = [crawl(short_config, short_db, "2024-01-01")]
    first = crawl(long_config, long_db, "2024-01-01")
    words[len(words) // 2] = CHANGED
    site.page("long", " ".join(words))
    site.page("short", f"A short page, {CHANGED}.")
    baseline.append(crawl(short_config, short_db, "2024-01-02"))
    second = crawl(long_config, long_db, "2024-01-02")

    for peak, base in zip((first, second), baseline, strict=True):
        assert peak - base < RSS_PER_PAGE_MB * page_mb, \
            f"{peak} MB against {base} MB for a one-line page of {page_mb:.1f} MB"
    reports = tmp_path / "long" / "reports"
    for suffix in ("md", "html", "json"):
        path = reports / f"2024-01-02-long-page.{suffix}"
        assert path.stat().st_size < REPORT_CAP, f"{path.name}: {path.stat().st_size} bytes"
        assert CHANGED in path.read_text(encoding="utf-8")
    markdown = (reports / "2024-01-02-long-page.md").read_text(encoding="utf-8")
    assert "bytes more" in markdown and " bytes … " in markdown
    change = json.loads((reports / "2024-01-02-long-page.json").read_text())["changes"][0]
    assert (change["lines_added"], change["lines_removed"]) == (1, 1)
    assert all(len(line) <= MAX_LINE + 1 for line in change["diff"].split("\n"))
    (details, size), = query(long_db, "select details, length(details) from changes")
    assert size < 500_000
    assert CHANGED in json.loads(details)["added_text"]

    # The snapshot is the whole page, and `docwatch diff` folds only what it prints.
    shown = run("show", url, "--db", long_db)
    assert shown.stdout.strip() == " ".join(words)
    diff = run("diff", url, "--db", long_db, "--no-color")
    assert diff.returncode == 0, diff.stderr
    assert len(diff.stdout) < 20_000 and CHANGED in diff.stdout and "bytes more" in diff.stdout
    whole = run("diff", url, "--db", long_db, "--no-color", "--whole-lines")
    assert f"+{' '.join(words)}\n" in whole.stdout

    # A change stored before lines were folded (its diff the whole line) is folded when
    # its report is written again.
    old = "\n".join(["@@ -1,1 +1,1 @@", "-" + shown.stdout.strip().replace(CHANGED, "w1"),
                     "+" + shown.stdout.strip()])
    with closing(sqlite3.connect(long_db.removeprefix("sqlite:///"))) as connection, \
            connection:
        connection.execute("update changes set details = ?", (json.dumps({"diff": old}),))
    again = run("report", "--config", str(long_config), "--db", long_db,
                "--date", "2024-01-02")
    assert again.returncode == 0, again.stderr
    for suffix in ("md", "html", "json"):
        path = reports / f"2024-01-02-long-page.{suffix}"
        assert path.stat().st_size < REPORT_CAP, f"{path.name}: {path.stat().st_size} bytes"
        assert CHANGED in path.read_text(encoding="utf-8")
