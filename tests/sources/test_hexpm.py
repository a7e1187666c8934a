"""``kind: hexpm``: package releases from a hex.pm-shaped API, as the report shows them.

DocServer plays hex.pm: the package document is the file ``api/packages/<name>`` of
the served version. The documents are in ``tests/fixtures/sources/hexpm``; ``@BASE@``
there stands for the test server's address.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler.config import Config, load_config
from crawler.demo.server import DocServer, Fault
from crawler.http import Fetcher, FetchSettings, Validators
from crawler.pipeline import RunOutcome, crawl
from crawler.sources.base import (
    CrawlContext,
    Document,
    Failure,
    HeldTargetMemory,
    Result,
    TargetDone,
    Unchanged,
)
from crawler.sources.hexpm import HexpmConfig, HexpmSource, package_documents

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


def crawl_package(api: str, stored: Validators | None = None,
                  memory: HeldTargetMemory | None = None) -> tuple[list[Result], float]:
    """Source level: what HexpmSource yields for ``lantern``, and how long it took;
    ``stored``: the validators the store remembers for every URL, ``memory``: what the
    source remembers of its packages."""
    async def go() -> list[Result]:
        settings = FetchSettings(attempts=2, backoff=0.01, max_retry_after=5)
        async with Fetcher(settings) as fetcher:
            ctx = CrawlContext(fetcher, validators_for=lambda u: stored, has_page=lambda u: False,
                               targets=memory if memory is not None else HeldTargetMemory())
            source = HexpmSource(HexpmConfig(name="hex", api=api, packages=["lantern"]))
            return [r async for r in source.crawl(ctx) if not isinstance(r, TargetDone)]
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

    results, _ = crawl_package(server.url("/api/packages/"))

    assert server.log.statuses(API_PATH) == [429, 200]
    first, second = server.log.arrivals(API_PATH)
    assert second - first >= 1.0  # the Retry-After, between the two requests
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


def test_429_with_rate_limit_reset_and_no_retry_after_waits_for_the_reset(server: DocServer):
    # hex.pm's API over its limit: no Retry-After, the absolute reset time in unix seconds.
    serve_package(server, "v1", package("v1", server.base_url))
    reset = int(time.time()) + 2
    server.set_fault(API_PATH, Fault(
        kind="status", status=429, times=1, content_type="application/json",
        body='{"status": 429, "message": "API rate limit exceeded for IP 127.0.0.1"}',
        headers={"x-ratelimit-limit": "100", "x-ratelimit-remaining": "0",
                 "x-ratelimit-reset": str(reset)}))

    results, _ = crawl_package(server.url("/api/packages/"))

    assert server.log.statuses(API_PATH) == [429, 200]
    _, retried = server.log.arrivals(API_PATH)
    unix = time.time() - time.monotonic()  # the log's clock to unix time
    assert retried + unix >= reset - 0.05  # the retry came once the limit had reset
    assert not [r for r in results if isinstance(r, Failure)]


# --- today's hex.pm API: retirements, has_docs, docs in subdomain form ---------------------

SECURITY = {"reason": "security", "message": "Lantern.light/2 leaks file handles"}


def documents(data: dict) -> tuple[Document, dict[str, Document]]:
    """The package item and the release items (by version) of a package document."""
    docs = package_documents(data, "https://hex.pm/api/packages/lantern")
    assert [d.item for d in docs] == ["release"] * (len(docs) - 1) + ["package"]
    return docs[-1], {d.meta["version"]: d for d in docs[:-1]}


def test_a_retired_release_is_not_the_latest_stable_and_says_why():
    v1 = package("v1", "https://hex.pm")
    # hex.pm's latest_stable_version does not skip retired releases.
    data = {**v1, "retirements": {"1.4.2": SECURITY}}

    pkg, releases = documents(data)

    assert pkg.meta["latest_stable_version"] == "1.4.1"
    assert "latest stable version: 1.4.1\n" in pkg.text
    assert releases["1.4.2"].meta["retired"] == SECURITY
    assert "retired: security: Lantern.light/2 leaks file handles\n" in releases["1.4.2"].text
    assert releases["1.4.1"].meta["retired"] is None
    assert "retired" not in releases["1.4.1"].text


def test_latest_stable_is_the_highest_stable_release_not_the_first_listed():
    v1 = package("v1", "https://hex.pm")
    backport = {"version": "1.3.9", "inserted_at": "2024-02-01T00:00:00.000000Z",
                "has_docs": True, "url": "https://hex.pm/api/packages/lantern/releases/1.3.9"}
    pkg, _ = documents({**v1, "releases": [backport, *v1["releases"]]})
    assert pkg.meta["latest_stable_version"] == "1.4.2"


@pytest.mark.parametrize(("releases", "api_value", "expected"), [
    (["1.0.0-rc.1", "1.0.0-rc.0"], None, None),  # only pre-releases, the API says null
    (["0.9.0"], None, "0.9.0"),  # null, yet a stable release: ours
    (["1.0.0", "0.9.0"], "1.0.0", "0.9.0"),  # 1.0.0 retired below
    (["1.0.0"], "1.0.0", None),  # every stable release retired
    ([], "1.0.0", None),  # the API's value, but it is retired
    ([], "0.9.0", "0.9.0"),  # no release to read: the API's value
])
def test_latest_stable_when_the_api_says_null_or_names_a_retired_release(
        releases: list[str], api_value: str | None, expected: str | None):
    data = {"name": "lantern", "latest_stable_version": api_value, "latest_version": None,
            "docs_html_url": None, "retirements": {"1.0.0": SECURITY},
            "releases": [{"version": v, "inserted_at": None, "has_docs": False}
                         for v in releases]}
    pkg, _ = documents(data)
    assert pkg.meta["latest_stable_version"] == expected


def test_docs_urls_are_kept_as_given_and_a_release_without_docs_has_none():
    v1 = package("v1", "https://hex.pm")
    v1["docs_html_url"] = "https://lantern.hexdocs.pm/"
    v1["releases"][1]["has_docs"] = False  # 1.4.1
    pkg, releases = documents(v1)
    assert pkg.meta["docs_url"] == "https://lantern.hexdocs.pm/"
    assert releases["1.4.2"].meta["docs_url"] == "https://lantern.hexdocs.pm/1.4.2/"
    assert releases["1.4.1"].meta["docs_url"] is None

    v1["docs_html_url"] = "https://hexdocs.pm/lantern/"
    _, releases = documents(v1)
    assert releases["1.4.2"].meta["docs_url"] == "https://hexdocs.pm/lantern/1.4.2/"

    v1["docs_html_url"] = None  # no docs at all: nothing made up
    pkg, releases = documents(v1)
    assert pkg.meta["docs_url"] is None and releases["1.4.2"].meta["docs_url"] is None


def test_a_new_release_already_retired_is_listed_as_such_and_not_the_latest_stable(
        server: DocServer, tmp_path: Path):
    base = server.base_url
    v2 = package("v2", base)
    v2["retirements"] = {"2.0.0": SECURITY}
    v2["releases"][1]["has_docs"] = False  # 2.0.0
    serve_package(server, "v1", package("v1", base))
    serve_package(server, "v2", v2)
    config = write_config(tmp_path, server)
    run(config, tmp_path, 1)
    server.set_version("v2")

    second = run(config, tmp_path, 2)

    assert second.data["latest_stable"] == []
    assert "latest stable" not in second.markdown
    releases = {r["version"]: r for r in second.data["releases"]}
    assert releases["2.0.0"]["retired"] == SECURITY
    assert releases["2.0.0"]["docs_url"] is None
    assert releases["2.1.0-rc.0"]["retired"] is None
    assert (f"  - [lantern 2.0.0](<{base}/packages/lantern/2.0.0>), published 2024-03-04 "
            "(**retired**: security: Lantern.light/2 leaks file handles): "
            f"[changelog](<{base}/lantern/CHANGELOG.md>)\n") in second.markdown
    assert second.data["skills"] == []


def test_a_release_retired_later_is_a_modified_release_saying_so(
        server: DocServer, tmp_path: Path):
    base = server.base_url
    v1 = package("v1", base)
    serve_package(server, "v1", v1)
    serve_package(server, "v2", {**v1, "retirements": {"1.4.2": SECURITY}})
    config = write_config(tmp_path, server)
    run(config, tmp_path, 1)
    server.set_version("v2")

    second = run(config, tmp_path, 2)

    assert second.data["errors"] == []
    assert second.data["releases"] == []
    changed = {(c["item"], c["change"], c["url"]): c for c in second.data["changes"]}
    assert set(changed) == {("release", "modified", f"{base}/packages/lantern/1.4.2"),
                            ("package", "modified", f"{base}/packages/lantern")}
    release = changed[("release", "modified", f"{base}/packages/lantern/1.4.2")]
    assert "+retired: security: Lantern.light/2 leaks file handles" in release["diff"]
    assert second.data["retired_releases"] == [
        {"package": "lantern", "version": "1.4.2", "url": f"{base}/packages/lantern/1.4.2",
         **SECURITY}]
    # The latest stable steps back to the newest release that is not retired.
    assert second.data["latest_stable"] == [
        {"package": "lantern", "from": "1.4.2", "to": "1.4.1", "bump": None, "skills": []}]
    assert (f"  - [lantern 1.4.2](<{base}/packages/lantern/1.4.2>) **retired**: security: "
            "Lantern.light/2 leaks file handles\n") in second.markdown
    html = second.outcome.report_paths[2].read_text(encoding="utf-8")
    assert '<span class="badge">retired</span> security: Lantern.light/2 leaks' in html


def test_a_first_stable_release_after_a_null_latest_stable_is_a_bump_from_none(
        server: DocServer, tmp_path: Path):
    rc = {"version": "1.0.0-rc.0", "inserted_at": "2024-02-01T00:00:00.000000Z",
          "has_docs": True, "url": f"{server.base_url}/api/packages/lantern/releases/1.0.0-rc.0"}
    stable = {**rc, "version": "1.0.0", "inserted_at": "2024-03-01T00:00:00.000000Z"}
    v1 = {**package("v1", server.base_url), "latest_stable_version": None,
          "latest_version": "1.0.0-rc.0", "releases": [rc]}
    serve_package(server, "v1", v1)
    serve_package(server, "v2", {**v1, "latest_stable_version": "1.0.0",
                                 "latest_version": "1.0.0", "releases": [stable, rc]})
    config = write_config(tmp_path, server)
    assert run(config, tmp_path, 1).data["errors"] == []
    server.set_version("v2")

    second = run(config, tmp_path, 2)

    assert [r["version"] for r in second.data["releases"]] == ["1.0.0"]
    assert second.data["latest_stable"] == [
        {"package": "lantern", "from": None, "to": "1.0.0", "bump": None, "skills": []}]
    assert "- **lantern**: latest stable none → 1.0.0" in second.markdown


# --- conditional requests ------------------------------------------------------------------


def test_an_unchanged_package_answers_304_and_nothing_is_lost(server: DocServer,
                                                             tmp_path: Path):
    base = server.base_url
    serve_package(server, "v1", package("v1", base))
    serve_package(server, "v2", package("v2", base))
    config = write_config(tmp_path, server)
    first = run(config, tmp_path, 1)
    # What the source remembers of the package is a row of its own, read as the crawl
    # reaches the package, not part of one document of every package.
    with closing(sqlite3.connect(tmp_path / "db.sqlite3")) as db:
        assert [target for (target,) in db.execute(
            "select target from target_states where source = 'hex'")] == ["lantern"]
        (state,), = db.execute("select state from sources where name = 'hex'")
        assert "hexpm" not in json.loads(state)

    second = run(config, tmp_path, 2)  # the same document

    request = server.log.requests(API_PATH)[1]
    assert request.headers.get("If-None-Match") and request.status == 304
    assert second.data["errors"] == []
    assert second.data["changes"] == []
    assert second.data["releases"] == []
    assert second.data["latest_stable"] == []
    assert "No substantive changes in the watched pages." in second.markdown
    [source] = second.data["sources"]
    assert source["pages_checked"] == first.data["sources"][0]["pages_checked"] == 4
    assert source["not_modified"] == 4

    server.set_version("v2")  # two releases published
    third = run(config, tmp_path, 3)

    assert server.log.statuses(API_PATH) == [200, 304, 200]
    assert server.log.requests(API_PATH)[2].headers.get("If-None-Match")
    assert [r["version"] for r in third.data["releases"]] == ["2.1.0-rc.0", "2.0.0"]
    assert [(b["from"], b["to"]) for b in third.data["latest_stable"]] == [("1.4.2", "2.0.0")]
    # Releases not re-emitted on the 304 run are still known: none is new, none removed.
    assert {c["change"] for c in third.data["changes"]} == {"added", "modified"}
    assert not {"1.4.2", "1.4.1", "1.4.0"} & {r["version"] for r in third.data["releases"]}

    fourth = run(config, tmp_path, 4)  # v2 again: 304 once more
    assert server.log.statuses(API_PATH)[-1] == 304
    assert fourth.data["changes"] == []


def test_a_304_keeps_the_package_and_every_release_as_recorded(server: DocServer):
    serve_package(server, "v1", package("v1", server.base_url))
    memory = HeldTargetMemory()
    first, _ = crawl_package(server.url("/api/packages/"), memory=memory)
    recorded = memory.states["lantern"]
    stored = Validators(*recorded["validators"])
    assert stored.etag

    second, _ = crawl_package(server.url("/api/packages/"), stored, memory)

    assert server.log.statuses(API_PATH) == [200, 304]
    assert [type(r) for r in second] == [Unchanged] * 4
    assert [r.url for r in second] == [r.url for r in first] == recorded["items"]
    assert all(r.validators.etag == stored.etag for r in second)


def test_validators_that_are_not_those_of_the_recorded_items_are_not_sent(server: DocServer):
    # A run killed half-way: some items kept the new validators, the source's memory the old.
    serve_package(server, "v1", package("v1", server.base_url))
    memory = HeldTargetMemory()
    crawl_package(server.url("/api/packages/"), memory=memory)
    stored = Validators(*memory.states["lantern"]["validators"])

    results, _ = crawl_package(server.url("/api/packages/"), Validators('"other"'), memory)
    assert server.log.conditional(API_PATH) == 0
    assert [type(r) for r in results] == [Document] * 4

    crawl_package(server.url("/api/packages/"), stored, HeldTargetMemory())  # nothing remembered
    assert server.log.conditional(API_PATH) == 0
