"""Whole runs as processes: kill -9 recovery, one run at a time, graceful SIGTERM, on
SQLite and on PostgreSQL (``database_url``)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import QuietHandler, query, start_server, stop_server
from conftest import write_config as write_demo_config
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from crawler.demo.server import Fault

SLOW = Fault(kind="delay", seconds=0.15)


def write_config(tmp_path: Path, base: str, sources: str = "") -> Path:
    """The demo's sources.yaml, one request at a time (a run lasts a while)."""
    return write_demo_config(tmp_path, base, sources=sources, extra="http: {per_host: 1}\n")


class HeldPage:
    """A page that answers only once the test calls ``release()``: a run asking for it is
    held mid-crawl for as long as the test needs, however slow the machine is."""

    def __init__(self) -> None:
        released = self._released = threading.Event()

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if self.path == "/robots.txt":
                    self.answer(404, b"")
                else:
                    released.wait()
                    self.answer(200, b"<html><body><main><p>Held, then released.</p>"
                                      b"</main></body></html>")

        self._server, base = start_server(Handler)
        self.url = f"{base}/held.html"

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        stop_server(self._server)


@pytest.fixture
def held_page() -> Iterator[HeldPage]:
    page = HeldPage()
    yield page
    page.close()


def start(config: Path, db: str, date: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", "--config", str(config),
         "--db", db, "--date", date],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def crawl(config: Path, db: str, date: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "--config", str(config),
         "--db", db, "--date", date],
        capture_output=True, text=True, timeout=120)


def count(db: str, sql: str) -> int:
    return query(db, sql)[0][0]


def wait_for(db: str, sql: str, at_least: int, timeout: float = 30) -> None:
    engine = create_engine(db)
    # Connecting to a SQLite file that is not there yet would create it, empty: the
    # run would then refuse it (an empty file is not a docwatch database).
    file = Path(db.removeprefix("sqlite:///")) if db.startswith("sqlite:///") else None
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if file is not None and not (file.is_file() and file.stat().st_size):
                time.sleep(0.02)
                continue
            try:
                with engine.connect() as connection:
                    if connection.execute(text(sql)).scalar_one() >= at_least:
                        return
            except DBAPIError:
                pass  # the schema is not there yet
            time.sleep(0.02)
    finally:
        engine.dispose()
    raise AssertionError(f"{sql} never reached {at_least}")


def report(tmp_path: Path, date: str) -> dict:
    return json.loads((tmp_path / "reports" / f"{date}-lumen-docs-research.json").read_text())


@pytest.mark.parametrize("kill_after", [1, 4])
def test_kill_9_mid_run_then_every_change_is_reported_exactly_once(site, tmp_path, kill_after,
                                                                   database_url):
    config, db = write_config(tmp_path, site.base_url), database_url
    assert crawl(config, db, "2024-01-01").returncode == 0
    site.set_version("v2")
    site.set_fault("*", SLOW)

    victim = start(config, db, "2024-02-01")
    wait_for(db, "select count(*) from changes", kill_after)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)

    site.set_fault("*", None)
    finished = crawl(config, db, "2024-02-02")
    assert finished.returncode == 0, finished.stderr

    if db.startswith("sqlite"):
        assert query(db, "pragma integrity_check")[0][0] == "ok"
    statuses = [s for (s,) in query(db, "select status from runs order by id")]
    assert statuses == ["completed", "aborted", "completed"]
    data = report(tmp_path, "2024-02-02")
    found = sorted((c["change"], c["url"].rsplit("/", 2)[-2] + "/" + c["url"].rsplit("/", 1)[-1])
                   for c in data["changes"])
    assert found == sorted([
        ("added", "lumen/json_apis.html"), ("added", "lumen_live/async.html"),
        ("removed", "lumen/channels.html"), ("modified", "lumen/installation.html"),
        ("modified", "lumen/routing.html"), ("modified", "lumen/changelog.html"),
        ("modified", "lumen_live/bindings.html")])
    # The killed run never wrote a report of its own; nothing is reported twice later.
    assert not (tmp_path / "reports" / "2024-02-01-lumen-docs-research.json").exists()
    assert crawl(config, db, "2024-02-03").returncode == 0
    assert report(tmp_path, "2024-02-03")["changes"] == []


def test_a_second_run_exits_at_once_while_one_is_running(site, held_page, tmp_path,
                                                          database_url):
    config = write_config(tmp_path, site.base_url, sources=f"""\
  - name: held
    kind: page
    urls: [{held_page.url}]
""")
    db = database_url
    first = start(config, db, "2024-01-01")
    wait_for(db, "select count(*) from runs", 1)  # recorded: its locks are taken

    second = crawl(config, db, "2024-01-01")
    assert second.returncode == 3
    assert "another docwatch run" in second.stderr
    # It did not wait for the lock: the first run, held on its page, is still going.
    assert first.poll() is None
    # One lock per source it crawls (lumen-docs and held), none of the second's.
    assert count(db, "select count(*) from run_lock") == 2

    held_page.release()
    assert first.wait(60) == 0
    assert count(db, "select count(*) from run_lock") == 0


def test_a_stale_lock_from_a_killed_run_is_recovered(site, tmp_path, database_url):
    config, db = write_config(tmp_path, site.base_url), database_url
    site.set_fault("*", SLOW)
    victim = start(config, db, "2024-01-01")
    wait_for(db, "select count(*) from run_lock", 1)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)

    site.set_fault("*", None)
    result = crawl(config, db, "2024-01-01")
    assert result.returncode == 0, result.stderr


def test_sigterm_stops_gracefully_and_the_report_says_interrupted(site, tmp_path, database_url):
    config, db = write_config(tmp_path, site.base_url), database_url
    site.set_fault("*", SLOW)
    proc = start(config, db, "2024-01-01")
    wait_for(db, "select count(*) from snapshots", 2)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(20) == 130

    [(status, message)] = query(db, "select status, message from runs")
    assert status == "interrupted" and "signal" in message
    assert count(db, "select count(*) from run_lock") == 0
    data = report(tmp_path, "2024-01-01")
    assert data["interrupted"] is True
    md = (tmp_path / "reports" / "2024-01-01-lumen-docs-research.md").read_text()
    assert "This run was interrupted" in md

    site.set_fault("*", None)  # the next run completes the baseline
    assert crawl(config, db, "2024-01-02").returncode == 0


class FirstCrawlSite:
    """Three sources of a first crawl that a test kills half-way, on one local server:
    ``news`` (a feed of ``news_posts`` posts) and ``late`` (one page) finish early;
    ``blog`` (a feed of three posts whose articles are fetched) is held on its articles
    until ``release()``. ``late`` answers only once an article was asked for, so by the time
    both finished, ``blog`` has read its feed and waits for its articles. The feeds
    answer 304 to a request bearing their ETag, as a real server would."""

    def __init__(self, news_posts: int = 3) -> None:
        self._released, asked = threading.Event(), threading.Event()
        released, served = self._released, self
        self.news_posts = news_posts

        def feed(name: str, base: str, posts: int) -> bytes:
            entries = "".join(
                f"<entry><id>{base}/{name}/{i}.html</id><title>{name} post {i}</title>"
                f"<link href='{base}/{name}/{i}.html'/><updated>2024-01-0{i}T00:00:00Z"
                f"</updated><summary>Post {i} of {name}.</summary></entry>"
                for i in range(1, posts + 1))
            return (f"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'>"
                    f"<title>{name}</title><id>{base}/{name}.xml</id>"
                    f"<updated>2024-01-03T00:00:00Z</updated>{entries}</feed>").encode()

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                base = f"http://{self.headers['Host']}"
                if self.path == "/news.xml":
                    self._tagged(feed("news", base, served.news_posts), "application/atom+xml")
                elif self.path == "/blog.xml":
                    self._tagged(feed("blog", base, 3), "application/atom+xml")
                elif self.path.startswith("/blog/"):
                    asked.set()
                    released.wait()
                    self._tagged(b"<html><body><article><p>The whole post.</p></article>"
                                 b"</body></html>")
                elif self.path == "/late.html":
                    asked.wait(30)
                    self._tagged(b"<html><body><main><p>A page.</p></main></body></html>")
                else:
                    self._tagged(b"", status=404)

            def _tagged(self, body: bytes, content_type: str = "text/html",
                        status: int = 200) -> None:
                etag = f'"{hashlib.sha1(body).hexdigest()}"'
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    status, body = 304, b""
                self.answer(status, body, content_type, {"ETag": etag})

        self._server, self.base = start_server(Handler)

    def config(self, folder: Path) -> Path:
        path = folder / "sources.yaml"
        path.write_text(f"""\
report: {{title: "First Crawl", dir: reports}}
sources:
  - name: news
    kind: feed
    urls: [{self.base}/news.xml]
  - name: late
    kind: page
    urls: [{self.base}/late.html]
  - name: blog
    kind: feed
    urls: [{self.base}/blog.xml]
    fetch_entries: true
""")
        return path

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        stop_server(self._server)


def sources_reviewed(folder: Path, date: str) -> tuple[list[tuple[str, int, bool]], list[str]]:
    """The report's sources (name, pages checked, baseline) and its baseline lines."""
    reports = folder / "reports"
    data = json.loads((reports / f"{date}-first-crawl.json").read_text())
    lines = [line for line in (reports / f"{date}-first-crawl.md").read_text().splitlines()
             if "first crawl, baseline" in line]
    return [(s["name"], s["pages_checked"], s["baseline"]) for s in data["sources"]], lines


@pytest.mark.parametrize("rerun_date", ["2024-01-01", "2024-01-02"])
def test_a_first_crawl_killed_half_way_is_still_the_baseline_of_the_next_report(
        tmp_path, rerun_date, database_url):
    uninterrupted = tmp_path / "uninterrupted"
    uninterrupted.mkdir()
    # The site as the re-run finds it: news has one more post than the killed run saw.
    with contextlib.closing(FirstCrawlSite(news_posts=4)) as site:
        site.release()
        clean = crawl(site.config(uninterrupted), f"sqlite:///{uninterrupted / 'db.sqlite3'}",
                      rerun_date)
    assert clean.returncode == 0, clean.stderr
    expected = sources_reviewed(uninterrupted, rerun_date)
    assert expected == ([("news", 5, True), ("late", 1, True), ("blog", 4, True)], [
        "- **news**: first crawl, baseline of 5 pages recorded; changes are reported from "
        "the next run on.",
        "- **late**: first crawl, baseline of 1 pages recorded; changes are reported from "
        "the next run on.",
        "- **blog**: first crawl, baseline of 4 pages recorded; changes are reported from "
        "the next run on."])

    # Its articles held: the first crawl is killed while it waits for them.
    with contextlib.closing(FirstCrawlSite()) as held:
        config, db = held.config(tmp_path), database_url
        victim = start(config, db, "2024-01-01")
        wait_for(db, "select count(*) from run_sources", 2)  # news and late are done
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        held.release()
        held.news_posts = 4
        rerun = crawl(config, db, rerun_date)
        assert rerun.returncode == 0, rerun.stderr
        # Every source is the baseline of this first report, counted as the uninterrupted
        # crawl counts it: what the killed run finished and what the re-run added, once;
        # news's new post is part of its baseline, not news.
        assert sources_reviewed(tmp_path, rerun_date) == expected
        assert count(db, "select count(*) from pages where source = 'blog' and item = 'post'") == 3
        assert report_changes(tmp_path, rerun_date) == []

        # Told once: the next run is an ordinary one, with nothing new.
        assert crawl(config, db, "2024-01-03").returncode == 0
        assert sources_reviewed(tmp_path, "2024-01-03") == (
            [("news", 1, False), ("late", 1, False), ("blog", 1, False)], [])
        assert report_changes(tmp_path, "2024-01-03") == []


def report_changes(folder: Path, date: str) -> list[dict]:
    return json.loads((folder / "reports" / f"{date}-first-crawl.json").read_text())["changes"]
