"""The world evaluation set: skill lines judged against the real docs of the offline world.

The written set (:mod:`tests.eval.runner`) embeds small docs written by hand. This set
embeds none: each case names the world day whose docs announce a deprecation, removal,
rename or replacement (2 or 6), and the page that says it (``evidence``, a locator in
day-2 path form, ``/hexdocs.pm/<package>/<page>.html``). Its lines are judged by the same
pipeline as a written case, against the :class:`DocsFacts` docwatch stores when it
crawls the world: days 1 to 6 in order, through :func:`crawler.pipeline.crawl`, into a
temporary SQLite database, the facts read (``queries.docs_facts``) right after the
day-2 and the day-6 crawls.

A case of ``tests/eval/world/*.yaml``::

    - id: world-phoenix-some-notice
      class: named            # one of runner.CLASSES
      day: 2                  # the world day whose docs announce it
      package: phoenix
      evidence: /hexdocs.pm/phoenix/changelog.html
      lines:
        - stale: "a skill line using what the notice retires"
          term: Phoenix.Something.fun/2    # or a list: any of them
          kind: deprecated                 # one of runner.KINDS
        - clean: "the same API used the current way"
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crawler.analysis.facts import DocsFacts
from crawler.analysis.queries import docs_facts
from crawler.config import load_config
from crawler.pipeline import RunOutcome, crawl
from crawler.store.db import open_database
from crawler.store.models import Page
from crawler.types import Item, PageStatus

from .runner import (
    OVERALL,
    Evaluation,
    Label,
    LabelError,
    check_class,
    judge,
    mistakes,
    parse_labels,
    read_cases,
    scored,
    table,
)

CASES = Path(__file__).parent / "world"
REPO = Path(__file__).resolve().parents[2]
# The dates of the world's days (as tests/test_world.py crawls them).
DATES = {1: dt.date(2024, 11, 30), 2: dt.date(2026, 2, 23), 3: dt.date(2026, 2, 24),
         4: dt.date(2026, 2, 25), 5: dt.date(2026, 3, 6), 6: dt.date(2026, 11, 30)}
# The days whose docs a case can be judged against: the releases of day 2, those of day 6.
JUDGED_DAYS = (2, 6)
HEXDOCS = "hexdocs.pm"
# How a fetch problem says a whole source failed (crawler.pipeline._crawl_source).
CRASHED = "could not crawl this source"


def default_world() -> Path:
    """``$DOCWATCH_WORLD``, else ``../shared/world`` next to the repository."""
    return Path(os.environ.get("DOCWATCH_WORLD", REPO.parent / "shared" / "world"))


def world_present(world: Path) -> bool:
    """Whether ``world`` holds the world's server."""
    return (world / "serve.py").is_file()


# -- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorldCase:
    """Skill lines judged against the world's docs of one day."""

    id: str
    klass: str
    day: int
    package: str
    evidence: str  # day-2 path form of the page that announces it: a locator, not a quote
    labels: tuple[Label, ...]


def load_world_cases(paths: Iterable[Path] | None = None) -> list[WorldCase]:
    """The cases of the YAML files (every ``world/*.yaml`` by default), in file order."""
    return read_cases(sorted(CASES.glob("*.yaml")) if paths is None else paths, _world_case)


def _world_case(raw: dict, source: str) -> WorldCase:
    case_id = raw.get("id") or f"<no id in {source}>"
    klass = check_class(case_id, raw.get("class"))
    day = raw.get("day")
    if day not in JUDGED_DAYS:
        raise LabelError(f"{case_id}: day {day!r} is not one of {JUDGED_DAYS}")
    package = raw.get("package") or ""
    evidence = raw.get("evidence") or ""
    key = page_key(evidence)
    if key is None or key[0] != package or not evidence.startswith(f"/{HEXDOCS}/"):
        raise LabelError(f"{case_id}: evidence {evidence!r} is not a page of {package!r} "
                         f"in the form /{HEXDOCS}/{package or '<package>'}/<page>")
    labels = parse_labels(case_id, raw.get("lines") or [])
    if not labels:
        raise LabelError(f"{case_id}: no lines")
    return WorldCase(case_id, klass, day, package, evidence, labels)


def page_key(url: str) -> tuple[str, str] | None:
    """The package and page file name of a hexdocs URL or path, in either form.

    ``…/hexdocs.pm/<package>/[<version>/]<page>`` (the path form, days 1-5) and
    ``…/<package-with-dashes>.hexdocs.pm/<page>`` (per-package subdomains, day 6) give
    the same key; the world serves its hosts as the first path segment of its base.
    """
    parts = [p for p in urlsplit(url).path.split("/") if p]
    for i, part in enumerate(parts):
        if part == HEXDOCS and len(parts) > i + 2:
            return parts[i + 1], parts[-1]
        if part.endswith("." + HEXDOCS) and len(parts) > i + 1:
            return part.removesuffix("." + HEXDOCS).replace("-", "_"), parts[-1]
    return None


# -- the crawl ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorldCrawl:
    """What docwatch stored of the world, on each judged day."""

    base: str
    facts: dict[int, DocsFacts]
    pages: dict[int, frozenset[tuple[str, str]]]  # the page_key of every current page


@contextmanager
def serving(world: Path, folder: Path) -> Iterator[tuple[str, Path]]:
    """The world's server, started on day 1: its base URL and the config it wrote."""
    config = folder / "sources.yaml"
    proc = subprocess.Popen(
        [sys.executable, str(world / "serve.py"), "--port", "0", "--day", "1",
         "--hang-s", "2", "--write-sources", str(config)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"the world at {world} did not start: {line!r}")
        yield line.split()[1], config
    finally:
        proc.terminate()
        proc.wait(10)


def _switch_day(base: str, day: int) -> None:
    request = urllib.request.Request(f"{base}/__world/day/{day}", method="POST")
    with urllib.request.urlopen(request) as response:
        json.load(response)


def crawl_world(world: Path, folder: Path | None = None) -> WorldCrawl:
    """Crawl the world's days 1 to 6 in order (into ``folder``, a temporary one by
    default) and keep the docs facts and current pages of every judged day."""
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="docwatch-world-") as tmp:
            return crawl_world(world, Path(tmp))
    facts: dict[int, DocsFacts] = {}
    pages: dict[int, frozenset[tuple[str, str]]] = {}
    with serving(world, folder) as (base, config_path):
        engine = open_database(f"sqlite:///{folder / 'world.sqlite3'}")
        try:
            config = load_config(config_path)
            for day in sorted(DATES):
                _switch_day(base, day)
                outcome = crawl(config, date=DATES[day], engine=engine)
                _refuse_crashed_sources(day, outcome)
                if day in JUDGED_DAYS:
                    facts[day] = docs_facts(engine)
                    pages[day] = _current_pages(engine)
        finally:
            engine.dispose()
    return WorldCrawl(base, facts, pages)


def _refuse_crashed_sources(day: int, outcome: RunOutcome) -> None:
    # A source that crashed keeps its previous pages: the facts would be another day's.
    crashed = [f"{e.source}: {e.error}" for e in (outcome.report.errors if outcome.report else ())
               if CRASHED in e.error]
    if crashed:
        raise RuntimeError(f"day {day}: a docs source crashed, the crawl is not the "
                           f"world's: {'; '.join(crashed)}")


def _current_pages(engine: Engine) -> frozenset[tuple[str, str]]:
    with Session(engine) as session:
        urls = session.scalars(select(Page.url).where(Page.status == PageStatus.ACTIVE,
                                                      Page.item == Item.PAGE)).all()
    return frozenset(key for key in map(page_key, urls) if key is not None)


# -- judging -----------------------------------------------------------------------------


def evidence_crawled(case: WorldCase, world: WorldCrawl) -> bool:
    """Whether the page ``case.evidence`` names is a current page of the case's day."""
    return page_key(case.evidence) in world.pages[case.day]


def evaluate_world(cases: Sequence[WorldCase], world: WorldCrawl) -> Evaluation:
    """Every case's lines judged against the facts of its day, scored per class and
    overall (the written set's :class:`Evaluation`)."""
    return scored(o for case in cases
                  for o in judge(case.id, case.klass, case.labels, world.facts[case.day],
                                  [case.package]))


# -- output ------------------------------------------------------------------------------


def main_world(world: Path | None, written: Evaluation, *, table_only: bool = False) -> int:
    """Crawl the world, print the world set's table and mistakes, then the overall row
    of the written set, of the world set and of both. Exit 2 when the world is absent."""
    world = world or default_world()
    if not world_present(world):
        print(f"\nthe world is not at {world} (no serve.py): pass --world PATH",
              file=sys.stderr)
        return 2
    cases = load_world_cases()
    crawled = crawl_world(world)
    result = evaluate_world(cases, crawled)
    print(f"\nWorld ({world}): {len(cases)} cases, {len(result.outcomes)} labelled lines\n")
    # The classes the world set has lines of (drift needs an earlier snapshot of a line).
    print(table({k: s for k, s in result.scores.items() if s.stale + s.clean or k == OVERALL}))
    if not table_only:
        print(mistakes(result.outcomes))
    if lost := [c for c in cases if not evidence_crawled(c, crawled)]:
        print(f"\nEvidence not crawled on its day ({len(lost)}):")
        for case in lost:
            print(f"  {case.id} (day {case.day}): {case.evidence}")
    both = scored((*written.outcomes, *result.outcomes))
    print("\nWritten and world together:\n")
    print(table({"written": written.scores[OVERALL], "world": result.scores[OVERALL],
                 OVERALL: both.scores[OVERALL]}))
    print("\nBoth sets, by class:\n")
    print(table(both.scores))
    return 0
