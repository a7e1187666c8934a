"""Extraction in a worker process gives exactly what extraction in-process gives."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import QuietHandler, start_server, stop_server, write_config

import crawler.cpu
from crawler.config import load_config
from crawler.pipeline import crawl


def crawl_hashes(tmp_path, name: str, base: str) -> dict[str, tuple[str, str]]:
    path = write_config(tmp_path, base, name=f"{name}.yaml")
    db = tmp_path / f"{name}.sqlite3"
    crawl(load_config(path), date=dt.date(2024, 1, 1), database=f"sqlite:///{db}")
    rows = sqlite3.connect(db).execute(
        "select p.url, s.content_hash, s.terms from pages p join snapshots s on s.page_id = p.id")
    return {url: (digest, terms) for url, digest, terms in rows}


def test_a_worker_process_extracts_the_same_snapshots(tmp_path, monkeypatch, site):
    site.set_version("v2")
    inline = crawl_hashes(tmp_path, "inline", site.base_url)
    monkeypatch.setenv("DOCWATCH_WORKERS", "1")
    monkeypatch.setattr(crawler.cpu, "INLINE_LIMIT", 0)  # every page goes to the worker
    used = []
    original = crawler.cpu.Offloader.close

    def spy(self, wait=True):
        used.append(self._pool is not None)
        original(self, wait)

    monkeypatch.setattr(crawler.cpu.Offloader, "close", spy)
    offloaded = crawl_hashes(tmp_path, "offloaded", site.base_url)
    assert used == [True]  # the pages really went through a worker process
    assert offloaded == inline and len(inline) == 9


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("2", 2)])
def test_workers_can_be_set_or_switched_off(monkeypatch, value, expected):
    monkeypatch.setenv("DOCWATCH_WORKERS", value)
    assert crawler.cpu.default_workers() == expected


# --- a run killed with SIGKILL takes its worker processes with it --------------------------

HELD_FROM = crawler.cpu.INLINE_LIMIT + 6  # pages from here on answer only when released
PAGES = HELD_FROM + 8


class HeldExdocSite:
    """An ExDoc-shaped package of ``PAGES`` guides whose pages from ``HELD_FROM`` on answer
    only once released: a run crawling it has started its worker pool (more than
    ``INLINE_LIMIT`` pages were extracted) and then waits on the network, for as long as
    the test needs."""

    def __init__(self) -> None:
        released = self.released = threading.Event()
        extras = [{"id": f"g{i}", "title": f"Guide {i}", "group": "Guides"}
                  for i in range(PAGES)]
        sidebar = "sidebarNodes=" + json.dumps({"extras": extras, "modules": [], "tasks": []})

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                page = re.fullmatch(r"/pkg/g(\d+)\.html", self.path)
                if self.path == "/pkg/":
                    self._answer("text/html", '<html><head><meta http-equiv="refresh" '
                                              'content="0; url=g0.html"></head></html>')
                elif self.path == "/pkg/dist/sidebar_items-5EED.js":
                    self._answer("application/javascript", sidebar)
                elif page is not None:
                    if int(page[1]) >= HELD_FROM:
                        released.wait()
                    self._answer("text/html", guide_html(int(page[1])))
                else:
                    self.answer(404)

            def _answer(self, content_type: str, body: str) -> None:
                self.answer(200, body.encode(), content_type)

        self._server, base = start_server(Handler)
        self.root = f"{base}/pkg/"

    def close(self) -> None:
        self.released.set()
        stop_server(self._server)


def guide_html(number: int) -> str:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Guide {number} — Pkg'
            '</title><script src="dist/sidebar_items-5EED.js"></script></head><body><main>'
            f'<div id="top-content"><h1>Guide {number}</h1><p>Call <code>Pkg.run/{number}'
            '</code> to run it.</p></div></main></body></html>')


def descendants(root: int) -> list[int]:
    """Every live process below ``root``, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def running(pid: int) -> bool:
    """``pid`` exists and is not a zombie (an orphan's zombie is init's to reap)."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_kill_9_of_a_run_ends_its_worker_and_the_resource_tracker(tmp_path):
    site = HeldExdocSite()
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - name: pkg\n    kind: exdoc\n    urls: [{site.root}]\n")
    run = subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", "--config", str(config), "-q",
         "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}", "--date", "2024-01-01"],
        env={**os.environ, "DOCWATCH_WORKERS": "1"}, stderr=subprocess.DEVNULL)
    helpers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not any("spawn_main" in command_line(p) for p in helpers):
            assert time.monotonic() < deadline and run.poll() is None, "no worker started"
            time.sleep(0.05)
            helpers = [p for p in descendants(run.pid) if "multiprocessing" in command_line(p)]
        # The pool's worker and multiprocessing's resource tracker.
        assert any("resource_tracker" in command_line(p) for p in helpers)

        run.send_signal(signal.SIGKILL)
        run.wait(10)
        killed = time.monotonic()
        while any(running(p) for p in helpers) and time.monotonic() - killed < 5:
            time.sleep(0.05)
        assert [p for p in helpers if running(p)] == []
    finally:
        site.close()
        for pid in helpers:  # a failed run of this test leaves nothing behind either
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if run.poll() is None:
            run.kill()
            run.wait(10)
