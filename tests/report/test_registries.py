"""Report formats, folder pages and deliveries are found by name in their registries:
publishing writes one file per format and then the folder's pages; delivering tries
every deliverer. A new entry is all a new format or channel needs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from crawler.analysis.facts import PageChange
from crawler.config import load_config
from crawler.report import FOLDER_PAGES, RENDERERS, Report, publish, render
from crawler.report.deliver import DELIVERERS, Deliverer, deliver
from crawler.report.render import Renderer
from crawler.types import ChangeKind

DATE = dt.date(2025, 3, 2)


def project(tmp_path: Path):
    path = tmp_path / "sources.yaml"
    path.write_text('report:\n  title: "Registry Watch"\n  dir: out\nsources: []\n')
    return load_config(path)


def report() -> Report:
    return Report("Registry Watch", DATE, changes=(PageChange(
        "docs", "lumen", "https://docs.test/lumen/routing.html", "Routing",
        ChangeKind.MODIFIED, summary="+1 -0 lines"),))


def test_publish_writes_a_file_per_format_then_the_folder_pages(tmp_path):
    config = project(tmp_path)

    paths = publish(report(), config)

    assert list(RENDERERS) == ["markdown", "json", "html"]
    assert list(FOLDER_PAGES) == ["index", "feed"]
    assert [p.name for p in paths] == ["2025-03-02-registry-watch.md",
                                       "2025-03-02-registry-watch.json",
                                       "2025-03-02-registry-watch.html"]
    assert sorted(p.name for p in config.report_dir.iterdir()) == sorted(
        [p.name for p in paths] + ["index.html", "feed.xml"])
    for path, name in zip(paths, RENDERERS, strict=True):
        assert path.read_text(encoding="utf-8") == render(report(), name)
    assert json.loads(paths[1].read_text())["changes"][0]["change"] == "modified"
    assert "2025-03-02-registry-watch.html" in (config.report_dir / "index.html").read_text()
    assert "Registry Watch" in (config.report_dir / "feed.xml").read_text()


def test_a_registered_format_is_published_too(tmp_path, monkeypatch):
    def titles(r: Report, out) -> None:
        out.writelines(f"{c.title}\n" for c in r.changes)

    monkeypatch.setitem(RENDERERS, "titles", Renderer("titles", ".txt", titles))

    paths = publish(report(), project(tmp_path))

    assert paths[-1].name == "2025-03-02-registry-watch.txt"
    assert paths[-1].read_text() == "Routing\n"


def test_delivery_tries_every_deliverer_and_collects_their_problems(tmp_path, monkeypatch):
    sent: list[str] = []

    def record(r: Report, paths, config) -> list[str]:
        sent.append(r.full_title)
        return ["record: the inbox is full"]

    monkeypatch.setitem(DELIVERERS, "record", Deliverer("record", record))
    config = project(tmp_path)  # neither e-mail nor chat configured: they send nothing

    assert list(DELIVERERS)[:2] == ["email", "chat"]
    assert deliver(report(), [], config) == ["record: the inbox is full"]
    assert sent == ["Registry Watch — 2025-03-02"]
