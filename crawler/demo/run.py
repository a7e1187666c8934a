"""``docwatch demo``: two runs against the bundled site, offline, in a few seconds.

The demo serves the fictional ``lumen`` docs (``crawler/demo/site``) on 127.0.0.1,
writes a ``sources.yaml`` and a sample skill into a directory, crawls version 1 (the
baseline), switches the server to version 2 and crawls again. The directory then
holds everything a real project has: the configuration, the SQLite database and the
two dated reports.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from crawler.config import Config, load_config
from crawler.demo.server import SITE_ROOT, DocServer
from crawler.errors import DocwatchError
from crawler.pipeline import RunOutcome, crawl
from crawler.report import Report
from crawler.store.db import open_database
from crawler.types import ChangeKind, GapKind, Item

BASELINE_DATE, UPDATE_DATE = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
DATABASE_FILE = "docwatch.sqlite3"
#: Marks a directory as the demo's own, so a later demo may reuse it.
MARKER = ".docwatch-demo"

SKILL = """\
---
name: lumen-live
description: Building interactive pages with LumenLive - bindings, uploads, async assigns.
---

# LumenLive

Use this skill when writing or reviewing a LumenLive page.

## Bindings

- `lm-click`, `lm-change` and `lm-submit` send events to the server.

## Uploads

- Accept files with `allow_upload/3` and read them with `consume_uploaded_entries/3`.
"""


def sources_yaml(base_url: str) -> str:
    """The demo's configuration for a site served at ``base_url``."""
    return f"""\
# Written by `docwatch demo`: the bundled "lumen" docs, served on {base_url}
# while the demo ran. See `docwatch init` for a commented starter configuration.
report:
  title: "Lumen Docs Research"
  dir: reports
sources:
  - name: lumen-docs
    kind: exdoc
    urls: [{base_url}/lumen/, {base_url}/lumen_live/]
skills:
  - name: lumen-live
    path: skills/lumen-live/SKILL.md
    watches: ["{base_url}/lumen_live/*"]
    keywords: [lm-update, assign_async]
  - name: lumen-routing
    watches: ["{base_url}/lumen/routing.html"]
    keywords: [Lumen.Router, verified routes]
"""


class DemoDirectoryInUse(DocwatchError):
    """The chosen directory holds files the demo did not write."""


@dataclass
class DemoOutcome:
    """What the demo did: where its files are, both runs, and the second run's report."""

    directory: Path
    config: Config
    database: str
    baseline: RunOutcome
    update: RunOutcome
    report: Report

    @property
    def report_paths(self) -> list[Path]:
        return [*self.baseline.report_paths, *self.update.report_paths]

    def summary(self) -> list[str]:
        """Three lines: the baseline run, the changes found, the skills flagged."""
        changes = [c for c in self.report.changes if c.item == Item.PAGE]
        counts = {kind: sum(1 for c in changes if c.change == kind)
                  for kind in (ChangeKind.ADDED, ChangeKind.REMOVED, ChangeKind.MODIFIED)}
        flagged = ", ".join(f.name for f in self.report.skills) or "none"
        # New pages only: sections and terms the report also lists would crowd the line.
        gaps = ", ".join(g.title for g in self.report.gaps
                         if g.kind == GapKind.PAGE) or "none"
        return [
            f"run {self.baseline.run_id} ({BASELINE_DATE}, site v1): baseline of "
            f"{self.baseline.pages_checked} pages recorded",
            f"run {self.update.run_id} ({UPDATE_DATE}, site v2): {self.update.pages_checked} "
            f"pages checked, {counts[ChangeKind.ADDED]} new, {counts[ChangeKind.REMOVED]} "
            f"removed, {counts[ChangeKind.MODIFIED]} modified, {self.update.errors} errors",
            f"skills to update: {flagged}; new pages no skill covers: {gaps}",
        ]


def prepare_directory(directory: Path | None) -> Path:
    """A fresh temporary directory, or ``directory`` made ready for a new demo.

    An existing directory must be empty or hold a previous demo (whose database is
    then replaced); anything else raises :class:`DemoDirectoryInUse`.
    """
    if directory is None:
        path = Path(tempfile.mkdtemp(prefix="docwatch-demo-"))
        (path / MARKER).touch()
        return path
    if directory.exists() and not directory.is_dir():
        raise DemoDirectoryInUse(f"{directory} is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not (directory / MARKER).exists():
        raise DemoDirectoryInUse(f"{directory} is not empty and holds no previous demo; "
                                 "choose an empty or new directory")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).touch()
    for leftover in directory.glob(f"{DATABASE_FILE}*"):
        leftover.unlink()
    shutil.rmtree(directory / "reports", ignore_errors=True)
    return directory


def run_demo(directory: Path | None = None,
             stop: threading.Event | None = None) -> DemoOutcome:
    """Crawl the bundled site twice (v1 then v2) into ``directory`` (default: a new
    temporary one); see :func:`prepare_directory` for what it accepts. ``stop``, once
    set, stops each crawl between pages (see :func:`crawler.pipeline.crawl`)."""
    path = prepare_directory(directory)
    database = f"sqlite:///{path.resolve() / DATABASE_FILE}"
    skill = path / "skills" / "lumen-live" / "SKILL.md"
    skill.parent.mkdir(parents=True, exist_ok=True)
    skill.write_text(SKILL, encoding="utf-8")
    with DocServer(SITE_ROOT, version="v1") as server:
        config_path = path / "sources.yaml"
        config_path.write_text(sources_yaml(server.base_url), encoding="utf-8")
        config = load_config(config_path)
        engine = open_database(database)
        try:
            baseline = crawl(config, date=BASELINE_DATE, engine=engine, stop=stop)
            server.set_version("v2")
            update = crawl(config, date=UPDATE_DATE, engine=engine, stop=stop)
        finally:
            engine.dispose()
    assert update.report is not None
    return DemoOutcome(path, config, database, baseline, update, update.report)
