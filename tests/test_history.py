"""The reading commands (report, runs, history, show, diff) over a real crawl history.

The bundled site is crawled into real SQLite and real PostgreSQL (through the
migrations) at v1 on 2024-01-01 and v2 on 2024-02-01; crawler/demo/site/README.md lists
what changed. Every test drives the ``docwatch`` command line and checks what the user
reads.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import new_database_url, write_config

from crawler.cli import cli
from crawler.config import load_config
from crawler.demo.server import DocServer
from crawler.pipeline import crawl

DAY1, DAY2, DAY3 = dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)


class Project:
    """A directory with a sources.yaml, a database and the reports of its crawls."""

    def __init__(self, directory: Path, base: str, db: str | None = None):
        self.dir = directory
        self.base = base
        self.config_path = directory / "sources.yaml"
        self.db = db or f"sqlite:///{directory / 'docwatch.sqlite3'}"

    @classmethod
    def crawled(cls, directory: Path, server: DocServer,
                versions: list[tuple[str, dt.date]], db: str | None = None) -> Project:
        """The demo's configuration for ``server``, crawled at each (version, date) into
        ``db`` (default: a SQLite file in ``directory``)."""
        project = cls(directory, server.base_url, db)
        config = load_config(write_config(directory, server.base_url))
        for version, date in versions:
            server.set_version(version)
            crawl(config, date=date, database=project.db)
        return project

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, [*args, "--db", self.db])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def report(self, *args: str) -> Result:
        return self.run("report", "--config", str(self.config_path), *args)


@pytest.fixture(scope="module")
def project(database_kind, request, tmp_path_factory) -> Project:
    """The demo project (v1 on 2024-01-01, v2 on 2024-02-01), copied: report writes to it.
    On PostgreSQL the same two runs, crawled into a database of the session's server."""
    folder = tmp_path_factory.mktemp("history") / "demo"
    if database_kind == "sqlite":
        copy = request.getfixturevalue("crawled_demo").copy_to(folder)
        return Project(copy.folder, copy.base_url)
    folder.mkdir()
    with DocServer(version="v1") as server:
        return Project.crawled(folder, server, [("v1", DAY1), ("v2", DAY2)],
                               db=new_database_url(database_kind, request, folder))


def lines(text: str) -> list[str]:
    return [line.split() for line in text.strip().splitlines()]


# -- report ---------------------------------------------------------------------------


def test_report_date_rewrites_the_crawls_own_report_identically(project):
    md, js = (project.dir / "reports" / f"2024-02-01-lumen-docs-research{suffix}"
              for suffix in (".md", ".json"))
    original = {md: md.read_text(), js: js.read_text()}
    for path in original:
        path.unlink()

    result = project.report("--date", "2024-02-01")

    assert result.exit_code == 0, result.output
    printed = result.stdout.splitlines()
    assert str(md) in printed and str(js) in printed
    assert {path: path.read_text() for path in original} == original
    assert "1 run, 7 changes, 2 skills to update" in result.stderr


def test_report_date_without_a_run_says_so(project):
    result = project.report("--date", "2024-01-15")

    assert result.exit_code == 1
    assert "no run recorded on 2024-01-15" in result.stderr
    assert not (project.dir / "reports" / "2024-01-15-lumen-docs-research.md").exists()


def test_report_needs_date_or_since(project):
    assert project.report().exit_code == 2
    assert project.report("--date", "2024-02-01", "--since", "2024-01-01").exit_code == 2


def test_report_since_covers_every_run_in_one_file(project):
    result = project.report("--since", "2024-01-01", "--until", "2024-02-01")

    assert result.exit_code == 0, result.output
    md = project.dir / "reports" / "2024-01-01--2024-02-01-lumen-docs-research.md"
    js = md.with_suffix(".json")
    assert result.stdout.splitlines() == [str(md), str(js), str(md.with_suffix(".html"))]
    text = md.read_text()
    assert text.startswith("# Lumen Docs Research — 2024-01-01 to 2024-02-01\n")
    assert "runs this day" not in text
    assert "**New pages**" in text and "JSON APIs" in text
    assert "**Removed pages**" in text and "Channels" in text
    data = json.loads(js.read_text())
    assert (data["since"], data["date"]) == ("2024-01-01", "2024-02-01")
    assert [r["id"] for r in data["runs"]] == [1, 2]
    assert len(data["changes"]) == 7
    assert [s["name"] for s in data["skills"]] == ["lumen-live", "lumen-routing"]
    routing = next(c for c in data["changes"] if c["url"].endswith("/routing.html"))
    assert routing["summary"] == "2024-02-01: +5 -1 lines in 2 section(s)"


def test_report_since_runs_until_today_by_default(project):
    result = project.report("--since", "2024-02-01")

    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert result.exit_code == 0, result.output
    md = project.dir / "reports" / f"2024-02-01--{today}-lumen-docs-research.md"
    assert result.stdout.splitlines()[0] == str(md)
    assert f"— 2024-02-01 to {today}" in md.read_text()


def test_report_since_lists_each_change_with_the_date_it_was_found(tmp_path, site):
    # v1 -> v2 -> v1: the third run undoes every change of the second.
    project = Project.crawled(tmp_path, site, [("v1", DAY1), ("v2", DAY2), ("v1", DAY3)])

    result = project.report("--since", "2024-02-01", "--until", "2024-03-01")

    assert result.exit_code == 0, result.output
    out = tmp_path / "reports"
    data = json.loads((out / "2024-02-01--2024-03-01-lumen-docs-research.json").read_text())
    routing = [c for c in data["changes"] if c["url"].endswith("/routing.html")]
    assert [c["summary"] for c in routing] == ["2024-02-01: +5 -1 lines in 2 section(s)",
                                               "2024-03-01: +1 -5 lines in 2 section(s)"]
    assert "+## Verified routes" in routing[0]["diff"]
    assert "-## Verified routes" in routing[1]["diff"]
    md = (out / "2024-02-01--2024-03-01-lumen-docs-research.md").read_text()
    assert "2024-03-01: +1 -5 lines in 2 section(s)" in md


def test_a_one_day_range_says_what_the_dated_report_says(project):
    project.report("--since", "2024-02-01", "--until", "2024-02-01")
    project.report("--date", "2024-02-01")

    out = project.dir / "reports"
    dated = (out / "2024-02-01-lumen-docs-research.md").read_text().splitlines()
    ranged = (out / "2024-02-01--2024-02-01-lumen-docs-research.md").read_text().splitlines()
    assert ranged[0] == "# Lumen Docs Research — 2024-02-01 to 2024-02-01"
    assert ranged[1:] == dated[1:]
    dated_data = json.loads((out / "2024-02-01-lumen-docs-research.json").read_text())
    ranged_data = json.loads((out / "2024-02-01--2024-02-01-lumen-docs-research.json").read_text())
    assert ranged_data.pop("since") == "2024-02-01"
    assert dated_data.pop("since") is None
    assert ranged_data == dated_data


# -- runs -----------------------------------------------------------------------------


def test_runs_lists_both_runs_newest_first(project):
    result = project.run("runs")

    assert result.exit_code == 0, result.output
    header, *rows = lines(result.stdout)
    assert header[:3] == ["id", "date", "status"]
    assert [row[:3] for row in rows] == [["2", "2024-02-01", "completed"],
                                         ["1", "2024-01-01", "completed"]]
    # checked, changed, errors follow the start time and duration.
    assert [row[6:9] for row in rows] == [["9", "7", "0"], ["8", "0", "0"]]


def test_runs_limit(project):
    result = project.run("runs", "--limit", "1")

    assert [row[0] for row in lines(result.stdout)[1:]] == ["2"]


def test_reading_a_missing_database_does_not_create_it(tmp_path):
    missing = tmp_path / "nope.sqlite3"

    result = CliRunner().invoke(cli, ["runs", "--db", f"sqlite:///{missing}"])

    assert result.exit_code == 1
    assert f"no database at {missing}" in result.stderr
    assert not missing.exists()


# -- history --------------------------------------------------------------------------


def test_history_of_a_modified_page_lists_both_snapshots(project):
    result = project.run("history", project.url("/lumen/routing.html"))

    assert result.exit_code == 0, result.output
    title, header, *rows = result.stdout.splitlines()
    assert title == f"{project.url('/lumen/routing.html')} (lumen-docs): Routing"
    assert header.split() == ["date", "run", "snapshot", "size", "change"]
    assert [row.split()[:2] for row in rows] == [["2024-01-01", "1"], ["2024-02-01", "2"]]
    assert rows[0].endswith("baseline")
    assert "modified: +5 -1 lines in 2 section(s)" in rows[1]
    hashes = [row.split()[2] for row in rows]
    assert len(set(hashes)) == 2 and all(len(h) == 10 for h in hashes)


def test_history_of_an_unchanged_page_has_one_snapshot(project):
    result = project.run("history", project.url("/lumen/overview.html"))

    rows = result.stdout.splitlines()[2:]
    assert len(rows) == 1 and rows[0].startswith("2024-01-01")


def test_history_of_a_removed_page_ends_with_its_removal(project):
    result = project.run("history", project.url("/lumen/channels.html"))

    title, _, first, last = result.stdout.splitlines()
    assert title.endswith("(lumen-docs, removed): Channels")
    assert first.split()[:2] == ["2024-01-01", "1"]
    assert last.split()[:4] == ["2024-02-01", "2", "-", "-"]
    assert last.endswith("removed: no longer listed by the package index")


@pytest.mark.parametrize("spelling", ["/lumen_live/bindings.md", "/lumen_live/bindings.html/",
                                      "/lumen_live/bindings.html#attributes"])
def test_history_accepts_the_markdown_twin_and_slash_variants(project, spelling):
    result = project.run("history", project.url(spelling))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{project.url('/lumen_live/bindings.html')} (lumen-docs)")
    assert len(result.stdout.splitlines()) == 4


def test_history_of_an_unknown_url_fails_clearly(project):
    result = project.run("history", project.url("/lumen/nothing.html"))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"error: no page {project.url('/lumen/nothing.html')} in the database" in result.stderr


# -- show -----------------------------------------------------------------------------


def test_show_prints_the_latest_text(project):
    result = project.run("show", project.url("/lumen/installation.html"))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Installation\n")
    assert "Lumen 2.0 requires Elixir 1.17 or later" in result.stdout
    assert "@ 2024-02-01 (run 2," in result.stderr


def test_show_at_an_earlier_date_prints_the_old_text(project):
    result = project.run("show", project.url("/lumen/installation.html"), "--at", "2024-01-31")

    assert result.exit_code == 0, result.output
    assert "Elixir 1.15 or later" in result.stdout
    assert "Elixir 1.17" not in result.stdout


def test_show_before_the_first_snapshot_fails(project):
    result = project.run("show", project.url("/lumen/json_apis.html"), "--at", "2024-01-01")

    assert result.exit_code == 1
    assert "no snapshot on or before 2024-01-01; the first is from 2024-02-01" in result.stderr


# -- diff -----------------------------------------------------------------------------


def test_diff_shows_the_latest_change_as_a_unified_diff(project):
    url = project.url("/lumen/routing.html")

    result = project.run("diff", url, "--no-color")

    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[0].startswith(f"--- {url} @ 2024-01-01 (")
    assert out[1].startswith(f"+++ {url} @ 2024-02-01 (")
    assert "+## Verified routes" in out
    assert any(line.startswith("-Pipelines may also be nested") for line in out)
    assert "\x1b[" not in result.stdout
    assert "+5 -1 lines in 2 section(s)" in result.stderr


def test_diff_colours_when_asked(project):
    result = project.run("diff", project.url("/lumen/routing.html"), "--color")

    assert "\x1b[32m+## Verified routes\x1b[0m" in result.stdout
    assert "\x1b[31m-Pipelines may also be nested" in result.stdout


def test_diff_between_dates_with_no_change_in_between(project):
    result = project.run("diff", project.url("/lumen/routing.html"),
                         "--from", "2024-01-01", "--to", "2024-01-31")

    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no difference between 2024-01-01 and 2024-01-01" in result.stderr


def test_diff_of_a_page_with_one_version(project):
    result = project.run("diff", project.url("/lumen/overview.html"))

    assert result.exit_code == 0
    assert result.stdout == ""
    assert "has a single version" in result.stderr
