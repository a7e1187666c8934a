"""Bounded history: ``docwatch prune`` and ``docwatch stats``.

A tiny ExDoc-shaped package ("quill") is crawled on six dates, one week apart; its
"Forms" guide gets one small real edit each week (v1..v6), its "Overview" never changes.
A second source watches one plain page that never changes either. Every test works on a
copy of that project, so the crawls run once for the module (once per database kind:
SQLite, then PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import copy_database, new_database_url, query
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from crawler.cli import cli
from crawler.config import Config, load_config
from crawler.demo.server import DocServer
from crawler.pipeline import crawl
from crawler.store.db import open_database
from crawler.store.models import Change, Page, Run, Snapshot
from crawler.store.prune import prune, stats

DAYS = [dt.date(2024, 4, 1) + dt.timedelta(weeks=i) for i in range(7)]

FORMS = [
    "# Forms",
    "Quill renders forms from a changeset. Each field is drawn by Quill.Form.input/3, which "
    "picks the right HTML input from the type of the schema field.",
    "## Text fields",
    "Text inputs accept up to 255 characters unless the schema says otherwise. Longer values "
    "are cut by the browser before they ever reach the server.",
    "Labels are generated from the field name; pass a label option to override them, for "
    "example when the field name is an abbreviation.",
    "## Validation",
    "Validation runs on the server on every change event, and errors are shown next to "
    "each field.",
    "Change events are sent with a debounce of 300 milliseconds, so fast typing does not "
    "flood the server with requests.",
    "## Submitting",
    "Submit buttons are disabled while the form is sent.",
    "A successful submit redirects to the page given by the return_to option, or reloads "
    "the form with a flash message when there is none.",
]
# Each week one small real edit, on top of the previous ones. The form generator task
# appears in week 2 and is gone again from week 4 on.
EDITS = [
    ("Labels are generated", "Run `mix quill.gen.form` to generate a form module. Labels "
     "are generated"),
    ("shown next to each field.", "shown next to each field and summarised at the top."),
    ("Run `mix quill.gen.form` to generate a form module. ", ""),
    ("disabled while the form is sent.",
     "disabled while the form is sent and enabled again when the server answers."),
    ("debounce of 300 milliseconds", "debounce of 150 milliseconds"),
]
OVERVIEW = ["# Overview", "Quill is a small library for server-rendered forms. It turns "
            "changesets into accessible HTML and keeps validation on the server, where the "
            "rules already live."]
NOTES = ("<html><head><title>Release notes</title></head><body><main><h1>Release notes"
         "</h1><p>Quill 3.1 is the current release; it needs Elixir 1.16 or later.</p>"
         "</main></body></html>")
SIDEBAR = ('sidebarNodes={"extras":[{"id":"overview","title":"Overview","group":"Guides"},'
           '{"id":"forms","title":"Forms","group":"Guides"}],"modules":[],"tasks":[]}')


def forms_text(version: int) -> list[str]:
    text = "\n".join(FORMS)
    for old, new in EDITS[: version - 1]:
        assert old in text
        text = text.replace(old, new)
    return text.split("\n")


def page_html(lines: list[str]) -> str:
    lines = [re.sub(r"`([^`]+)`", r'<code class="inline">\1</code>', line) for line in lines]
    body = "\n".join(f"<h1>{line[2:]}</h1>" if line.startswith("# ")
                     else f"<h2>{line[3:]}</h2>" if line.startswith("## ")
                     else f"<p>{line}</p>" for line in lines)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{lines[0][2:]} — Quill v3.1.0</title>
<script src="dist/sidebar_items-5E1D0C.js"></script></head>
<body><nav class="sidebar">Quill</nav>
<main class="content"><div id="content"><div id="top-content">
{body}
</div><footer class="footer">Built using ExDoc</footer></div></main></body></html>
"""


def write_site(root: Path) -> None:
    for version in range(1, 7):
        package = root / f"v{version}" / "quill"
        (package / "dist").mkdir(parents=True)
        (package / "index.html").write_text(
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta http-equiv="refresh" content="0; url=overview.html"></head>'
            "<body></body></html>\n")
        (package / "dist" / "sidebar_items-5E1D0C.js").write_text(SIDEBAR)
        (package / "overview.html").write_text(page_html(OVERVIEW))
        (package / "forms.html").write_text(page_html(forms_text(version)))
        (root / f"v{version}" / "notes.html").write_text(NOTES)


SKILL = """---
name: quill-forms
---
# Quill forms

Generate the form module with `mix quill.gen.form`, then render each field with
`Quill.Form.input/3`.
"""


def write_config(folder: Path, base: str, history: str = "") -> Path:
    skill = folder / "skills" / "quill-forms" / "SKILL.md"
    if not skill.exists():
        skill.parent.mkdir(parents=True)
        skill.write_text(SKILL, encoding="utf-8")
    path = folder / "sources.yaml"
    path.write_text(f"""\
report:
  title: "Quill Watch"
  dir: reports
{history}
sources:
  - name: docs
    kind: exdoc
    urls: [{base}/quill/]
  - name: notes
    kind: page
    urls: [{base}/notes.html]
skills:
  - name: quill-forms
    path: skills/quill-forms/SKILL.md
    watches: ["{base}/quill/*"]
""", encoding="utf-8")
    return path


@dataclass
class Project:
    folder: Path
    base: str
    database: str

    @property
    def forms_url(self) -> str:
        return f"{self.base}/quill/forms.html"

    def configure(self, history: str = "") -> Config:
        return load_config(write_config(self.folder, self.base, history))

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--db", self.database])

    def engine(self) -> Engine:
        return open_database(self.database)

    def snapshot_dates(self, url: str) -> list[dt.date]:
        """The run dates of the stored snapshots of ``url``, oldest first."""
        engine = self.engine()
        try:
            with Session(engine) as session:
                return list(session.scalars(
                    select(Run.run_date).join(Snapshot, Snapshot.run_id == Run.id)
                    .join(Page, Page.id == Snapshot.page_id).where(Page.url == url)
                    .order_by(Snapshot.id)))
        finally:
            engine.dispose()

    def snapshot_count(self) -> int:
        return query(self.database, "SELECT count(*) FROM snapshots")[0][0]

    def changes(self) -> dict[dt.date, dict]:
        """The forms guide's changes by date: what a report of that date shows."""
        engine = self.engine()
        try:
            with Session(engine) as session:
                rows = session.execute(
                    select(Change, Run.run_date).join(Run, Change.run_id == Run.id)
                    .join(Page, Page.id == Change.page_id).where(Page.url == self.forms_url))
                return {day: {"kind": c.kind, "summary": c.summary, "details": c.details,
                              "old": c.old_snapshot_id, "new": c.new_snapshot_id}
                        for c, day in rows}
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[DocServer]:
    root = tmp_path_factory.mktemp("quill-site")
    write_site(root)
    with DocServer(root=root, version="v1") as server:
        yield server


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, site: DocServer, database_kind: str,
            request: pytest.FixtureRequest) -> Project:
    folder = tmp_path_factory.mktemp("quill")
    project = Project(folder, site.base_url, new_database_url(database_kind, request, folder))
    config = project.configure()
    engine = project.engine()
    try:
        for version, day in enumerate(DAYS[:6], start=1):
            site.set_version(f"v{version}")
            outcome = crawl(config, date=day, engine=engine)
            assert outcome.status == "completed" and outcome.errors == 0
    finally:
        engine.dispose()
    return project


@pytest.fixture
def project(crawled: Project, tmp_path: Path, request: pytest.FixtureRequest) -> Project:
    target = tmp_path / "project"
    shutil.copytree(crawled.folder, target, ignore=shutil.ignore_patterns("db.sqlite3*"))
    return Project(target, crawled.base, copy_database(crawled.database, request, target))


KEEP_TWO = "history: {keep: 2}"


def test_the_crawls_stored_one_snapshot_per_version(crawled):
    assert crawled.snapshot_dates(crawled.forms_url) == DAYS[:6]
    assert crawled.snapshot_count() == 8  # + overview + the notes page
    assert [c["kind"] for c in crawled.changes().values()] == ["modified"] * 5


# -- what prune keeps -----------------------------------------------------------------------


def test_prune_keeps_first_latest_and_what_the_kept_reports_need(project):
    config = project.configure(KEEP_TWO)
    engine = project.engine()
    try:
        result = prune(engine, config, today=DAYS[5])
    finally:
        engine.dispose()

    # Reports of the 2 latest dates (weeks 5 and 6) need snapshots v4 (week 5's "before"),
    # v5 and v6; v1 is the first; v3, the last version teaching `mix quill.gen.form`, is the
    # evidence of a stale skill line. Only v2 can go.
    assert result.deleted == {"docs": 1, "notes": 0}
    assert result.kept_dates["docs"] == [DAYS[5], DAYS[4]]
    assert project.snapshot_dates(project.forms_url) == [DAYS[0], DAYS[2], DAYS[3], DAYS[4],
                                                         DAYS[5]]
    assert project.snapshot_dates(f"{project.base}/quill/overview.html") == [DAYS[0]]
    assert project.snapshot_dates(f"{project.base}/notes.html") == [DAYS[0]]


def test_batches_of_two_snapshots_prune_the_same(project):
    """Windows that split a page's versions (and both sources) decide as one would."""
    engine = project.engine()
    try:
        dry = prune(engine, project.configure(KEEP_TWO), today=DAYS[5], dry_run=True, batch=2)
        result = prune(engine, project.configure(KEEP_TWO), today=DAYS[5], batch=2)
    finally:
        engine.dispose()

    assert dry.deleted == result.deleted == {"docs": 1, "notes": 0}
    assert project.snapshot_dates(project.forms_url) == [DAYS[0], DAYS[2], DAYS[3], DAYS[4],
                                                         DAYS[5]]


def test_dry_run_deletes_nothing_but_says_how_much_would_go(project):
    project.configure(KEEP_TWO)

    result = project.cli("prune", "--dry-run", "--config", str(project.folder / "sources.yaml"))

    assert result.exit_code == 0, result.output
    assert "docs: would delete 1 snapshot; kept the reports of 2 dates" in result.stdout
    assert "notes: would delete 0 snapshots" in result.stdout
    assert project.snapshot_count() == 8
    assert project.snapshot_dates(project.forms_url) == DAYS[:6]


def test_prune_command_deletes_and_reports_the_database_size(project):
    project.configure(KEEP_TWO)

    result = project.cli("prune", "--config", str(project.folder / "sources.yaml"))

    assert result.exit_code == 0, result.output
    assert "docs: deleted 1 snapshot; kept the reports of 2 dates" in result.stdout
    assert "database: " in result.stdout and " bytes" in result.stdout
    assert project.snapshot_count() == 7
    # A second prune finds nothing more to delete.
    again = project.cli("prune", "--config", str(project.folder / "sources.yaml"))
    assert "docs: deleted 0 snapshots" in again.stdout


def test_changes_of_pruned_dates_keep_summary_and_diff_without_snapshot_links(project):
    before = project.changes()
    project.configure(KEEP_TWO)
    assert project.cli("prune", "--config", str(project.folder / "sources.yaml")).exit_code == 0

    after = project.changes()
    for day in DAYS[1:6]:
        assert after[day]["summary"] == before[day]["summary"]
        assert after[day]["details"] == before[day]["details"]
    assert "mix quill.gen.form" in after[DAYS[1]]["details"]["diff"]
    # Week 2: v1 -> v2 (v2 gone); week 3: v2 -> v3 (v3 kept as evidence); week 4: v3 -> v4.
    assert after[DAYS[1]]["old"] == before[DAYS[1]]["old"] and after[DAYS[1]]["new"] is None
    assert after[DAYS[2]]["old"] is None and after[DAYS[2]]["new"] == before[DAYS[2]]["new"]
    for day in DAYS[3:6]:
        assert after[day] == before[day]


def test_old_reports_still_render_after_prune(project):
    config_path = str(project.folder / "sources.yaml")
    project.configure(KEEP_TWO)
    report_json = project.folder / "reports" / f"{DAYS[2]}-quill-watch.json"

    def render(day: dt.date) -> tuple[str, dict]:
        result = project.cli("report", "--date", day.isoformat(), "--config", config_path)
        assert result.exit_code == 0, result.output
        md = (project.folder / "reports" / f"{day}-quill-watch.md").read_text(encoding="utf-8")
        return md, json.loads(report_json.read_text(encoding="utf-8"))

    _, before = render(DAYS[2])
    assert project.cli("prune", "--config", config_path).exit_code == 0
    md, after = render(DAYS[2])

    assert after["changes"] == before["changes"]
    [change] = after["changes"]
    assert change["change"] == "modified" and change["url"] == project.forms_url
    assert "summarised at the top" in change["diff"]
    assert "summarised at the top" in md and "```diff" in md


def test_history_and_diff_still_work_after_prune(project):
    project.configure(KEEP_TWO)
    assert project.cli("prune", "--config", str(project.folder / "sources.yaml")).exit_code == 0

    history = project.cli("history", project.forms_url)

    assert history.exit_code == 0, history.output
    rows = [line for line in history.stdout.splitlines() if line[:4] == "2024"]
    assert [row.split()[0] for row in rows] == [d.isoformat() for d in DAYS[:6]]
    assert rows[0].split()[-1] == "baseline"
    assert all("modified: +1 -1 lines in 1 section(s)" in row for row in rows[1:])
    # Pruned versions show no snapshot; the kept ones still do.
    assert [row.split()[2] == "-" for row in rows] == [False, True, False, False, False, False]
    # The kept versions are still there to read and compare.
    shown = project.cli("show", project.forms_url, "--at", DAYS[3].isoformat())
    assert shown.exit_code == 0 and "summarised at the top" in shown.stdout
    assert "quill.gen.form" not in shown.stdout
    diff = project.cli("diff", project.forms_url, "--from", DAYS[4].isoformat(), "--no-color")
    assert diff.exit_code == 0
    assert "+Change events are sent with a debounce of 150 milliseconds" in diff.stdout


# -- policies ---------------------------------------------------------------------------------


def test_without_a_history_policy_prune_deletes_nothing_and_says_so(project):
    config = project.configure()

    result = project.cli("prune", "--config", str(project.folder / "sources.yaml"))

    assert result.exit_code == 0, result.output
    assert "no `history:` policy is set in the configuration: nothing to prune" in result.stdout
    assert project.snapshot_count() == 8
    engine = project.engine()
    try:
        assert prune(engine, config).total_deleted == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize(("history", "source_history", "deleted"), [
    # v3 always stays: the last version teaching `mix quill.gen.form` (stale-line evidence).
    ("history: {max_age_days: 10}", "", 1),  # weeks 5 and 6 are within 10 days of week 6
    ("", "    history: {keep: 1}\n", 2),  # the source's own policy, none globally
    ("history: {keep: 5}", "", 0),  # every report kept: nothing to delete
])
def test_age_and_per_source_policies(project, history, source_history, deleted):
    path = write_config(project.folder, project.base, history)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    urls: [" + project.base + "/quill/]\n",
                                 "    urls: [" + project.base + "/quill/]\n" + source_history),
                    encoding="utf-8")
    engine = project.engine()
    try:
        result = prune(engine, load_config(path), today=DAYS[5])
    finally:
        engine.dispose()

    assert result.deleted["docs"] == deleted
    dates = project.snapshot_dates(project.forms_url)
    assert dates[0] == DAYS[0] and dates[-1] == DAYS[5] and len(dates) == 6 - deleted


def test_prune_after_run_prunes_when_the_crawl_finishes(project, site):
    config = project.configure("history: {keep: 2, prune_after_run: true}")
    site.set_version("v1")  # week 7: the guide is back to its first text

    crawl(config, date=DAYS[6], database=project.database)

    # Kept: the reports of weeks 6 and 7 (v5 -> v6 and v6 -> v1 again), the first, the
    # latest, and v3 (the evidence of a removed mix task).
    assert project.snapshot_dates(project.forms_url) == [DAYS[0], DAYS[2], DAYS[4], DAYS[5],
                                                         DAYS[6]]


# -- stats ------------------------------------------------------------------------------------


def test_stats_lists_pages_snapshots_and_bytes_per_source(project):
    engine = project.engine()
    try:
        rows = {r.source: r for r in stats(engine)}
    finally:
        engine.dispose()

    assert set(rows) == {"docs", "notes"}
    assert (rows["docs"].pages, rows["docs"].snapshots) == (2, 7)
    assert (rows["notes"].pages, rows["notes"].snapshots) == (1, 1)
    # Snapshots are stored compressed: realistic guide text shrinks.
    assert 0 < rows["docs"].stored_bytes < rows["docs"].text_bytes

    result = project.cli("stats")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:]}
    assert lines["docs"][:3] == ["2", "0", "7"]
    assert lines["notes"][:3] == ["1", "0", "1"]
    assert lines["total"][:3] == ["3", "0", "8"]


def test_stats_shrink_after_prune(project):
    project.configure(KEEP_TWO)
    assert project.cli("prune", "--config", str(project.folder / "sources.yaml")).exit_code == 0

    result = project.cli("stats")

    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:]}
    assert lines["docs"][:3] == ["2", "0", "6"]


# -- stale skill lines ------------------------------------------------------------------------


def skills_check(project: Project) -> Result:
    return project.cli("skills", "check", "--config", str(project.folder / "sources.yaml"))


def test_skills_check_flags_the_task_the_docs_stopped_teaching(project):
    project.configure(KEEP_TWO)

    result = skills_check(project)

    assert result.exit_code == 1, result.output
    assert "SKILL.md:6: mix quill.gen.form was removed" in result.stdout


def test_prune_keeps_the_evidence_of_removed_terms(project):
    project.configure(KEEP_TWO)
    before = skills_check(project)
    assert project.cli("prune", "--config", str(project.folder / "sources.yaml")).exit_code == 0

    after = skills_check(project)

    assert after.exit_code == 1
    assert "SKILL.md:6: mix quill.gen.form was removed" in after.stdout
    assert after.stdout == before.stdout


def test_show_at_a_pruned_date_does_not_pass_an_older_text_off_as_current(project):
    project.configure(KEEP_TWO)
    assert project.cli("prune", "--config", str(project.folder / "sources.yaml")).exit_code == 0

    shown = project.cli("show", project.forms_url, "--at", DAYS[1].isoformat())

    # Week 2's text (it had the generator sentence) is gone: said so, nothing passed off.
    assert shown.exit_code == 1
    assert shown.stdout == ""
    assert shown.stderr == (f"error: the version of {project.forms_url} current on {DAYS[1]} was "
                            f"pruned (found on {DAYS[1]}); the nearest kept one before it is "
                            f"from {DAYS[0]}\n")


# -- a long history ---------------------------------------------------------------------------


def write_long_history(url: str, pages: int, runs: int) -> None:
    """``pages`` pages of a source ``long``, each changed on every one of ``runs`` dates."""
    engine = open_database(url)
    text = "Quill renders forms from a changeset. " * 20
    try:
        with Session(engine) as session, session.begin():
            session.execute(insert(Run), [
                {"id": r, "run_date": DAYS[0] + dt.timedelta(days=r), "status": "completed",
                 "sources": ["long"]} for r in range(1, runs + 1)])
            session.execute(insert(Page), [
                {"id": p, "source": "long", "url": f"https://long.example/{p}.html",
                 "first_seen_run_id": 1, "last_seen_run_id": runs} for p in range(1, pages + 1)])
            for r in range(1, runs + 1):
                first = (r - 1) * pages
                session.execute(insert(Snapshot), [
                    {"id": first + p, "page_id": p, "run_id": r, "content_hash": f"{r}-{p}",
                     "content": f"{text}{r}", "fetched_url": f"https://long.example/{p}.html"}
                    for p in range(1, pages + 1)])
                if r > 1:
                    session.execute(insert(Change), [
                        {"run_id": r, "report_run_id": r, "page_id": p, "kind": "modified",
                         "old_snapshot_id": first - pages + p, "new_snapshot_id": first + p}
                        for p in range(1, pages + 1)])
            session.execute(update(Page).values(latest_snapshot_id=(runs - 1) * pages + Page.id))
    finally:
        engine.dispose()


def test_prune_of_a_long_history_holds_a_batch_in_memory_not_the_history(
        database_kind, request, tmp_path):
    """Four times the history, no more memory: the snapshots are examined and deleted a
    batch at a time (a prune that gathered its doomed ids first needed 1.5 MB more)."""
    config_path = tmp_path / "sources.yaml"
    config_path.write_text("history: {keep: 2}\nsources:\n  - name: long\n    kind: page\n"
                           "    urls: [https://long.example/1.html]\nskills: []\n")
    config = load_config(config_path)
    peaks = []
    for runs in (40, 160):
        folder = tmp_path / str(runs)
        folder.mkdir()
        url = new_database_url(database_kind, request, folder)
        write_long_history(url, pages=50, runs=runs)
        engine = open_database(url)
        tracemalloc.start()
        try:
            result = prune(engine, config, today=DAYS[0] + dt.timedelta(days=runs), batch=250)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
            engine.dispose()
        # Each page keeps its first snapshot and the three the two kept reports show.
        assert result.deleted == {"long": 50 * (runs - 4)}
        assert query(url, "SELECT count(*) FROM snapshots")[0][0] == 50 * 4
        assert query(url, "SELECT count(*) FROM changes WHERE new_snapshot_id IS NULL")[0][0] \
            == 50 * (runs - 4)
    small, large = peaks
    assert large < small + 300_000, peaks
