"""docwatch against the offline replica of hexdocs.pm / hex.pm / the Elixir blog.

Skipped when the world (../shared/world, or $DOCWATCH_WORLD) is not there: the rest
of the suite never needs it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
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
         4: dt.date(2026, 2, 25), 5: dt.date(2026, 3, 6), 6: dt.date(2026, 11, 30)}

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
        self.tmp = tmp
        self.db = f"sqlite:///{tmp / 'world.sqlite3'}"
        self.crawled: list[int] = []

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
        self.crawled.append(day)
        md, js = outcome.report_paths[:2]
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


@pytest.fixture(scope="module")
def day4(world, day2):
    world.crawl(3)
    world.post("/__world/log/reset")
    return world.crawl(4)


def test_day4_faults_are_fetch_problems_and_nothing_is_lost(world, day4):
    outcome, data, md = day4
    faulted = {e["url"].removeprefix(world.base) for e in data["errors"]}
    assert faulted == {
        "/hexdocs.pm/phoenix/routing.html", "/hexdocs.pm/phoenix_live_view/bindings.html",
        "/hexdocs.pm/ecto/getting-started.html", "/hexdocs.pm/phoenix/presence.html",
        "/hexdocs.pm/phoenix_live_view/js-interop.html", "/hexdocs.pm/phoenix/controllers.html",
        "/elixir-lang.org/atom.xml", "/hexdocs.pm/phoenix/telemetry.html"}
    kinds = {(c["change"], c["url"].removeprefix(world.base)) for c in data["changes"]}
    assert kinds == {("modified", "/hexdocs.pm/phoenix/channels.html"),
                     ("modified", "/hexdocs.pm/ecto/embedded-schemas.html"),
                     ("moved", "/hexdocs.pm/phoenix/json_and_apis.html")}
    assert "Retry-After 120s exceeds" in md
    log = world.get("/__world/log")
    assert log["paths"]["/hex.pm/api/packages/phoenix_live_view"]["statuses"] == {
        "429": 1, "200": 1}
    assert max(log["max_inflight_per_host"].values()) <= 4
    assert outcome.status == "completed"


def test_day5_reports_exactly_the_day5_changes(world, day4):
    _, data, _ = world.crawl(5)
    assert data["errors"] == []
    pages = {c["url"].removeprefix(world.base) for c in data["changes"] if c["item"] == "page"}
    assert pages == {"/hexdocs.pm/phoenix/changelog.html",
                     "/hexdocs.pm/phoenix_live_view/changelog.html",
                     "/hexdocs.pm/phoenix_live_view/bindings.html",
                     "/hexdocs.pm/phoenix_live_view/uploads.html"}
    assert {(r["package"], r["version"]) for r in data["releases"]} == {
        ("phoenix", "1.8.5"), ("phoenix_live_view", "1.1.25"), ("phoenix_live_view", "1.1.26")}
    assert not any(c["change"] == "removed" for c in data["changes"])


PLANTED = {  # skill -> {(line, term)} the world's sample skills teach that day 2 retired
    "phoenix-liveview": {(47, "phx-feedback-for"), (75, "phx-page-loading"), (92, "Floki"),
                         (93, "Floki")},
    "phoenix-api-channels": {(27, ":trailing_slash"), (34, ":namespace")},
    "ecto-patterns": {(38, "literal/1"), (56, "Ecto.Repo.transaction/2"),
                      (68, "Ecto.Repo.transaction/2")},
}
# skill -> lines that copy a docs code line day 2 changed (snippet drift, kind changed):
# the form example gained an id, the API plug assigns a scope, the client socket takes
# authToken.
PLANTED_DRIFT = {"phoenix-liveview": {43}, "phoenix-api-channels": {49, 61}}


def test_day2_points_at_every_stale_skill_line_with_evidence(world, day2):
    _, data, md = day2
    skills = {s["name"]: s for s in data["skills"]}
    for name, planted in PLANTED.items():
        found = {(s["line"], s["term"]) for s in skills[name]["stale_lines"]
                 if s["line"] not in PLANTED_DRIFT.get(name, ())}
        assert planted <= found, name
        # No false alarm: no other line. A planted line may have two findings (line 34's
        # `use Phoenix.Controller` also lacks the :formats it must now give).
        assert {line for line, _ in found} == {line for line, _ in planted}, name
        for stale in skills[name]["stale_lines"]:
            assert stale["evidence"]["url"].startswith(world.base)
            assert stale["kind"] in ("deprecated", "soft-deprecated", "removed", "renamed",
                                     "replaced", "changed")
    for name, lines in PLANTED_DRIFT.items():
        drift = {s["line"] for s in skills[name]["stale_lines"] if s["kind"] == "changed"}
        assert drift == lines, name
    # The client socket of channels.html now takes authToken where it took params.
    [socket] = [s for s in skills["phoenix-api-channels"]["stale_lines"] if s["line"] == 61]
    assert socket["kind"] == "changed" and "params" in socket["term"]
    assert "authToken" in socket["replacement"] and "params" not in socket["replacement"]
    assert socket["evidence"]["url"].endswith("/phoenix/channels.html")
    assert "authToken" in socket["evidence"]["sentence"]
    actions = skills["phoenix-liveview"]["actions"]
    assert actions[0].startswith("Update line ")
    assert any(a.startswith("Update line 47") for a in actions)
    takeaways = [t["text"] for t in data["takeaways"]]
    assert takeaways[0].startswith("phoenix_live_view 0.20.17 → 1.1.24: a major release")
    assert any("phx-feedback-for was removed" in t for t in takeaways)
    # The research note first (at most 250 lines, the first stale line within 60), the
    # per-page changes after it as an appendix.
    note = md.split("## Appendix: page changes")[0].splitlines()
    assert len(note) <= 250
    assert next(i for i, line in enumerate(note, 1) if line.lstrip().startswith("- line ")) <= 60
    assert "## Key takeaways" in md.split("## Skills needing updates")[0]
    # Each major or minor bump carries its changelog's highlights, linked to their section.
    highlights = {h["package"]: h for h in data["highlights"]}
    assert set(highlights) == {"phoenix", "phoenix_live_view", "ecto"}
    for found in highlights.values():
        items = [i for kind in ("topics", "breaking", "deprecations", "enhancements")
                 for i in found[kind]]
        assert items and all("/changelog.html#" in i["url"] for i in items)
    assert "Streamlined generators" in {t["text"] for t in highlights["phoenix"]["topics"]}
    gap_pages = {g["url"].rsplit("/", 1)[-1] for g in data["gaps"] if g["kind"] == "page"}
    assert "authn_authz.html" in gap_pages


# --- day 6: hexdocs.pm moves every package to its own subdomain ------------------------------


ROOTS = {"hexdocs": ["phoenix", "phoenix_live_view"], "ecto": ["ecto"]}


def subdomain_config(world: World, folder: Path) -> Path:
    """The config ``serve.py --url-style subdomain`` writes, addressed to ``world``."""
    path = folder / "sources.yaml"
    writer = subprocess.Popen(
        [sys.executable, str(WORLD / "serve.py"), "--port", "0", "--url-style", "subdomain",
         "--write-sources", str(path)], stdout=subprocess.PIPE, text=True)
    try:
        line = writer.stdout.readline()
        assert line.startswith("READY "), line
    finally:
        writer.terminate()
        writer.wait(10)
    path.write_text(path.read_text().replace(line.split()[1], world.base))
    return path


def copy_database(source: str, folder: Path) -> str:
    """A consistent copy of a (WAL) SQLite database: the backup API, not the file."""
    target = folder / "copy.sqlite3"
    with sqlite3.connect(source.removeprefix("sqlite:///")) as src, \
            sqlite3.connect(target) as dst:
        src.backup(dst)
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def day6(world, day4):
    if world.crawled[-1] != 5:
        world.crawl(5)
    world.before_move = copy_database(world.db, world.tmp)  # days 1-5, path form
    return world.crawl(6)


def page_changes(data: dict, *kinds: str) -> list[str]:
    return [c["url"] for c in data["changes"] if c["item"] == "page" and c["change"] in kinds]


def test_day6_the_move_renames_no_page_and_reports_each_root_once(world, day6):
    outcome, data, md = day6
    assert outcome.status == "completed"
    assert data["errors"] == []
    assert page_changes(data, "added", "removed", "moved") == []
    modified = page_changes(data, "modified")
    assert modified and all(".hexdocs.pm/" in url for url in modified)  # the new URLs
    moved = {s["name"]: sorted(s["moved"], key=lambda m: m["from"]) for s in data["sources"]}
    assert moved == {"releases": [], "blogs": [], **{
        source: [{"from": f"{world.base}/hexdocs.pm/{p}/",
                  "to": f"{world.base}/{p.replace('_', '-')}.hexdocs.pm/"} for p in packages]
        for source, packages in ROOTS.items()}}
    for source, packages in ROOTS.items():
        for package in packages:
            banner = (f"> **{source} moved**: {world.base}/hexdocs.pm/{package}/ now redirects "
                      f"permanently to {world.base}/{package.replace('_', '-')}.hexdocs.pm/.")
            assert md.count(banner) == 1, package


def test_day6_reports_the_releases_and_the_minor_bumps_name_their_skills(world, day6):
    _, data, _ = day6
    versions = {(r["package"], r["version"]) for r in data["releases"]}
    assert {("phoenix", "1.8.12"), ("phoenix_live_view", "1.2.10"), ("ecto", "3.14.2")} <= versions
    bumps = {b["package"]: (b["from"], b["to"], b["bump"], b["skills"])
             for b in data["latest_stable"]}
    assert bumps["phoenix_live_view"] == ("1.1.26", "1.2.10", "minor", ["phoenix-liveview"])
    assert bumps["ecto"] == ("3.13.5", "3.14.2", "minor", ["ecto-patterns"])
    flagged = {s["name"] for s in data["skills"]}
    assert {"phoenix-liveview", "ecto-patterns"} <= flagged


def test_day6_with_the_config_rewritten_to_subdomains_renames_no_page(world, day6):
    # The same days 1-5, then day 6 crawled with the config `--url-style subdomain`
    # writes: the new roots find the pages stored under the old URLs.
    folder = world.tmp / "subdomain"
    folder.mkdir()
    config = load_config(subdomain_config(world, folder))
    outcome = crawl(config, date=DATES[6], database=world.before_move)
    data = json.loads(outcome.report_paths[1].read_text())

    assert outcome.status == "completed" and data["errors"] == []
    assert page_changes(data, "added", "removed", "moved") == []
    assert sorted(page_changes(data, "modified")) == sorted(page_changes(day6[1], "modified"))
    assert [s["moved"] for s in data["sources"]] == [[], [], [], []]
    assert "moved**" not in outcome.report_paths[0].read_text()
    bumps = {b["package"]: b["skills"] for b in data["latest_stable"]}
    assert bumps["phoenix_live_view"] == ["phoenix-liveview"]
    assert bumps["ecto"] == ["ecto-patterns"]
