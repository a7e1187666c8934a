"""The ``docwatch`` command line: a thin shell over the library.

``crawl`` runs :mod:`crawler.pipeline`; ``report``, ``runs``, ``history``, ``show`` and
``diff`` read the stored history through :mod:`crawler.history`; ``demo`` and ``init``
call :mod:`crawler.demo.run` and :mod:`crawler.init`.

Exit status of ``crawl``: 0 when a run completed (changes or not), 1 when no page could
be fetched, 2 when the configuration (or a command-line value) is invalid, 3 when another
run holds the database, 130 when interrupted. The reading commands exit 0 when they
showed what was asked, 1 when there is nothing to show (no database, an unknown URL,
no run on that date) and 2 on an invalid configuration or command-line value. Every
command exits 4, with one sentence, when the database itself cannot be used, and
``crawl`` and ``report`` exit 5 when the report folder takes no file (full, read-only).
``schedule`` exits 0 once stopped and 2 when its configuration is invalid at startup.

The library never touches the process: this module alone installs the SIGINT/SIGTERM
handlers (they set the ``stop`` event a run and the scheduler watch), declares the exit
statuses and exits. The exceptions it turns into messages are listed in
:mod:`crawler.errors`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import click

from crawler.config import DEFAULT_CONFIG, ConfigError, load_config
from crawler.diff import MAX_LINE
from crawler.store.db import DEFAULT_DATABASE, ENV_VAR
from crawler.types import ChangeKind, PageStatus, RunStatus

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from crawler.history import PageRef
    from crawler.pipeline import StopRequest

T = TypeVar("T")

# The exit statuses of every command, declared here only.
EXIT_OK, EXIT_ALL_FAILED, EXIT_CONFIG, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_DATABASE = 4  # the database itself failed (unreachable, full, read-only, not ours)
EXIT_REPORT = 5  # the report folder took no file (a full disk, read-only)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The signals that stop a run (between pages) or the scheduler.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

log = logging.getLogger(__name__)


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None
                ) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from None


# Options every command that reads the configuration or the database spells the same way.
_config_option = click.option(
    "--config", "config_path", type=click.Path(path_type=Path), default=DEFAULT_CONFIG,
    show_default=True, help="The sources.yaml to use.")
_db_option = click.option(
    "--db", "database", metavar="URL", envvar=ENV_VAR, show_envvar=True,
    help=f"SQLAlchemy database URL (default: {DEFAULT_DATABASE}).")


@contextlib.contextmanager
def _database_failures() -> Iterator[None]:
    """A failure of the database itself ends the command with one sentence and
    ``EXIT_DATABASE``, never a traceback; so does a report folder that takes no file
    (``EXIT_REPORT``)."""
    from sqlalchemy.exc import DBAPIError

    from crawler.report import ReportUnwritable
    from crawler.store.db import DatabaseUnusable, describe_database_error

    try:
        yield
    except DatabaseUnusable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_DATABASE)
    except ReportUnwritable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_REPORT)
    except DBAPIError as exc:
        click.echo(f"error: the database cannot be used: {describe_database_error(exc)} "
                   "(see --db / DOCWATCH_DATABASE_URL)", err=True)
        sys.exit(EXIT_DATABASE)


class _Commands(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        with _database_failures():
            return super().invoke(ctx)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="docwatch")
def cli() -> None:
    """docwatch: watch documentation sources and flag the skills that need an update."""


@cli.command("crawl")
@_config_option
@click.option("--source", "sources", multiple=True, metavar="NAME",
              help="Only crawl this source (repeatable).")
@click.option("--date", "run_date", callback=_parse_date, metavar="YYYY-MM-DD",
              help="The run's logical date (default: today, UTC).")
@click.option("--backfill", is_flag=True,
              help="Record a --date before the last run's (or far from today) anyway.")
@_db_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("-v", "--verbose", is_flag=True, help="Log each step.")
@click.option("--log-json", is_flag=True,
              help="Log to stderr as one JSON object per line (for log collectors).")
def crawl_command(config_path: Path, sources: tuple[str, ...], run_date: dt.date | None,
                  backfill: bool, database: str | None, quiet: bool, verbose: bool,
                  log_json: bool) -> None:
    """Crawl the sources, store snapshots, diff against the last run, write the report."""
    from crawler.pipeline import RunDateRefused, StopRequest, crawl

    level = logging.INFO if verbose else logging.WARNING
    if log_json:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLogFormatter())
        logging.basicConfig(level=level, handlers=[handler])
    else:
        logging.basicConfig(level=level, format=LOG_FORMAT)
    from crawler.store.lock import RunLocked

    say = _say_json if log_json else _say_plain
    interactive = not quiet and not log_json and sys.stderr.isatty()
    stop = StopRequest()
    with _stop_on_signals(stop):
        try:
            config = load_config(config_path)
            if stop.is_set():  # before the run started: nothing to record
                say("error", "interrupted")
                sys.exit(EXIT_INTERRUPTED)
            with _progress_bars(interactive) as progress:
                outcome = crawl(config, date=run_date, sources=list(sources) or None,
                                database=database, progress=progress, stop=stop,
                                backfill=backfill)
        except ConfigError as exc:
            _fail_config(exc, say)
        except RunDateRefused as exc:
            say("error", str(exc))
            sys.exit(EXIT_CONFIG)
        except RunLocked as exc:
            say("error", f"{exc}; not starting a second one")
            sys.exit(EXIT_LOCKED)
    if not quiet:
        for path in outcome.report_paths:
            click.echo(str(path))
        say("info", f"run {outcome.run_id} {outcome.status}: {outcome.pages_checked} pages "
                    f"checked, {outcome.changed} changed, {outcome.errors} errors",
            run_id=outcome.run_id, status=outcome.status, pages_checked=outcome.pages_checked,
            changed=outcome.changed, errors=outcome.errors,
            reports=[str(p) for p in outcome.report_paths])
    for problem in outcome.delivery_problems:
        say("warning", problem)  # the report is on disk; delivery never fails a run
    if outcome.status != RunStatus.INTERRUPTED and stop.is_set():
        # The signal came after the last page: the run and its report are complete.
        log.warning("signal %d received while the report was written: stopping now",
                    stop.signum)
    if outcome.status == RunStatus.INTERRUPTED or stop.is_set():
        sys.exit(EXIT_INTERRUPTED)
    if outcome.all_failed:
        say("error", "no page could be fetched (network?); see Fetch problems in the "
                     "report. To try docwatch offline: docwatch demo")
        sys.exit(EXIT_ALL_FAILED)


@cli.command("sources")
@_config_option
@click.option("--check", is_flag=True, help="Also check that every source's URLs answer.")
@click.option("--source", "sources", multiple=True, metavar="NAME",
              help="Only this source (repeatable).")
def sources_command(config_path: Path, check: bool, sources: tuple[str, ...]) -> None:
    """List the configured sources and skills; with --check, probe their URLs."""
    from crawler.sources import make_source

    config = _load(config_path)
    click.echo(f"{config_path}: {len(config.typed_sources)} sources, {len(config.skills)} skills")
    click.echo("\nSources:")
    for source in config.typed_sources:
        urls = make_source(source).probe_urls()
        click.echo(f"  {source.name} ({source.kind}): {len(urls)} URL{'s' * (len(urls) != 1)}")
        for url in urls:
            click.echo(f"    {url}")
    click.echo("\nSkills:")
    for skill in config.skills:
        where = f" [{skill.path}]" if skill.path else ""
        click.echo(f"  {skill.name}{where}: {len(skill.watches)} watches, "
                   f"keywords: {', '.join(skill.keywords) or '-'}")
    if not check:
        return
    from crawler.inventory import check_sources

    unknown = set(sources) - {s.name for s in config.typed_sources}
    if unknown:
        _fail_config(ConfigError([f"{config_path}: no source named {', '.join(sorted(unknown))}"]))
    results = check_sources(config, list(sources) or None)
    failures = [r for r in results if not r.ok]
    click.echo(f"\nCheck: {len(results) - len(failures)} of {len(results)} URLs answer")
    for result in failures:
        click.echo(f"  FAIL {result.source}: {result.url}: {result.detail}", err=True)
    for result in results:
        if result.moved_to:
            click.echo(f"  MOVED {result.source}: {result.url} redirects permanently to "
                       f"{result.moved_to}: put that URL in {config_path}")
    if failures:
        sys.exit(EXIT_ALL_FAILED)


# -- options shared by the reading commands ------------------------------------------------

_source_option = click.option(
    "--source", metavar="NAME", help="The source the page belongs to, when several watch it.")


@cli.group("skills")
def skills_group() -> None:
    """Check the skill files against what the docs teach today."""


@skills_group.command("check")
@_config_option
@_db_option
@click.option("--json", "as_json", is_flag=True, help="Print the stale lines as JSON.")
def skills_check_command(config_path: Path, database: str | None, as_json: bool) -> None:
    """List every skill line that teaches what the latest snapshots deprecate or removed.

    Exit status: 0 when no skill has a stale line, 1 when some do.
    """
    from crawler.analysis.findings import docs_findings
    from crawler.analysis.owners import Namespaces
    from crawler.analysis.queries import docs_facts
    from crawler.analysis.skill_files import read_skill_files
    from crawler.analysis.stale import check_skills, describe
    from crawler.store.refresh import refresh_notices

    config = _load(config_path)
    engine = _open(database)
    refresh_notices(engine)  # notices read by an older docwatch, read again
    facts = docs_facts(engine, [s.name for s in config.typed_sources])
    stale = check_skills(read_skill_files(config), docs_findings(facts),
                         Namespaces.of(facts.taught), facts)
    if as_json:
        click.echo(json.dumps({name: [{"line": s.line, "text": s.text, "term": s.term,
                                       "kind": s.kind, "replacement": s.replacement,
                                       "package": s.package, "usage": s.usage,
                                       "evidence": {"url": s.evidence.url,
                                                    "section": s.evidence.section,
                                                    "sentence": s.evidence.sentence}}
                                      for s in lines] for name, lines in stale.items()},
                              indent=2))
    else:
        for skill in config.skills:
            path = config.skill_path(skill)
            if skill.name not in stale:
                click.echo(f"{skill.name}: no skill file to check")
                continue
            lines = stale[skill.name]
            click.echo(f"{skill.name} ({path}): "
                       + (f"{len(lines)} stale line{'s' * (len(lines) != 1)}" if lines
                          else "up to date"))
            for line in lines:
                click.echo(f"  {path}:{line.line}: {describe(line)}: {line.text}")
                click.echo(f"    evidence: {line.evidence.url}"
                           + (f" ({line.evidence.section})" if line.evidence.section else "")
                           + (f", {line.package} docs" if line.package else ""))
    sys.exit(1 if any(stale.values()) else 0)


@cli.command("schedule")
@_config_option
@_db_option
def schedule_command(config_path: Path, database: str | None) -> None:
    """Run in the foreground, crawling on the `schedule:` of sources.yaml (and each
    source's own `schedule:`) until SIGTERM/SIGINT."""
    from crawler.pipeline import StopRequest
    from crawler.schedule import ScheduleOutcome, run_schedule

    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    logging.getLogger("docwatch.schedule").setLevel(logging.INFO)
    exit_status = {ScheduleOutcome.CONFIG_INVALID: EXIT_CONFIG,
                   ScheduleOutcome.STOPPED: EXIT_OK,
                   ScheduleOutcome.RUN_INTERRUPTED: EXIT_OK}
    stop = StopRequest()
    with _stop_on_signals(stop):
        ended = run_schedule(config_path, database, stop=stop)
    sys.exit(exit_status[ended])


@cli.command("prune")
@_config_option
@_db_option
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
def prune_command(config_path: Path, database: str | None, dry_run: bool) -> None:
    """Delete old snapshots as the `history:` settings say (first, latest and every
    snapshot a kept report needs stay), then vacuum the database."""
    from crawler.store.lock import RunLocked, run_lock
    from crawler.store.prune import known_sources, prune

    config = _load(config_path)
    engine = _open(database)
    try:
        # Every source: none is crawled while its snapshots go, nor the file vacuumed.
        with run_lock(engine, known_sources(engine, config)):
            result = prune(engine, config, dry_run=dry_run)
    except RunLocked as exc:
        click.echo(f"error: {exc}; try again when it is done", err=True)
        sys.exit(EXIT_LOCKED)
    if not result.deleted:
        click.echo("no `history:` policy is set in the configuration: nothing to prune")
        return
    verb = "would delete" if dry_run else "deleted"
    for source, count in result.deleted.items():
        dates = result.kept_dates.get(source, [])
        click.echo(f"{source}: {verb} {_count(count, 'snapshot')}; kept the reports of "
                   f"{_count(len(dates), 'date')}")
    if result.size_before is not None and result.size_after is not None and not dry_run:
        click.echo(f"database: {result.size_before:,} → {result.size_after:,} bytes")


@cli.group("db")
def db_group() -> None:
    """The database itself: a consistent copy of it, or of its history elsewhere."""


@db_group.command("backup")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@_db_option
def db_backup_command(path: Path, database: str | None) -> None:
    """Copy the SQLite database into the new file PATH, consistent even during a run."""
    from crawler.store.db import BackupRefused, backup

    engine = _open(database)
    try:
        backup(engine, path)
    except BackupRefused as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(f"{path}: {path.stat().st_size:,} bytes")


@db_group.command("copy")
@click.option("--to", "target_url", required=True, metavar="URL",
              help="The database to copy the history into: new or empty (its schema is "
                   "created), e.g. postgresql+psycopg://user@host/docwatch.")
@_db_option
def db_copy_command(target_url: str, database: str | None) -> None:
    """Copy the whole history (runs, pages, snapshots, changes, reports' facts) into
    another database, e.g. from SQLite to PostgreSQL; row counts are compared per table."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from crawler.store.copy import CopyFailed, CopyRefused, copy_history, same_database
    from crawler.store.db import open_database
    from crawler.store.lock import RunLocked, run_lock, stored_sources

    source = _open(database)
    try:
        target = open_database(target_url)
    except (ArgumentError, NoSuchModuleError) as exc:
        click.echo(f"error: --to {target_url!r} is not a database URL docwatch can open "
                   f"({exc})", err=True)
        sys.exit(EXIT_CONFIG)
    except ImportError as exc:
        click.echo(f"error: --to needs the database driver {exc.name or exc}; for "
                   "PostgreSQL: pip install 'docwatch[postgres]'", err=True)
        sys.exit(EXIT_CONFIG)
    shown = target.url.render_as_string(hide_password=True)
    try:
        # The copied sources, on both sides: none is crawled into either meanwhile (a
        # copy onto the source itself is refused by copy_history, not by its own lock).
        names = stored_sources(source)
        onto_itself = same_database(source.url, target.url)
        with run_lock(source, names), run_lock(target, [] if onto_itself else names):
            result = copy_history(source, target, on_table=lambda name, rows: click.echo(
                f"copied {name}: {_count(rows, 'row')}", err=True))
    except CopyRefused as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except RunLocked as exc:
        click.echo(f"error: {exc}; try again when it is done", err=True)
        sys.exit(EXIT_LOCKED)
    except CopyFailed as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_DATABASE)
    rows = [["table", "source", "target", ""]]  # (the last column is never padded)
    rows += [[t.table, f"{t.source:,}", f"{t.target:,}", ""] for t in result.tables]
    _table(rows, right={1, 2})
    click.echo(f"{shown}: {result.rows:,} rows in {len(result.tables)} tables, "
               "the same counts as the source")


@cli.command("stats")
@_db_option
def stats_command(database: str | None) -> None:
    """Pages, snapshots and bytes stored per source."""
    from crawler.store.prune import stats

    rows = stats(_open(database))
    click.echo(f"{'source':<20} {'pages':>7} {'removed':>8} {'snapshots':>10} "
               f"{'stored bytes':>13} {'text bytes':>12}")
    for r in rows:
        click.echo(f"{r.source:<20} {r.pages:>7} {r.removed_pages:>8} {r.snapshots:>10} "
                   f"{r.stored_bytes:>13,} {r.text_bytes:>12,}")
    if rows:
        click.echo(f"{'total':<20} {sum(r.pages for r in rows):>7} "
                   f"{sum(r.removed_pages for r in rows):>8} "
                   f"{sum(r.snapshots for r in rows):>10} "
                   f"{sum(r.stored_bytes for r in rows):>13,} "
                   f"{sum(r.text_bytes for r in rows):>12,}")


@cli.command("report")
@_config_option
@click.option("--date", "report_date", callback=_parse_date, metavar="YYYY-MM-DD",
              help="Re-render the report of this date from the database.")
@click.option("--since", callback=_parse_date, metavar="YYYY-MM-DD",
              help="One report over every run from this date on.")
@click.option("--until", callback=_parse_date, metavar="YYYY-MM-DD",
              help="With --since: the last date covered (default: today, UTC).")
@_db_option
def report_command(config_path: Path, report_date: dt.date | None, since: dt.date | None,
                   until: dt.date | None, database: str | None) -> None:
    """Write the report of a date (--date), or of everything since a date (--since)."""
    from crawler import history
    from crawler.report import build_report, publish
    from crawler.store.refresh import refresh_notices

    if (report_date is None) == (since is None):
        raise click.UsageError("give either --date or --since")
    if until is not None and since is None:
        raise click.UsageError("--until goes with --since")
    config = _load(config_path)
    engine = _open(database)
    refresh_notices(engine)  # notices read by an older docwatch, read again
    if report_date is not None:
        if not history.runs_on(engine, report_date):
            _fail(f"no run recorded on {report_date.isoformat()}; `docwatch runs` lists them")
        report = build_report(engine, config, report_date)
        paths = publish(report, config)
    else:
        assert since is not None  # exactly one of --date and --since, checked above
        until = until or dt.datetime.now(dt.UTC).date()
        if since > until:
            raise click.UsageError(f"--since {since} is after --until {until}")
        if not history.runs_on(engine, since, until):
            _fail(f"no run recorded from {since.isoformat()} to {until.isoformat()}; "
                  "`docwatch runs` lists them")
        report = build_report(engine, config, until, since=since)
        paths = publish(report, config)
    for path in paths:
        click.echo(str(path))
    click.echo(f"{_count(len(report.runs), 'run')}, {_count(len(report.changes), 'change')}, "
               f"{_count(len(report.skills), 'skill')} to update", err=True)


@cli.command("runs")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many runs to list.")
@_db_option
def runs_command(limit: int, database: str | None) -> None:
    """List the most recent runs, newest first."""
    from crawler.history import list_runs

    runs = list_runs(_open(database), limit)
    if not runs:
        click.echo("no runs recorded yet; `docwatch crawl` makes the first", err=True)
        return
    rows = [["id", "date", "status", "started (UTC)", "duration", "checked", "changed",
             "errors", "message"]]
    for run in runs:
        rows.append([str(run.id), run.date.isoformat(), run.status,
                     f"{run.started_at:%Y-%m-%d %H:%M:%S}", _duration(run.duration),
                     str(run.pages_checked), str(run.pages_changed), str(run.errors),
                     run.message or ""])
    _table(rows, right={0, 4, 5, 6, 7})


@cli.command("history")
@click.argument("url")
@_source_option
@_db_option
def history_command(url: str, source: str | None, database: str | None) -> None:
    """List the stored versions of the page at URL, oldest first."""
    from crawler.extract import without_controls
    from crawler.history import page_history

    engine = _open(database)
    page = _page(engine, url, source)
    events = page_history(engine, page)
    status = "" if page.status == PageStatus.ACTIVE else f", {page.status}"
    click.echo(f"{page.url} ({page.source}{status}): {without_controls(page.title)}")
    rows = [["date", "run", "snapshot", "size", "change"]]
    for event in events:
        snap = event.snapshot
        # The snapshot this event stored, if it stored one.
        new = snap if snap is not None and snap.run_id == event.run_id \
            and event.change != ChangeKind.REMOVED else None
        summary = event.summary if event.summary and event.summary != event.change else ""
        rows.append([event.run_date.isoformat(), str(event.run_id),
                     new.short_hash if new else "-", f"{new.size:,}" if new else "-",
                     f"{event.change}: {summary}" if summary else event.change])
    _table(rows, right={1, 3})


@cli.command("show")
@click.argument("url")
@click.option("--at", "at_date", callback=_parse_date, metavar="YYYY-MM-DD",
              help="The version current on this date (default: the latest).")
@_source_option
@_db_option
def show_command(url: str, at_date: dt.date | None, source: str | None,
                 database: str | None) -> None:
    """Print the stored normalised text of the page at URL."""
    from crawler.extract import without_controls
    from crawler.history import snapshot_at, snapshot_text

    engine = _open(database)
    page = _page(engine, url, source)
    snap = _or_fail(lambda: snapshot_at(engine, page, at_date))
    click.echo(f"{page.url} @ {snap.run_date.isoformat()} (run {snap.run_id}, "
               f"{snap.short_hash})", err=True)
    click.echo(without_controls(snapshot_text(engine, snap)).rstrip("\n"))


@cli.command("diff")
@click.argument("url")
@click.option("--from", "from_date", callback=_parse_date, metavar="YYYY-MM-DD",
              help="Compare from the version current on this date (default: the previous one).")
@click.option("--to", "to_date", callback=_parse_date, metavar="YYYY-MM-DD",
              help="Compare to the version current on this date (default: the latest).")
@click.option("-U", "--context", type=click.IntRange(min=0), default=3, show_default=True,
              help="Lines of context around each change.")
@click.option("--color/--no-color", default=None,
              help="Colour the diff (default: when printing to a terminal and NO_COLOR "
                   "is unset).")
@click.option("--whole-lines", is_flag=True,
              help=f"Print long lines whole (by default a line over {MAX_LINE:,} "
                   "characters is folded around what changed in it).")
@_source_option
@_db_option
def diff_command(url: str, from_date: dt.date | None, to_date: dt.date | None, context: int,
                 color: bool | None, whole_lines: bool, source: str | None,
                 database: str | None) -> None:
    """Print a unified diff of the page at URL between two stored versions."""
    from crawler.extract import without_controls
    from crawler.history import diff_snapshots

    engine = _open(database)
    page = _page(engine, url, source)
    diff = _or_fail(lambda: diff_snapshots(engine, page, from_date, to_date, context,
                                           whole_lines))
    if diff.old is None:
        click.echo(f"{page.url} has a single version up to {diff.new.run_date.isoformat()}; "
                   "nothing to compare (use --from to pick another)", err=True)
        return
    if not diff.lines:
        click.echo(f"{page.url}: no difference between {diff.old.run_date.isoformat()} and "
                   f"{diff.new.run_date.isoformat()}", err=True)
        return
    if color is None:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    for line in map(without_controls, diff.lines):  # crawled text: no terminal commands
        click.echo(_diff_style(line) if color else line, color=color)
    sections = "; ".join(diff.stats.sections)
    click.echo(f"{diff.stats.summary()}{': ' + sections if sections else ''}", err=True)


@cli.command("demo")
@click.option("--dir", "directory", type=click.Path(path_type=Path),
              help="Write the demo here (empty, new, or a previous demo's; "
                   "default: a new temporary directory).")
def demo_command(directory: Path | None) -> None:
    """Crawl the bundled two-version docs site offline and write its reports."""
    from crawler.demo.run import DemoDirectoryInUse, run_demo
    from crawler.pipeline import StopRequest

    stop = StopRequest()
    with _stop_on_signals(stop):
        try:
            outcome = run_demo(directory, stop=stop)
        except DemoDirectoryInUse as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
    click.echo(f"demo project: {outcome.directory}")
    for path in outcome.report_paths:
        click.echo(str(path))
    for line in outcome.summary():
        click.echo(line)
    routing = next((c.url for c in outcome.report.changes if c.url.endswith("/routing.html")),
                   None)
    if routing:
        click.echo(f"next: docwatch diff {routing} --db {outcome.database}", err=True)


@cli.command("init")
@click.option("--force", is_flag=True, help="Overwrite starter files that already exist.")
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False),
              default=Path("."), help="Where to write them (default: the current directory).")
def init_command(force: bool, directory: Path) -> None:
    """Write a commented starter sources.yaml and a sample skill."""
    from crawler.init import StarterExists, write_starter

    try:
        paths = write_starter(directory, force=force)
    except StarterExists as exc:
        click.echo(f"error: {exc}; pass --force to overwrite", err=True)
        sys.exit(EXIT_CONFIG)
    for path in paths:
        click.echo(f"wrote {path}")
    click.echo("next: edit sources.yaml, check it with `docwatch sources --check`, "
               "then run `docwatch crawl`", err=True)


# -- helpers ------------------------------------------------------------------------


@contextlib.contextmanager
def _stop_on_signals(stop: StopRequest) -> Iterator[None]:
    """While the command runs, SIGINT and SIGTERM set ``stop`` (a run then ends between
    pages, recorded as interrupted); a second signal only sets it again. The handlers
    the process had are back on the way out. Off the main thread, where Python allows
    no handler, nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    # set() takes the event's lock, which the main thread (where the handler runs) never
    # holds: the library only ever reads the event with is_set().
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda received, _frame: stop.set_by_signal(received))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        extra = {"exception": self.formatException(record.exc_info)} if record.exc_info else {}
        return _json_line(record.created, record.levelname.lower(), record.name,
                          record.getMessage(), **extra)


def _json_line(created: float, level: str, logger: str, message: str, **fields) -> str:
    stamp = dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds")
    return json.dumps({"time": stamp.replace("+00:00", "Z"), "level": level, "logger": logger,
                       "message": message, **fields}, ensure_ascii=False)


@contextlib.contextmanager
def _progress_bars(enabled: bool):
    """A rich progress bar per source on a terminal; nothing otherwise (cron, pipes)."""
    from crawler.pipeline import Progress

    if not enabled:
        yield Progress()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as RichProgress

    bars = RichProgress(TextColumn("{task.description:<16}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), transient=True)

    class Bars(Progress):
        def __init__(self) -> None:
            self.tasks: dict[str, TaskID] = {}

        def _task(self, source: str) -> TaskID:
            if source not in self.tasks:
                self.tasks[source] = bars.add_task(source, total=None)
            return self.tasks[source]

        def listed(self, source: str, pages: int) -> None:
            task = self._task(source)
            total = bars.tasks[task].total or 0
            bars.update(task, total=total + pages)

        def advanced(self, source: str) -> None:
            bars.advance(self._task(source))

        def finished(self, source: str) -> None:
            task = self._task(source)
            bars.update(task, total=bars.tasks[task].completed)

    with bars:
        yield Bars()


def _say_plain(level: str, message: str, **_fields) -> None:
    prefix = f"{level}: " if level in ("error", "warning") else ""
    click.echo(prefix + message, err=True)


def _say_json(level: str, message: str, **fields) -> None:
    click.echo(_json_line(time.time(), level, "docwatch", message, **fields), err=True)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ALL_FAILED)


def _open(database: str | None) -> Engine:
    from crawler.history import open_existing

    return _or_fail(lambda: open_existing(database))


def _page(engine: Engine, url: str, source: str | None) -> PageRef:
    from crawler.history import find_page

    return _or_fail(lambda: find_page(engine, url, source))


def _or_fail(call: Callable[[], T]) -> T:
    """``call()``, turning a :class:`~crawler.history.HistoryError` into exit status 1."""
    from crawler.history import HistoryError

    try:
        return call()
    except HistoryError as exc:
        _fail(str(exc))


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'s' * (number != 1)}"


def _duration(value: dt.timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _table(rows: list[list[str]], right: Collection[int] = ()) -> None:
    """Print rows as aligned columns (the last column is never padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.rjust(width) if i in right else cell.ljust(width)
                 for i, (cell, width) in enumerate(zip(row, widths, strict=True))]
        cells[-1] = row[-1]
        click.echo("  ".join(cells).rstrip())


def _diff_style(line: str) -> str:
    if line.startswith(("---", "+++")):
        return click.style(line, bold=True)
    if line.startswith("@@"):
        return click.style(line, fg="cyan")
    if line.startswith("-"):
        return click.style(line, fg="red")
    if line.startswith("+"):
        return click.style(line, fg="green")
    return line


def _load(path: Path):
    try:
        return load_config(path)
    except ConfigError as exc:
        _fail_config(exc)


def _fail_config(exc: ConfigError, say: Callable[..., None] = _say_plain) -> NoReturn:
    for problem in exc.problems:
        say("error", problem)
    sys.exit(EXIT_CONFIG)


def main() -> None:
    """Entry point of the ``docwatch`` script."""
    with _quick_exit():
        cli(prog_name="docwatch")


def crawl_main() -> None:
    """Entry point of the ``crawl`` script: exactly ``docwatch crawl``."""
    with _quick_exit(), _database_failures():
        crawl_command(prog_name="crawl")


@contextlib.contextmanager
def _quick_exit():
    """Spare the interpreter's last garbage collection on the way out.

    After a large crawl that collection walks every object still alive (a quarter of a
    second for 2,000 pages) only to free memory the process hands back anyway. Frozen
    objects are skipped; finalisers, atexit handlers and buffered output still run.
    """
    try:
        yield
    finally:
        gc.freeze()
