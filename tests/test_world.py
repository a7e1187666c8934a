"""docwatch against the offline replica of hexdocs.pm / hex.pm / the Elixir blog.

Skipped when the world (../shared/world, or $DOCWATCH_WORLD) is not there: the rest
of the suite never needs it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from crawler.config import load_config
from crawler.pipeline import crawl

WORLD = Path(os.environ.get("DOCWATCH_WORLD",
                            Path(__file__).resolve().parents[2] / "shared" / "world"))
DATES = {1: dt.date(2024, 11, 30), 2: dt.date(2026, 2, 23), 3: dt.date(2026, 2, 24),
         4: dt.date(2026, 2, 25), 5: dt.date(2026, 3, 6)}

pytestmark = pytest.mark.skipif(not (WORLD / "serve.py").is_file(),
                                reason=f"the world is not at {WORLD}")


class World:
    def __init__(self, tmp: Path):
        self.config_path = tmp / "sources.yaml"
        self.proc = subprocess.Popen(
            [sys.executable, str(WORLD / "serve.py"), "--port", "0", "--day", "1",
             "--hang-s", "2", "--write-sources", str(self.config_path)],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("READY "), line
        self.base = line.split()[1]
        self.db = f"sqlite:///{tmp / 'world.sqlite3'}"

    def post(self, path: str) -> dict:
        request = urllib.request.Request(self.base + path, method="POST")
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.base + path) as response:
            return json.load(response)

    def crawl(self, day: int) -> tuple[object, dict, str]:
        self.post(f"/__world/day/{day}")
        config = load_config(self.config_path)
        outcome = crawl(config, date=DATES[day], database=self.db)
        md, js = outcome.report_paths
        return outcome, json.loads(js.read_text()), md.read_text()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("world"))
    yield w
    w.stop()


@pytest.fixture(scope="module")
def day2(world):
    world.crawl(1)
    return world.crawl(2)


def test_day2_lists_real_guide_changes_and_flags_skills(world, day2):
    _, data, md = day2
    hexdocs = f"{world.base}/hexdocs.pm"
    changes = {(c["change"], c["url"].removeprefix(hexdocs)) for c in data["changes"]
               if c["item"] == "page"}
    assert ("added", "/phoenix/scopes.html") in changes
    assert ("removed", "/phoenix/mix_tasks.html") in changes
    assert ("modified", "/phoenix_live_view/bindings.html") in changes
    assert ("modified", "/ecto/getting-started.html") in changes
    flagged = {s["name"] for s in data["skills"]}
    assert {"phoenix-liveview", "phoenix-api-channels", "ecto-patterns"} <= flagged
    assert "## Skills needing updates" in md


def test_day2_reports_releases_and_blog_posts(world, day2):
    _, data, _ = day2
    versions = {(r["package"], r["version"]) for r in data["releases"]}
    assert {("phoenix", "1.8.4"), ("phoenix_live_view", "1.1.24"), ("ecto", "3.13.5")} <= versions
    bumps = {b["package"]: b["bump"] for b in data["latest_stable"]}
    assert bumps == {"phoenix": "minor", "phoenix_live_view": "major", "ecto": "minor"}
    assert any("Elixir v1.19" in p["title"] for p in data["posts"])


def test_day3_rebuild_noise_is_no_change_and_costs_almost_nothing(world, day2):
    world.post("/__world/log/reset")
    outcome, data, md = world.crawl(3)
    assert data["changes"] == [] and data["errors"] == []
    assert "No substantive changes in the watched pages." in md
    # Day 3 rebuilt every page (new bytes, same text): stored text is unchanged.
    assert outcome.changed == 0

    world.post("/__world/log/reset")
    world.crawl(3)  # the same day again: conditional requests answer 304
    log = world.get("/__world/log")
    guides = {p: v for p, v in log["paths"].items()
              if p.startswith("/hexdocs.pm/") and p.endswith((".html", ".md"))
              and "/dist/" not in p}
    not_modified = sum(v["not_modified"] for v in guides.values())
    assert not_modified >= 0.9 * sum(v["count"] for v in guides.values())
