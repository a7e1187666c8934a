"""Extraction in a worker process gives exactly what extraction in-process gives."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from conftest import write_config

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
