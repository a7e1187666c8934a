"""Silent breakage: a site that starts misbehaving after a good run is called out, not
recorded as a change.

Each test starts from a good crawl of a small local site (the baseline), then makes the
server misbehave the way real sites do (a login wall, an empty page, a truncated sidebar
index, an empty feed, a host answering 500) and reads the reports and the database the way
a user would. The ExDoc-shaped package "tidepool" (a fictional job queue) is written below;
its baseline crawl runs once for the module and each test gets a copy of that database.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.cli import cli
from crawler.config import Config, load_config
from crawler.demo.server import DocServer, Fault
from crawler.pipeline import RunOutcome, crawl
from crawler.store.db import open_database
from crawler.store.models import Page, Snapshot

DAYS = [dt.date(2025, 5, day) for day in range(1, 8)]

# -- the "tidepool" package: 8 guides ---------------------------------------------------

GUIDES: dict[str, tuple[str, str, list[str]]] = {
    "overview": ("Overview", "Introduction", [
        "Tidepool runs background jobs for Elixir applications. Jobs are plain maps stored "
        "in a table, picked up by workers and retried when they fail.",
        "This guide tours the main ideas; each of them has its own page in the sidebar.",
        "## Why a table", "Keeping jobs in the database means they survive restarts and "
        "can be inspected with ordinary queries when something looks stuck."]),
    "installation": ("Installation", "Introduction", [
        "Add tidepool to the dependencies in mix.exs and fetch it with mix deps.get.",
        "## Migrations", "Run mix tidepool.gen.migration once; it creates the jobs table "
        "and the indexes the poller relies on. Apply it with mix ecto.migrate.",
        "## Supervision", "Start Tidepool under your application supervisor after the "
        "repository, so that the poller never starts before the database is reachable."]),
    "queues": ("Queues", "Guides", [
        "Every job belongs to a queue. A queue has a name and a limit: how many of its jobs "
        "may run at the same time on one node.",
        "## Declaring queues", "List the queues in the configuration, for example mailers "
        "with a limit of 5 and reports with a limit of 1.",
        "## Pausing", "A paused queue keeps accepting jobs but starts none of them until "
        "it is resumed, which is handy during a maintenance window."]),
    "workers": ("Workers", "Guides", [
        "A worker is a module that implements perform/1. It receives the job and returns "
        ":ok, or an error tuple to ask for a retry.",
        "## Arguments", "Job arguments are stored as JSON, so atoms come back as strings. "
        "Pattern match on string keys inside perform/1.",
        "## Timeouts", "A worker may declare a timeout in milliseconds; a job running "
        "longer is stopped and counted as a failed attempt.",
        "## Uniqueness", "Mark a worker unique for a period to skip inserting a job "
        "whose worker and arguments match one that is still waiting."]),
    "scheduling": ("Scheduling", "Guides", [
        "Jobs can be scheduled for later with the scheduled_at option, or after a delay "
        "in seconds with schedule_in.",
        "## Recurring jobs", "The cron plugin inserts a job on every tick of a cron "
        "expression. Each expression names the worker and the arguments to use.",
        "## Time zones", "Cron expressions are evaluated in UTC unless the plugin is "
        "given a time zone database and a zone name."]),
    "retries": ("Retries", "Guides", [
        "A failed job is retried with an exponential backoff until it reaches its "
        "max_attempts, 20 by default.",
        "## Custom backoff", "Implement backoff/1 in the worker to return the number of "
        "seconds to wait before the next attempt.",
        "## Discarding", "Return {:discard, reason} to stop retrying a job whose input "
        "can never succeed, such as a deleted account."]),
    "telemetry": ("Telemetry", "Operations", [
        "Tidepool emits telemetry events when a job starts, stops and raises. Each event "
        "carries the queue, the worker and the duration in native units.",
        "## Logging", "Attach the default logger with Tidepool.Telemetry.attach_logger/1 "
        "to print one structured line per finished job.",
        "## Metrics", "Feed the stop event to your metrics library to chart the queue "
        "latency and the failure rate of each worker."]),
    "deployment": ("Deployment", "Operations", [
        "Tidepool needs nothing special to deploy: a release that can reach the "
        "database is enough. This guide collects the details that matter in production.",
        "## Releases", "Build the release with mix release as usual. The jobs table "
        "is created by your own migrations, so run them before the new nodes start.",
        "Nodes of one release share the same queues; a node only starts jobs of the "
        "queues listed in its own configuration.",
        "## Environment", "Read the queue limits from environment variables in "
        "runtime.exs so that one build can run with different limits per host.",
        "Keep the database pool larger than the sum of the queue limits, or workers will "
        "wait for a connection instead of doing their work.",
        "## Health checks", "Tidepool.health/0 returns :ok once the poller has run "
        "successfully; wire it to the readiness probe of your load balancer.",
        "A node that cannot reach the database reports :degraded and stops fetching new "
        "jobs until the connection is back.",
        "## Rolling restarts", "On shutdown Tidepool stops fetching, waits for running "
        "jobs up to the grace period and then leaves the rest to be rescued.",
        "Rescued jobs are put back in their queue by another node after the rescue "
        "interval, so a restart never loses work."]),
}
PACKAGE = "tidepool"
DIGEST = "7F3A9C"  # ExDoc names the sidebar file after a digest of its content


def sidebar_file(digest: str) -> str:
    return f"dist/sidebar_items-{digest}.js"


def sidebar(ids: list[str]) -> str:
    extras = [{"id": i, "title": GUIDES[i][0], "group": GUIDES[i][1]} for i in ids]
    return "sidebarNodes=" + json.dumps({"extras": extras, "modules": [], "tasks": []})


def body_html(title: str, paragraphs: list[str]) -> str:
    parts = [f"<h1>{html.escape(title)}</h1>"]
    for p in paragraphs:
        if p.startswith("## "):
            parts.append(f"<h2>{html.escape(p[3:])}</h2>")
        else:
            parts.append(f"<p>{html.escape(p)}</p>")
    return "\n".join(parts)


def exdoc_page(title: str, content: str, digest: str = DIGEST) -> str:
    """One page in the ExDoc shell: sidebar script in <head>, text in #top-content."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} — Tidepool v2.3.0</title>
<script src="{sidebar_file(digest)}"></script>
</head>
<body>
<nav class="sidebar">Tidepool</nav>
<main class="content"><div id="content">
<div id="top-content">
{content}
</div>
<footer class="footer">Built using ExDoc</footer>
</div></main>
</body>
</html>
"""


def guide_page(page_id: str, paragraphs: list[str] | None = None, digest: str = DIGEST) -> str:
    title, _, text = GUIDES[page_id]
    return exdoc_page(title, body_html(title, paragraphs if paragraphs is not None else text),
                      digest)


LOGIN_WALL = exdoc_page("Sign in", "<h1>Sign in</h1>\n<p>Please log in to continue.</p>")
EMPTY_PAGE = exdoc_page("Workers", "")


def write_package(root: Path, version: str = "v1", listed: list[str] | None = None,
                  digest: str = DIGEST) -> None:
    """One build of the package: every guide file, and a sidebar listing ``listed``."""
    package = root / version / PACKAGE
    (package / "dist").mkdir(parents=True)
    (package / "index.html").write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta http-equiv="refresh" content="0; url=overview.html"></head><body></body></html>\n')
    (package / sidebar_file(digest)).write_text(sidebar(listed or list(GUIDES)))
    for page_id in GUIDES:
        (package / f"{page_id}.html").write_text(guide_page(page_id, digest=digest))


# -- running it -------------------------------------------------------------------------


@dataclass
class Report:
    outcome: RunOutcome
    md: str
    data: dict

    def changes(self, kind: str | None = None) -> list[tuple[str, str]]:
        return [(c["change"], c["url"].rsplit("/", 1)[-1]) for c in self.data["changes"]
                if kind is None or c["change"] == kind]

    def errors_for(self, url: str) -> list[str]:
        return [e["error"] for e in self.data["errors"] if e["url"] == url]

    @property
    def fetch_problems(self) -> str:
        return self.md.split("## Fetch problems", 1)[1]


@dataclass
class Project:
    config: Config
    database: str
    folder: Path

    def run(self, day: dt.date) -> Report:
        outcome = crawl(self.config, date=day, database=self.database)
        assert outcome.status == "completed"
        md, js = outcome.report_paths[:2]
        return Report(outcome, md.read_text(encoding="utf-8"),
                      json.loads(js.read_text(encoding="utf-8")))

    def latest_text(self, url: str) -> str:
        engine = open_database(self.database)
        try:
            with Session(engine) as session:
                page = session.scalars(select(Page).where(Page.url == url)).one()
                return session.get_one(Snapshot, page.latest_snapshot_id).content
        finally:
            engine.dispose()


def make_project(folder: Path, sources: str) -> Project:
    path = folder / "sources.yaml"
    path.write_text(f"""\
report:
  title: "Tidepool Watch"
  dir: reports
http:
  attempts: 1
alerts:
  failing_runs: 3
  confirm_runs: 3
sources:
{sources}
""", encoding="utf-8")
    return Project(load_config(path), f"sqlite:///{folder / 'db.sqlite3'}", folder)


def docs_project(folder: Path, site: DocServer) -> Project:
    return make_project(folder, f"""\
  - name: docs
    kind: exdoc
    urls: [{site.base_url}/{PACKAGE}/]
""")


@pytest.fixture(scope="module")
def tidepool(tmp_path_factory) -> Iterator[DocServer]:
    root = tmp_path_factory.mktemp("tidepool-site")
    write_package(root)
    with DocServer(root=root, version="v1") as server:
        yield server


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, tidepool: DocServer) -> Path:
    """The database after one good crawl of the whole package (day 1)."""
    folder = tmp_path_factory.mktemp("baseline")
    report = docs_project(folder, tidepool).run(DAYS[0])
    assert report.data["errors"] == [] and report.data["sources"][0]["pages_checked"] == 8
    return folder / "db.sqlite3"


@pytest.fixture
def site(tidepool: DocServer) -> Iterator[DocServer]:
    yield tidepool
    tidepool.clear_faults()
    tidepool.set_version("v1")


@pytest.fixture
def project(tmp_path: Path, site: DocServer, baseline: Path) -> Project:
    """A project whose database holds the good day-1 crawl of the site."""
    with sqlite3.connect(baseline) as src, sqlite3.connect(tmp_path / "db.sqlite3") as dst:
        src.backup(dst)
    return docs_project(tmp_path, site)


def url_of(site: DocServer, page_id: str) -> str:
    return f"{site.base_url}/{PACKAGE}/{page_id}.html"


# -- (a) a login wall -------------------------------------------------------------------


def test_login_wall_is_a_probable_breakage_and_the_last_good_text_stays(project, site):
    workers = url_of(site, "workers")
    site.set_fault(f"/{PACKAGE}/workers.html", Fault(kind="body", body=LOGIN_WALL))

    report = project.run(DAYS[1])

    assert report.changes() == []
    [error] = report.errors_for(workers)
    assert error.startswith("probable breakage: the text shrank from ")
    assert "the last good snapshot is kept" in error
    assert workers in report.fetch_problems and "probable breakage" in report.fetch_problems
    assert report.data["sources"][0]["errors"] == 1
    # The stored text is still the guide, as `docwatch show` prints it.
    shown = CliRunner().invoke(cli, ["show", workers, "--db", project.database])
    assert shown.exit_code == 0, shown.output
    assert "A worker is a module that implements perform/1." in shown.stdout
    assert "Please log in" not in shown.stdout
    assert "Please log in" not in project.latest_text(workers)


def test_the_same_short_text_on_confirm_runs_runs_in_a_row_is_accepted(project, site):
    workers = url_of(site, "workers")
    site.set_fault(f"/{PACKAGE}/workers.html", Fault(kind="body", body=LOGIN_WALL))

    first, second, third = (project.run(day) for day in DAYS[1:4])

    for report, run in ((first, 1), (second, 2)):
        assert report.changes() == []
        [error] = report.errors_for(workers)
        assert f"(run {run} of 3 before it is accepted)" in error
    # Third run in a row with the very same text: it is real, and a normal modification.
    assert third.changes() == [("modified", "workers.html")]
    assert third.data["errors"] == []
    assert "Please log in to continue." in project.latest_text(workers)


def test_a_login_wall_that_goes_away_leaves_no_trace(project, site):
    workers = url_of(site, "workers")
    site.set_fault(f"/{PACKAGE}/workers.html", Fault(kind="body", body=LOGIN_WALL))
    project.run(DAYS[1])
    site.set_fault(f"/{PACKAGE}/workers.html", None)

    report = project.run(DAYS[2])

    assert report.changes() == [] and report.data["errors"] == []
    assert "A worker is a module" in project.latest_text(workers)


# -- (b) an empty page ------------------------------------------------------------------


def test_an_empty_page_is_a_fetch_problem_not_a_removal_or_an_emptied_page(project, site):
    workers = url_of(site, "workers")
    site.set_fault(f"/{PACKAGE}/workers.html", Fault(kind="body", body=EMPTY_PAGE))

    report = project.run(DAYS[1])

    assert report.changes() == []
    assert len(report.errors_for(workers)) == 1
    assert workers in report.fetch_problems
    assert "A worker is a module that implements perform/1." in project.latest_text(workers)
    history = CliRunner().invoke(cli, ["history", workers, "--db", project.database])
    assert history.exit_code == 0
    assert "removed" not in history.stdout and "modified" not in history.stdout


# -- (c) a package index that suddenly lists far fewer pages ----------------------------


def test_a_shrunken_package_index_removes_nothing_and_is_called_out(project, site):
    # A new build whose sidebar lists only 2 of the 8 guides (a broken docs build).
    write_package(site.root, "shrunk", ["overview", "installation"], digest="0BAD00")
    site.set_version("shrunk")

    report = project.run(DAYS[1])

    assert report.changes("removed") == []
    assert report.changes() == []
    [error] = report.errors_for(f"{site.base_url}/{PACKAGE}/")
    assert error.startswith("probable breakage: the package index lists 2 pages where 8 "
                            "were known")
    assert "probable breakage: the package index lists 2 pages where 8 were known" \
        in report.fetch_problems

    # When the index is whole again, nothing comes back as "new": nothing was lost.
    site.set_version("v1")
    restored = project.run(DAYS[2])
    assert restored.changes() == [] and restored.data["errors"] == []


def test_a_page_really_dropped_from_a_full_index_is_still_removed(project, site):
    # The guard is about sudden collapses: one page of eight leaving is a real removal.
    write_package(site.root, "seven", [g for g in GUIDES if g != "telemetry"],
                  digest="5EVEN7")
    site.set_version("seven")

    report = project.run(DAYS[1])

    assert report.changes() == [("removed", "telemetry.html")]
    assert report.data["errors"] == []


# -- (e) a real trim --------------------------------------------------------------------


def test_a_real_trim_made_of_old_paragraphs_is_a_normal_modification(project, site):
    deployment = url_of(site, "deployment")
    old_text = project.latest_text(deployment)
    _, _, paragraphs = GUIDES["deployment"]
    trimmed = ["## Releases", paragraphs[2]]
    site.set_fault(f"/{PACKAGE}/deployment.html",
                   Fault(kind="body", body=guide_page("deployment", trimmed)))

    report = project.run(DAYS[1])

    new_text = project.latest_text(deployment)
    # Shrunk below shrink_ratio (0.25): only its shared lines keep it from looking broken.
    assert len(new_text) < 0.25 * len(old_text)
    assert report.changes() == [("modified", "deployment.html")]
    assert report.data["errors"] == []
    change = report.data["changes"][0]
    assert change["lines_removed"] >= 8 and change["lines_added"] == 0
    assert "Health checks" in change["sections"]


# -- (d) a feed that comes back empty ---------------------------------------------------

FEED_PATH = "/harbor/feed.xml"


def rss(items: str, build_date: str = "Thu, 01 May 2025 06:00:00 GMT") -> str:
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            "<title>Harbor Notes</title><link>http://harbor.invalid/</link>"
            f"<description>Notes from the harbor office</description>"
            f"<lastBuildDate>{build_date}</lastBuildDate>\n{items}</channel></rss>\n")


POSTS = "".join(
    f"<item><title>{title}</title><link>http://harbor.invalid/{slug}.html</link>"
    f'<guid isPermaLink="false">{slug}</guid><pubDate>{date}</pubDate>'
    f"<description>{text}</description></item>\n"
    for slug, title, date, text in [
        ("tides", "Tide tables for May", "Wed, 30 Apr 2025 08:00:00 GMT",
         "The spring tides arrive early this month."),
        ("buoys", "New buoys at the east pier", "Mon, 28 Apr 2025 08:00:00 GMT",
         "Three yellow buoys now mark the shallow channel."),
    ])


@pytest.fixture
def harbor(tmp_path: Path) -> Iterator[DocServer]:
    feed = tmp_path / "harbor-site" / "v1" / FEED_PATH.lstrip("/")
    feed.parent.mkdir(parents=True)
    feed.write_text(rss(POSTS), encoding="utf-8")
    with DocServer(root=tmp_path / "harbor-site", version="v1") as server:
        yield server


def feed_project(folder: Path, server: DocServer) -> Project:
    return make_project(folder, f"""\
  - name: harbor
    kind: feed
    urls: [{server.url(FEED_PATH)}]
    empty_runs: 3
""")


def test_a_feed_empty_on_empty_runs_runs_in_a_row_is_a_probable_breakage(tmp_path, harbor):
    project = feed_project(tmp_path, harbor)
    project.run(DAYS[0])

    reports = []
    for n, day in enumerate(DAYS[1:4], start=1):
        # Each night the feed is rebuilt (a new lastBuildDate), still without entries.
        harbor.set_fault(FEED_PATH, Fault(kind="body", content_type="application/rss+xml",
                                          body=rss("", f"Fri, 0{n + 1} May 2025 06:00:00 GMT")))
        reports.append(project.run(day))

    feed_url = harbor.url(FEED_PATH)
    assert reports[0].data["errors"] == [] and reports[1].data["errors"] == []
    assert reports[2].errors_for(feed_url) == [
        "probable breakage: the feed has returned no entries on 3 runs in a row"]
    assert "probable breakage" in reports[2].fetch_problems
    for report in reports:
        assert report.changes("removed") == []
        assert report.data["changes"] == []


def test_a_feed_that_stays_identically_empty_is_a_probable_breakage(tmp_path, harbor):
    project = feed_project(tmp_path, harbor)
    project.run(DAYS[0])
    # The same empty document every night: the server answers the conditional GET with 304.
    harbor.set_fault(FEED_PATH, Fault(kind="body", body=rss(""),
                                      content_type="application/rss+xml"))

    reports = [project.run(day) for day in DAYS[1:4]]

    assert harbor.log.statuses(FEED_PATH)[-2:] == [304, 304]
    assert reports[0].data["errors"] == [] and reports[1].data["errors"] == []
    assert reports[2].errors_for(harbor.url(FEED_PATH)) == [
        "probable breakage: the feed has returned no entries on 3 runs in a row"]
    assert all(report.data["changes"] == [] for report in reports)


# -- (f) a source failing on several runs in a row --------------------------------------


def two_sources(folder: Path, good: DocServer, other: DocServer) -> Project:
    return make_project(folder, f"""\
  - name: docs
    kind: exdoc
    urls: [{good.base_url}/lumen/]
  - name: mirror
    kind: exdoc
    urls: [{other.base_url}/lumen_live/]
""")


def test_two_sources_record_their_pages_side_by_side_in_one_run(tmp_path):
    # Both sources store pages while the other still waits for a slow one: SQLite's single
    # writer must not make one source's batch wait on the other's inside the event loop.
    with DocServer(version="v1") as good, DocServer(version="v1") as other:
        good.set_fault("/lumen/changelog.html", Fault(kind="delay", seconds=0.3))
        other.set_fault("/lumen_live/uploads.html", Fault(kind="delay", seconds=0.3))
        report = two_sources(tmp_path, good, other).run(DAYS[0])

    checked = {s["name"]: (s["pages_checked"], s["errors"]) for s in report.data["sources"]}
    assert checked == {"docs": (5, 0), "mirror": (3, 0)}


def test_a_source_failing_runs_in_a_row_is_called_out_then_its_recovery_once(tmp_path):
    with DocServer(version="v1") as good, DocServer(version="v1") as mirror_host:
        project = two_sources(tmp_path, good, mirror_host)
        project.run(DAYS[0])
        mirror_host.set_fault("*", Fault(kind="status", status=500))
        failing = [project.run(day) for day in DAYS[1:4]]
        mirror_host.set_fault("*", None)
        recovered = project.run(DAYS[4])
        after = project.run(DAYS[5])

    title = "# Tidepool Watch — {}\n\n"
    callout = "> **mirror has failed on 3 runs in a row** (since 2025-05-02)"
    for runs, report in enumerate(failing[:2], start=1):
        assert "has failed on" not in report.md
        mirror = next(s for s in report.data["sources"] if s["name"] == "mirror")
        assert mirror["failing_runs"] == runs
    third = failing[2]
    assert third.md.startswith(title.format(DAYS[3]) + callout)
    sources = {s["name"]: s for s in third.data["sources"]}
    assert sources["mirror"]["failing_runs"] == 3
    assert sources["mirror"]["failing_since"] == "2025-05-02"
    # The other source kept working all along.
    assert sources["docs"]["failing_runs"] == 0 and sources["docs"]["errors"] == 0
    assert all(e["source"] == "mirror" for e in third.data["errors"])

    assert recovered.md.startswith(
        title.format(DAYS[4]) + "> **mirror recovered** after failing on 3 runs in a row")
    assert "has failed on" not in recovered.md and recovered.md.count("recovered") == 1
    mirror = next(s for s in recovered.data["sources"] if s["name"] == "mirror")
    assert mirror["recovered_after"] == 3 and mirror["failing_runs"] == 0
    assert "recovered" not in after.md and "has failed on" not in after.md
