"""End to end: crawl the bundled ExDoc-shaped site (v1, then v2) into real SQLite, and
(the tests taking ``database_url``) into PostgreSQL as well.

The site's v1 -> v2 changes are listed in crawler/demo/site/README.md; every
assertion here is one of them, seen the way a user sees it: in the reports.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import execute, query
from conftest import write_config as write_demo_config

from crawler.config import load_config
from crawler.demo.run import UPDATE_DATE
from crawler.pipeline import crawl

DAY1, DAY2 = dt.date(2024, 1, 2), dt.date(2024, 2, 2)
GUIDES = {"lumen": ["overview.html", "installation.html", "routing.html", "channels.html",
                    "changelog.html"],
          "lumen_live": ["welcome.html", "bindings.html", "uploads.html"]}  # v1


def write_config(tmp_path: Path, base: str, extra_skill: str = "") -> Path:
    """The demo's sources.yaml for the site at ``base``; ``extra_skill`` adds skills to it."""
    return write_demo_config(tmp_path, base, skills=extra_skill)


@pytest.fixture
def config(tmp_path, site):
    return load_config(write_config(tmp_path, site.base_url))


def db_url(where: Path | str) -> str:
    """A test's database: the URL it was given (``database_url``), or the SQLite file in
    its ``tmp_path``."""
    return where if isinstance(where, str) else f"sqlite:///{where / 'db' / 'docwatch.sqlite3'}"


def run(config, where: Path | str, date):
    outcome = crawl(config, date=date, database=db_url(where))
    md, js = outcome.report_paths[:2]
    return outcome, md.read_text(), json.loads(js.read_text())


def test_first_crawl_records_a_baseline_instead_of_listing_new_pages(config, database_url):
    outcome, md, data = run(config, database_url, DAY1)

    assert outcome.status == "completed"
    assert [p.name for p in outcome.report_paths[:2]] == ["2024-01-02-lumen-docs-research.md",
                                                          "2024-01-02-lumen-docs-research.json"]
    # 5 lumen guides + 3 lumen_live guides; module pages are not guides.
    assert data["sources"] == [{"name": "lumen-docs", "kind": "exdoc", "pages_checked": 8,
                                "not_modified": 8, "changed": 0, "errors": 0,
                                "baseline": True, "runs": 1, "failing_runs": 0,
                                "failing_since": None, "recovered_after": 0, "moved": []}]
    assert data["changes"] == [] and data["skills"] == [] and data["gaps"] == []
    assert "first crawl, baseline of 8 pages recorded" in md


def test_second_crawl_reports_each_real_change_and_nothing_else(crawled_demo):
    outcome, data = crawled_demo.update, crawled_demo.data(UPDATE_DATE)

    base = crawled_demo.base_url
    changes = {(c["change"], c["url"]) for c in data["changes"]}
    assert changes == {
        ("added", f"{base}/lumen/json_apis.html"),
        ("added", f"{base}/lumen_live/async.html"),
        ("removed", f"{base}/lumen/channels.html"),
        ("modified", f"{base}/lumen/installation.html"),
        ("modified", f"{base}/lumen/routing.html"),
        ("modified", f"{base}/lumen/changelog.html"),
        ("modified", f"{base}/lumen_live/bindings.html"),
    }
    # overview, welcome and uploads changed only their ExDoc chrome: not reported.
    routing = next(c for c in data["changes"] if c["url"].endswith("/routing.html"))
    assert "Verified routes" in routing["sections"]
    assert routing["lines_added"] >= 1 and routing["lines_removed"] >= 1
    assert "+## Verified routes" in routing["diff"]
    assert "Pipelines may also be nested" in routing["diff"]
    assert outcome.changed == 7 and outcome.errors == 0


def test_v1_to_v2_reports_the_same_changes_on_every_database(config, site, database_url):
    run(config, database_url, DAY1)
    site.set_version("v2")
    outcome, _, data = run(config, database_url, DAY2)

    base = site.base_url
    # In the report's order, which no database may change.
    assert [(c["change"], c["url"].removeprefix(base)) for c in data["changes"]] == [
        ("added", "/lumen/json_apis.html"), ("added", "/lumen_live/async.html"),
        ("removed", "/lumen/channels.html"), ("modified", "/lumen/changelog.html"),
        ("modified", "/lumen/installation.html"), ("modified", "/lumen/routing.html"),
        ("modified", "/lumen_live/bindings.html")]
    routing = next(c for c in data["changes"] if c["url"].endswith("/routing.html"))
    assert "+## Verified routes" in routing["diff"]
    assert outcome.changed == 7 and outcome.errors == 0


def test_markdown_report_reads_like_a_research_note(crawled_demo):
    md = crawled_demo.markdown(UPDATE_DATE)

    headings = [line for line in md.splitlines() if line.startswith("## ")]
    # The note first, then the appendix of page changes, then the fetch problems.
    assert headings == ["## Sources reviewed", "## Key takeaways", "## Skills needing updates",
                        "## Skill gaps", "## Appendix: page changes", "## Fetch problems"]
    assert md.startswith("# Lumen Docs Research — 2024-02-01\n")
    # A summary line before the sections says what the run found.
    assert md.split("## Sources reviewed")[0].strip().splitlines()[-1].startswith(
        f"{len(crawled_demo.data(UPDATE_DATE)['skills'])} skill")
    assert "### lumen-docs / lumen\n" in md and "### lumen-docs / lumen_live\n" in md
    assert "**New pages**" in md and "**Removed pages**" in md and "**Modified pages**" in md
    assert "```diff" in md
    assert "No fetch problems." in md


def test_skills_are_flagged_by_watches_and_keywords_with_reasons(crawled_demo):
    md, data = crawled_demo.markdown(UPDATE_DATE), crawled_demo.data(UPDATE_DATE)

    skills = {s["name"]: s for s in data["skills"]}
    assert set(skills) == {"lumen-live", "lumen-routing"}
    live = {r["url"].rsplit("/", 1)[-1]: r["why"] for r in skills["lumen-live"]["reasons"]}
    assert "watches" in live["bindings.html"] and "mentions lm-update" in live["bindings.html"]
    assert "watches" in live["async.html"]
    routing = {r["url"].rsplit("/", 1)[-1]: r["why"]
               for r in skills["lumen-routing"]["reasons"]}
    assert routing["routing.html"].startswith("watches")
    assert skills["lumen-live"]["path"] == "skills/lumen-live/SKILL.md"
    assert "- **lumen-live** (`skills/lumen-live/SKILL.md`)" in md


def test_gaps_are_new_pages_no_skill_covers(crawled_demo):
    md, data = crawled_demo.markdown(UPDATE_DATE), crawled_demo.data(UPDATE_DATE)

    # async.html is watched by "lumen-live"; json_apis.html is watched and mentioned by nobody.
    pages = [g["url"].rsplit("/", 1)[-1] for g in data["gaps"] if g["kind"] == "page"]
    assert pages == ["json_apis.html"]
    assert "no skill watches or mentions it" in md


def test_recrawl_uses_conditional_requests_and_downloads_almost_nothing(config, site, tmp_path):
    run(config, tmp_path, DAY1)
    site.reset_log()
    outcome, _, data = run(config, tmp_path, DAY1)

    requests = [e for e in site.log.requests() if e.path != "/robots.txt"]
    # Every guide page answered 304, the main pages (guides too) once for both uses; an
    # unchanged main page means an unchanged build, so neither the root stub nor the
    # sidebar file (named by its digest) was asked for again.
    assert {e.status for e in requests} == {304}
    assert sorted(e.path for e in requests) == sorted(
        f"/{package}/{page}" for package, pages in GUIDES.items() for page in pages)
    assert data["changes"] == []
    assert outcome.pages_checked == 8


def test_the_main_page_is_asked_for_once_for_discovery_and_as_a_guide(config, site, tmp_path):
    # The root stub names the main page (a guide page too): one request serves both,
    # on the first crawl (200) and on the next one (304), as HTML or next to a .md twin.
    for version, date in (("v1", DAY1), ("v1", DAY1), ("v2", DAY2), ("v2", DAY2)):
        site.set_version(version)
        site.reset_log()
        run(config, tmp_path, date)
        asked = [(e.method, e.path) for e in site.log.requests()]
        assert len(asked) == len(set(asked)), sorted(asked)
        assert ("GET", "/lumen/overview.html") in asked


def test_an_index_remembered_from_another_build_of_the_main_page_is_read_again(
        config, site, database_url):
    # The main page answers 304 to the page's own validators, but the remembered index
    # facts belong to other validators (another build): they are read again, and nothing
    # is reported as changed.
    run(config, database_url, DAY1)
    remembered = query(database_url, "SELECT target, state FROM target_states "
                                     "WHERE source = 'lumen-docs'")
    assert len(remembered) == 2  # a row per package root
    updates = []
    for target, index in remembered:
        index = json.loads(index) if isinstance(index, str) else index
        index["main"] = ['"another-build"', None]
        updates.append("UPDATE target_states SET state = '{}' WHERE target = '{}'".format(
            json.dumps(index).replace("'", "''"), target))
    execute(database_url, *updates)
    site.reset_log()
    outcome, _, data = run(config, database_url, DAY1)

    assert site.log.statuses("/lumen/overview.html") == [304, 200]
    assert outcome.pages_checked == 8 and outcome.errors == 0
    assert data["changes"] == []


def test_same_date_rerun_keeps_the_first_runs_findings(config, site, database_url):
    run(config, database_url, DAY1)
    site.set_version("v2")
    run(config, database_url, DAY2)
    _, md, data = run(config, database_url, DAY2)  # nothing new since the previous run

    assert len(data["changes"]) == 7
    assert [r["status"] for r in data["runs"]] == ["completed", "completed"]
    assert "(2 runs this day)" in md


def test_markdown_twin_is_preferred_when_exdoc_publishes_it(config, site, tmp_path):
    run(config, tmp_path, DAY1)
    site.set_version("v2")
    site.reset_log()
    run(config, tmp_path, DAY2)

    gets = {e.path for e in site.log.requests() if e.method == "GET"}
    heads = {e.path for e in site.log.requests() if e.method == "HEAD"}
    assert "/lumen_live/bindings.md" in gets and "/lumen_live/bindings.html" not in gets
    # The page readers open is checked with a HEAD: a broken page is reported.
    assert "/lumen_live/bindings.html" in heads
    assert "/lumen/routing.html" in gets and "/lumen/routing.md" not in gets


def test_snapshots_are_stored_only_when_content_changes(config, site, database_url):
    run(config, database_url, DAY1)
    run(config, database_url, DAY1)
    site.set_version("v2")
    run(config, database_url, DAY2)

    per_page = dict(query(
        database_url, "select p.url, count(s.id) from pages p join snapshots s "
        "on s.page_id = p.id group by p.url"))
    base = site.base_url
    assert per_page[f"{base}/lumen/overview.html"] == 1
    assert per_page[f"{base}/lumen/routing.html"] == 2
    assert per_page[f"{base}/lumen/json_apis.html"] == 1
    assert query(database_url, "select version_num from alembic_version")[0][0]


def test_a_page_that_fails_is_a_fetch_problem_never_a_removal(config, site, tmp_path):
    from crawler.demo.server import Fault

    run(config, tmp_path, DAY1)
    site.set_fault("/lumen/routing.html", Fault(kind="status", status=404))
    outcome, md, data = run(config, tmp_path, DAY2)

    assert data["changes"] == []
    assert [(e["url"].rsplit("/", 1)[-1], e["status"]) for e in data["errors"]] == [
        ("routing.html", 404)]
    assert "routing.html" in md.split("## Fetch problems")[1]
    assert outcome.status == "completed" and not outcome.all_failed


def test_every_fetch_failing_is_reported_as_failure(config, site, tmp_path):
    from crawler.demo.server import Fault

    site.set_fault("*", Fault(kind="status", status=404))
    outcome, md, data = run(config, tmp_path, DAY1)

    assert outcome.all_failed
    assert len(data["errors"]) == 2  # both package indexes
    assert "package index: HTTP 404" in md


# -- stopping a run: an event, never a signal ------------------------------------------------

def _handlers() -> dict:
    import signal

    return {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}


def _watching(stop=None, after: int = 0):
    """A progress hook noting the signal handlers in force each time a page is checked;
    with ``stop``, another thread sets it once ``after`` pages are checked."""
    import threading

    from crawler.pipeline import Progress

    class Watching(Progress):
        def __init__(self) -> None:
            self.checked = 0
            self.handlers_seen: list[dict] = []

        def advanced(self, source: str) -> None:
            self.handlers_seen.append(_handlers())
            self.checked += 1
            if stop is not None and self.checked == after:
                threading.Thread(target=stop.set).start()

    return Watching()


def test_a_stop_set_from_another_thread_ends_the_run_between_pages_as_interrupted(
        config, site, database_url):
    import threading

    from crawler.demo.server import Fault
    from crawler.types import RunStatus

    # One page answers only after a minute: the run cannot end before it is stopped.
    site.set_fault("/lumen/routing.html", Fault(kind="delay", seconds=60))
    stop = threading.Event()
    progress = _watching(stop, after=3)

    outcome = crawl(config, date=DAY1, database=database_url, progress=progress, stop=stop)

    assert outcome.status == RunStatus.INTERRUPTED
    assert 3 <= outcome.pages_checked == progress.checked < 8
    assert [tuple(row) for row in query(database_url, "select status, message from runs")] == [
        ("interrupted", "stopped on request before every page was checked")]
    assert query(database_url, "select count(*) from run_lock")[0][0] == 0
    # Every page it finished is stored; the one in flight was abandoned, not half-written.
    stored = [url.rsplit("/", 1)[-1] for (url,) in query(
        database_url, "select url from pages where id in (select page_id from snapshots)")]
    assert len(stored) == outcome.pages_checked
    assert "routing.html" not in stored
    md, js = outcome.report_paths[:2]
    assert json.loads(js.read_text())["interrupted"] is True
    assert "This run was interrupted" in md.read_text()

    site.set_fault("/lumen/routing.html", None)  # the next run completes the baseline
    assert crawl(config, date=DAY2, database=database_url).status == RunStatus.COMPLETED


def test_a_crawl_leaves_the_signal_handlers_as_it_found_them(config, tmp_path):
    import signal
    import threading

    def ours(_signum, _frame) -> None:  # a handler of the application's own
        pass

    previous = signal.signal(signal.SIGTERM, ours)
    try:
        before = _handlers()
        progress = _watching()
        completed = crawl(config, date=DAY1, database=db_url(tmp_path), progress=progress)
        stopped = threading.Event()
        stopped.set()  # set before it starts: stopped before the first page
        interrupted = crawl(config, date=DAY2, database=db_url(tmp_path), stop=stopped)
        after = _handlers()
    finally:
        signal.signal(signal.SIGTERM, previous)

    assert completed.status == "completed" and interrupted.status == "interrupted"
    assert interrupted.pages_checked == 0 and interrupted.report_paths
    assert progress.handlers_seen and all(seen == before for seen in progress.handlers_seen)
    assert after == before and before[signal.SIGTERM] is ours


def test_every_problem_docwatch_reports_is_a_docwatch_error(config, tmp_path):
    from crawler.config import ConfigError
    from crawler.demo.run import DemoDirectoryInUse
    from crawler.errors import DocwatchError
    from crawler.history import HistoryError
    from crawler.http import ConnectionFailed, FetchError
    from crawler.init import StarterExists
    from crawler.store.lock import RunLocked

    with pytest.raises(DocwatchError, match="file not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(DocwatchError, match="no source named 'nope'"):
        crawl(config, date=DAY1, sources=["nope"], database=db_url(tmp_path))
    assert all(issubclass(error, DocwatchError) for error in (
        ConfigError, RunLocked, HistoryError, FetchError, ConnectionFailed, StarterExists,
        DemoDirectoryInUse))


def test_a_keyboard_interrupt_from_the_callers_handler_records_the_run_as_interrupted(
        config, database_url):
    from crawler.pipeline import Progress

    class Interrupting(Progress):  # Python's default SIGINT handler, raising mid-run
        def advanced(self, source: str) -> None:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        crawl(config, date=DAY1, database=database_url, progress=Interrupting())

    assert [tuple(row) for row in query(database_url, "select status, message from runs")] == [
        ("interrupted", "stopped by KeyboardInterrupt before every page was checked")]
    assert query(database_url, "select count(*) from run_lock")[0][0] == 0


def test_a_source_that_crashes_fails_alone_and_the_report_is_written(tmp_path, site,
                                                                      monkeypatch):
    from crawler.sources import SOURCE_KINDS
    from crawler.sources.base import BaseSource, Document, SourceConfig

    class BrokenConfig(SourceConfig):
        kind: str = "broken"

    class BrokenSource(BaseSource):
        """A kind with a bug: it yields one page, then raises."""

        kind = "broken"
        Config = BrokenConfig

        async def crawl_one(self, ctx, target, emit) -> None:
            await emit(Document(target, "First", "# First\n", target))
            raise RuntimeError("a bug in this kind")

    monkeypatch.setitem(SOURCE_KINDS, "broken", BrokenSource)
    path = write_demo_config(tmp_path, site.base_url, sources=(
        "  - name: flaky\n    kind: broken\n    urls: [https://flaky.invalid/a.html]\n"))

    outcome = crawl(load_config(path), date=DAY1, database=db_url(tmp_path))

    from crawler.types import RunStatus

    assert outcome.status == RunStatus.COMPLETED
    assert outcome.tallies["lumen-docs"].errors == 0 and outcome.tallies["lumen-docs"].checked
    data = json.loads(outcome.report_paths[1].read_text())
    [problem] = [e for e in data["errors"] if e["source"] == "flaky"]
    assert problem["error"] == ("docwatch could not crawl this source (RuntimeError: a bug in "
                                "this kind); the other sources were crawled")


def test_a_skill_file_broken_during_the_run_skips_that_skill_only(tmp_path, site):
    # A copy of the demo's skill, as a second skill; both files are UTF-8 when the
    # configuration is read, then the copy is overwritten (an editor saving Latin-1).
    copy = tmp_path / "skills" / "lumen-copy" / "SKILL.md"
    copy.parent.mkdir(parents=True)
    path = write_demo_config(tmp_path, site.base_url, skills=(
        "  - name: lumen-copy\n    path: skills/lumen-copy/SKILL.md\n"
        f'    watches: ["{site.base_url}/lumen_live/*"]\n'))
    copy.write_text((tmp_path / "skills" / "lumen-live" / "SKILL.md").read_text())
    config = load_config(path)
    crawl(config, date=DAY1, database=db_url(tmp_path))
    site.set_version("v2")
    copy.write_bytes(copy.read_bytes() + "\nCafé\n".encode("latin-1"))

    outcome = crawl(config, date=DAY2, database=db_url(tmp_path))

    # The run, its report and every other skill go on; the broken file is not read.
    assert outcome.status == "completed" and outcome.changed
    data = json.loads(outcome.report_paths[1].read_text())
    assert [skill["name"] for skill in data["skills"]] == ["lumen-live", "lumen-routing",
                                                           "lumen-copy"]
    assert [tuple(row) for row in query(db_url(tmp_path), "select run_date, skill from "
                                        "skill_checks order by run_date, skill")] == [
        ("2024-01-02", "lumen-copy"), ("2024-01-02", "lumen-live"),
        ("2024-02-02", "lumen-live")]
