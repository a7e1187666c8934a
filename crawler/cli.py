"""The ``docwatch`` command line: a thin shell over :mod:`crawler.pipeline`.

Exit status: 0 when a run completed (changes or not), 1 when every fetch failed,
2 when the configuration (or a command-line value) is invalid, 3 when another run
holds the database, 130 when interrupted.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

import click

from crawler.config import DEFAULT_CONFIG, ConfigError, load_config
from crawler.store.db import ENV_VAR

EXIT_OK, EXIT_ALL_FAILED, EXIT_CONFIG, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None
                ) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="docwatch")
def cli() -> None:
    """docwatch: watch documentation sources and flag the skills that need an update."""


@cli.command("crawl")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              default=DEFAULT_CONFIG, show_default=True, help="The sources.yaml to use.")
@click.option("--source", "sources", multiple=True, metavar="NAME",
              help="Only crawl this source (repeatable).")
@click.option("--date", "run_date", callback=_parse_date, metavar="YYYY-MM-DD",
              help="The run's logical date (default: today, UTC).")
@click.option("--db", "database", metavar="URL", envvar=ENV_VAR, show_envvar=True,
              help="SQLAlchemy database URL (default: sqlite:///db/docwatch.sqlite3).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("-v", "--verbose", is_flag=True, help="Log each step.")
def crawl_command(config_path: Path, sources: tuple[str, ...], run_date: dt.date | None,
                  database: str | None, quiet: bool, verbose: bool) -> None:
    """Crawl the sources, store snapshots, diff against the last run, write the report."""
    from crawler.pipeline import crawl

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from crawler.store.lock import RunLocked

    config = _load(config_path)
    try:
        outcome = crawl(config, date=run_date, sources=list(sources) or None, database=database)
    except ConfigError as exc:
        _fail_config(exc)
    except RunLocked as exc:
        click.echo(f"error: {exc}; not starting a second one", err=True)
        sys.exit(EXIT_LOCKED)
    if not quiet:
        for path in outcome.report_paths:
            click.echo(str(path))
        click.echo(f"run {outcome.run_id} {outcome.status}: {outcome.pages_checked} pages "
                   f"checked, {outcome.changed} changed, {outcome.errors} errors", err=True)
    if outcome.status == "interrupted":
        sys.exit(EXIT_INTERRUPTED)
    if outcome.all_failed:
        click.echo("error: every fetch failed; see Fetch problems in the report", err=True)
        sys.exit(EXIT_ALL_FAILED)


@cli.command("sources")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              default=DEFAULT_CONFIG, show_default=True, help="The sources.yaml to use.")
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
    if failures:
        sys.exit(EXIT_ALL_FAILED)


def _load(path: Path):
    try:
        return load_config(path)
    except ConfigError as exc:
        _fail_config(exc)


def _fail_config(exc: ConfigError):
    for problem in exc.problems:
        click.echo(f"error: {problem}", err=True)
    sys.exit(EXIT_CONFIG)


def main() -> None:
    """Entry point of the ``docwatch`` script."""
    cli(prog_name="docwatch")


def crawl_main() -> None:
    """Entry point of the ``crawl`` script: exactly ``docwatch crawl``."""
    crawl_command(prog_name="crawl")
