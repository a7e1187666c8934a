"""What the test modules share: the bundled demo docs site, its configuration, and the
project `docwatch demo` makes of it.

- ``site``: the bundled site (``crawler/demo/site``) served at v1 on 127.0.0.1, one per test.
- :func:`write_config`: the demo's own ``sources.yaml`` and skill (``crawler.demo.run``) for
  a site served at some base URL, with what a test adds to it. Modules import it with
  ``from conftest import write_config``.
- ``crawled_demo``: the demo site crawled at v1 then v2 into a database, once per session.
  It is shared, so read-only: a test that changes a project works on ``copy_to`` of it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from crawler.config import load_config
from crawler.demo.run import DATABASE_FILE, SKILL, run_demo, sources_yaml
from crawler.demo.server import DocServer
from crawler.pipeline import RunOutcome
from crawler.report.render import slugify

#: Where the demo's configuration puts its one skill file.
SKILL_PATH = Path("skills") / "lumen-live" / "SKILL.md"


def write_config(folder: Path, base: str, *, sources: str = "", skills: str = "",
                 extra: str = "", name: str = "sources.yaml") -> Path:
    """Write the demo's ``sources.yaml`` (named ``name``) and its skill into ``folder``,
    for the bundled site served at ``base``; return the configuration's path.

    ``sources`` and ``skills`` are YAML list items added to the demo's own; ``extra`` is
    top-level YAML appended to the file, e.g. ``"http: {per_host: 1}\\n"``.
    """
    skill = folder / SKILL_PATH
    skill.parent.mkdir(parents=True, exist_ok=True)
    skill.write_text(SKILL, encoding="utf-8")
    text = sources_yaml(base)
    # The demo lists its sources, then its skills, last.
    before_skills, marker, demo_skills = text.partition("\nskills:\n")
    assert marker and demo_skills.endswith("\n"), "the demo's sources.yaml changed shape"
    path = folder / name
    path.write_text(f"{before_skills}\n{sources}skills:\n{demo_skills}{skills}{extra}",
                    encoding="utf-8")
    return path


@pytest.fixture
def site() -> Iterator[DocServer]:
    """The bundled demo docs site, served at v1 on 127.0.0.1 for one test."""
    with DocServer(version="v1") as server:
        yield server


@dataclass(frozen=True)
class DemoProject:
    """A folder as ``docwatch demo`` leaves it: ``sources.yaml``, the skill, the database
    and the reports of its two runs (site v1, then v2) of the site once served at
    ``base_url``."""

    folder: Path
    base_url: str
    baseline: RunOutcome
    update: RunOutcome

    @property
    def config_path(self) -> Path:
        return self.folder / "sources.yaml"

    @property
    def reports(self) -> Path:
        return self.folder / "reports"

    def report_file(self, day: dt.date, suffix: str) -> Path:
        """The dated report of ``day`` in this folder; ``suffix`` is .md, .json or .html."""
        title = load_config(self.config_path).report.title
        return self.reports / f"{day.isoformat()}-{slugify(title)}{suffix}"

    def markdown(self, day: dt.date) -> str:
        return self.report_file(day, ".md").read_text(encoding="utf-8")

    def data(self, day: dt.date) -> dict:
        return json.loads(self.report_file(day, ".json").read_text(encoding="utf-8"))

    def copy_to(self, target: Path) -> DemoProject:
        """A copy of the whole project in ``target`` (a new folder), for a test to change."""
        shutil.copytree(self.folder, target,
                        ignore=shutil.ignore_patterns(f"{DATABASE_FILE}*"))
        with closing(sqlite3.connect(self.folder / DATABASE_FILE)) as src, \
                closing(sqlite3.connect(target / DATABASE_FILE)) as dst:
            src.backup(dst)

        def moved(outcome: RunOutcome) -> RunOutcome:
            paths = [target / p.relative_to(self.folder) for p in outcome.report_paths]
            return replace(outcome, report_paths=paths)

        return replace(self, folder=target, baseline=moved(self.baseline),
                       update=moved(self.update))


@pytest.fixture(scope="session")
def crawled_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoProject:
    """The demo site crawled at v1 on 2024-01-01, then at v2 on 2024-02-01 (the runs of
    ``docwatch demo``), once for the whole session. Read-only: see ``DemoProject.copy_to``."""
    outcome = run_demo(tmp_path_factory.mktemp("demo"))
    [lumen, _] = outcome.config.typed_sources[0].urls
    return DemoProject(outcome.directory, lumen.removesuffix("/lumen/"), outcome.baseline,
                       outcome.update)
