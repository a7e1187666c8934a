"""``kind: hexpm``: package releases from a hex.pm-shaped API, as the report shows them.

DocServer plays hex.pm: the package document is the file ``api/packages/<name>`` of
the served version. The documents are in ``tests/fixtures/sources/hexpm``; ``@BASE@``
there stands for the test server's address.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler.config import Config, load_config
from crawler.demo.server import DocServer, Fault
from crawler.http import Fetcher, FetchSettings
from crawler.pipeline import RunOutcome, crawl
from crawler.sources.base import CrawlContext, Document, Failure, Result
from crawler.sources.hexpm import HexpmConfig, HexpmSource

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "hexpm"
API_PATH = "/api/packages/lantern"


# --- helpers -----------------------------------------------------------------------------


def package(version: str, base: str) -> dict:
    """The hex.pm document of ``lantern`` at fixture ``version``, addressed to ``base``."""
    text = (FIXTURES / f"lantern-{version}.json").read_text(encoding="utf-8")
    return json.loads(text.replace("@BASE@", base))


def serve_package(server: DocServer, version: str, data: dict) -> None:
    target = server.root / version / API_PATH.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2), encoding="utf-8")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DocServer]:
    (tmp_path / "site" / "v1").mkdir(parents=True)
    with DocServer(tmp_path / "site", "v1") as srv:
        yield srv


def write_config(folder: Path, server: DocServer) -> Config:
    path = folder / "sources.yaml"
    path.write_text(f"""\
report:
  dir: reports
http:
  attempts: 1
sources:
  - name: hex
    kind: hexpm
    api: {server.url("/api/packages/")}
    packages: [lantern]
skills:
  - name: lantern-usage
    watches: ["{server.url("/docs/lantern/*")}"]
  - name: wick-usage
    watches: ["{server.url("/docs/wick/*")}"]
""", encoding="utf-8")
    return load_config(path)


@dataclass
class Run:
    outcome: RunOutcome
    data: dict
    markdown: str


def run(config: Config, folder: Path, day: int) -> Run:
    outcome = crawl(config, date=dt.date(2024, 3, day),
                    database=f"sqlite:///{folder}/db.sqlite3")
    md_path, json_path = outcome.report_paths[:2]
    assert (md_path.suffix, json_path.suffix) == (".md", ".json")
    return Run(outcome, json.loads(json_path.read_text(encoding="utf-8")),
               md_path.read_text(encoding="utf-8"))


def crawl_package(api: str) -> tuple[list[Result], float]:
    """Source level: what HexpmSource yields for ``lantern``, and how long it took."""
    async def go() -> list[Result]:
        settings = FetchSettings(attempts=2, backoff=0.01, max_retry_after=5)
        async with Fetcher(settings) as fetcher:
            ctx = CrawlContext(fetcher, validators_for=lambda u: None, has_page=lambda u: False)
            source = HexpmSource(HexpmConfig(name="hex", api=api, packages=["lantern"]))
            return [r async for r in source.crawl(ctx)]
    started = time.monotonic()
    results = asyncio.run(go())
    return results, time.monotonic() - started


# --- a major release ---------------------------------------------------------------------


@dataclass
class ReleaseRuns:
    server: DocServer
    baseline: Run
    second: Run


@pytest.fixture(scope="module")
def release_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReleaseRuns]:
    """lantern 1.4.2 (baseline), then 2.0.0 and 2.1.0-rc.0 published."""
    folder = tmp_path_factory.mktemp("hexpm")
    (folder / "site" / "v1").mkdir(parents=True)
    with DocServer(folder / "site", "v1") as srv:
        serve_package(srv, "v1", package("v1", srv.base_url))
        serve_package(srv, "v2", package("v2", srv.base_url))
        config = write_config(folder, srv)
        baseline = run(config, folder, 1)
        srv.set_version("v2")
        second = run(config, folder, 2)
        yield ReleaseRuns(srv, baseline, second)


def test_baseline_run_lists_no_release(release_runs: ReleaseRuns):
    first = release_runs.baseline
    assert first.data["errors"] == []
    assert first.data["releases"] == []
    assert first.data["latest_stable"] == []
    assert first.data["skills"] == []
    assert "### New releases" not in first.markdown
    assert "**hex**: first crawl, baseline" in first.markdown


def test_new_releases_are_listed_with_version_date_and_prerelease(release_runs: ReleaseRuns):
    base = release_runs.server.base_url
    releases = release_runs.second.data["releases"]
    assert [(r["package"], r["version"], r["published_at"], r["prerelease"])
            for r in releases] == [
        ("lantern", "2.1.0-rc.0", "2024-03-11T08:00:12.000000Z", True),
        ("lantern", "2.0.0", "2024-03-04T13:27:09.000000Z", False),
    ]
    assert releases[1]["url"] == f"{base}/packages/lantern/2.0.0"
    assert releases[1]["docs_url"] == f"{base}/docs/lantern/2.0.0/"
    # The changelog link comes from the package's meta.links.
    assert releases[1]["changelog_url"] == f"{base}/lantern/CHANGELOG.md"


def test_latest_stable_bump_is_major_and_names_the_skill_watching_the_docs(
        release_runs: ReleaseRuns):
    assert release_runs.second.data["latest_stable"] == [
        {"package": "lantern", "from": "1.4.2", "to": "2.0.0", "bump": "major",
         "skills": ["lantern-usage"]}]
    flagged = {s["name"]: s["reasons"] for s in release_runs.second.data["skills"]}
    assert list(flagged) == ["lantern-usage"]
    assert flagged["lantern-usage"][0]["why"] == \
        "major release of a package whose docs it watches"


def test_markdown_calls_out_the_major_release_and_the_skill(release_runs: ReleaseRuns):
    base = release_runs.server.base_url
    markdown = release_runs.second.markdown
    assert "### New releases" in markdown
    assert ("- **lantern**: latest stable 1.4.2 → 2.0.0 "
            "(**major release**: likely reason to update lantern-usage)") in markdown
    assert (f"  - [lantern 2.1.0-rc.0](<{base}/packages/lantern/2.1.0-rc.0>), "
            "published 2024-03-11 (pre-release)") in markdown
    assert (f"  - [lantern 2.0.0](<{base}/packages/lantern/2.0.0>), published 2024-03-04: "
            f"[docs](<{base}/docs/lantern/2.0.0/>)") in markdown
    assert "wick-usage" not in markdown


def test_releases_already_known_are_not_listed_again(release_runs: ReleaseRuns):
    versions = {r["version"] for r in release_runs.second.data["releases"]}
    assert versions.isdisjoint({"1.4.2", "1.4.1", "1.4.0"})


# --- what is not a change ------------------------------------------------------------------


def test_download_counters_changing_is_not_a_change(server: DocServer, tmp_path: Path):
    v1 = package("v1", server.base_url)
    v2 = {**v1, "downloads": {"all": 50102, "recent": 2990, "week": 871, "day": 140}}
    serve_package(server, "v1", v1)
    serve_package(server, "v2", v2)
    config = write_config(tmp_path, server)
    run(config, tmp_path, 1)
    server.set_version("v2")

    second = run(config, tmp_path, 2)

    assert server.log.count(API_PATH) == 2
    assert second.data["errors"] == []
    assert second.data["changes"] == []
    assert second.data["releases"] == []
    assert second.data["latest_stable"] == []
    assert "No substantive changes in the watched pages." in second.markdown


def test_prerelease_alone_does_not_move_latest_stable(server: DocServer, tmp_path: Path):
    v1 = package("v1", server.base_url)
    rc = {"version": "1.5.0-rc.0", "inserted_at": "2024-03-06T10:00:00.000000Z",
          "has_docs": True, "url": f"{server.base_url}/api/packages/lantern/releases/1.5.0-rc.0"}
    v2 = {**v1, "latest_version": "1.5.0-rc.0", "releases": [rc, *v1["releases"]]}
    serve_package(server, "v1", v1)
    serve_package(server, "v2", v2)
    config = write_config(tmp_path, server)
    run(config, tmp_path, 1)
    server.set_version("v2")

    second = run(config, tmp_path, 2)

    assert [r["version"] for r in second.data["releases"]] == ["1.5.0-rc.0"]
    assert second.data["latest_stable"] == []
    assert "latest stable" not in second.markdown


# --- fetch problems ------------------------------------------------------------------------


def test_429_with_retry_after_is_retried_after_waiting(server: DocServer):
    serve_package(server, "v1", package("v1", server.base_url))
    server.set_fault(API_PATH, Fault(kind="status", status=429, retry_after=1, times=1))

    results, elapsed = crawl_package(server.url("/api/packages/"))

    assert server.log.statuses(API_PATH) == [429, 200]
    assert elapsed >= 1.0
    assert not [r for r in results if isinstance(r, Failure)]
    versions = [r.meta["version"] for r in results
                if isinstance(r, Document) and r.item == "release"]
    assert versions == ["1.4.2", "1.4.1", "1.4.0"]


def test_non_json_body_yields_a_failure(server: DocServer):
    server.set_fault(API_PATH, Fault(kind="body", body="<html><body>Rate limited</body></html>",
                                     content_type="text/html"))

    results, _ = crawl_package(server.url("/api/packages/"))

    assert [type(r) for r in results] == [Failure]
    assert results[0].url == server.url(API_PATH)
    assert results[0].error.startswith("hex.pm API: not a package document")


def test_non_json_body_is_a_fetch_problem_in_the_report(server: DocServer, tmp_path: Path):
    serve_package(server, "v1", package("v1", server.base_url))
    serve_package(server, "v2", package("v2", server.base_url))
    config = write_config(tmp_path, server)
    run(config, tmp_path, 1)
    server.set_version("v2")
    server.set_fault(API_PATH, Fault(kind="body", body="Service temporarily unavailable\n",
                                     content_type="text/plain"))

    second = run(config, tmp_path, 2)

    assert [(e["url"], e["source"]) for e in second.data["errors"]] == [
        (server.url(API_PATH), "hex")]
    assert "not a package document" in second.data["errors"][0]["error"]
    assert second.outcome.all_failed
    assert second.data["releases"] == []
    assert second.data["latest_stable"] == []
    assert second.data["changes"] == []
