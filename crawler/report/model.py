"""The facts of one dated report, gathered from the database.

A report covers every run of its date, so a second run on the same day adds to the
first one's findings instead of hiding them. Renderers (Markdown, JSON) only format
what :func:`build_report` collects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, aliased

from crawler.config import Config
from crawler.skills import PageChange, SkillFlag, find_gaps, flag_skills
from crawler.sources.base import package_of
from crawler.store.models import Change, FetchErrorRecord, Page, Run, RunSource, Snapshot


@dataclass(frozen=True)
class SourceSummary:
    name: str
    kind: str
    pages_checked: int
    pages_unchanged: int
    pages_changed: int
    errors: int
    baseline: bool


@dataclass(frozen=True)
class FetchProblem:
    source: str
    url: str
    error: str
    attempts: int
    status: int | None


@dataclass(frozen=True)
class RunInfo:
    id: int
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    message: str | None


@dataclass
class Report:
    title: str
    date: dt.date
    runs: list[RunInfo] = field(default_factory=list)
    sources: list[SourceSummary] = field(default_factory=list)
    changes: list[PageChange] = field(default_factory=list)
    skills: list[SkillFlag] = field(default_factory=list)
    gaps: list[PageChange] = field(default_factory=list)
    errors: list[FetchProblem] = field(default_factory=list)

    @property
    def full_title(self) -> str:
        return f"{self.title} — {self.date.isoformat()}"

    @property
    def interrupted(self) -> bool:
        return any(r.status == "interrupted" for r in self.runs)

    def changes_of(self, kind: str) -> list[PageChange]:
        return [c for c in self.changes if c.change == kind]

    def grouped(self) -> list[tuple[str, str, list[PageChange]]]:
        """Changes grouped by (source, package), in the order sources were configured."""
        order = {s.name: i for i, s in enumerate(self.sources)}
        groups: dict[tuple[str, str], list[PageChange]] = {}
        for change in sorted(self.changes, key=lambda c: (order.get(c.source, 99), c.package,
                                                            _KIND_ORDER[c.change], c.url)):
            groups.setdefault((change.source, change.package), []).append(change)
        return [(s, p, cs) for (s, p), cs in groups.items()]


_KIND_ORDER = {"added": 0, "removed": 1, "moved": 2, "modified": 3}


def build_report(engine: Engine, config: Config, date: dt.date) -> Report:
    """Collect every finding recorded for ``date`` (all runs of that logical date)."""
    report = Report(config.report.title, date)
    with Session(engine) as session:
        runs = session.scalars(select(Run).where(Run.run_date == date,
                                                 Run.status != "aborted").order_by(Run.id)).all()
        report.runs = [RunInfo(r.id, r.status, r.started_at, r.finished_at, r.message)
                       for r in runs]
        run_ids = [r.id for r in runs]
        report.sources = _sources(session, run_ids, config)
        report.changes = _changes(session, run_ids)
        report.errors = _errors(session, run_ids)
    skill_paths = {s.name: str(s.path) if s.path else None for s in config.skills}
    report.skills = flag_skills(report.changes, config.skills, skill_paths)
    report.gaps = find_gaps(report.changes, config.skills)
    return report


def _sources(session: Session, run_ids: list[int], config: Config) -> list[SourceSummary]:
    # The latest run of each source gives its figures; changes come from every run.
    latest: dict[str, RunSource] = {}
    baseline: dict[str, bool] = {}
    for row in session.scalars(select(RunSource).where(RunSource.run_id.in_(run_ids))
                               .order_by(RunSource.run_id)):
        latest[row.source] = row
        baseline[row.source] = baseline.get(row.source, False) or row.baseline
    order = [s.name for s in config.typed_sources]
    names = sorted(latest, key=lambda n: (order.index(n) if n in order else len(order), n))
    return [SourceSummary(n, latest[n].kind, latest[n].pages_checked, latest[n].pages_unchanged,
                          latest[n].pages_changed, latest[n].errors, baseline[n])
            for n in names]


def _changes(session: Session, run_ids: list[int]) -> list[PageChange]:
    old, new = aliased(Snapshot), aliased(Snapshot)
    rows = session.execute(
        select(Change, Page, old.content, new.content)
        .join(Page, Change.page_id == Page.id)
        .outerjoin(old, Change.old_snapshot_id == old.id)
        .outerjoin(new, Change.new_snapshot_id == new.id)
        .where(Change.report_run_id.in_(run_ids))
        .order_by(Change.id))
    out = []
    for change, page, old_text, new_text in rows:
        d = change.details or {}
        if change.kind == "modified":
            text = "\n".join(filter(None, [d.get("added_text", ""), d.get("removed_text", "")]))
        else:
            text = new_text or old_text or ""
        out.append(PageChange(
            source=page.source, package=package_of(page.url), url=page.url, title=page.title,
            change=change.kind, summary=change.summary, group=page.group,
            sections=list(d.get("sections", [])), lines_added=d.get("lines_added", 0),
            lines_removed=d.get("lines_removed", 0), diff=d.get("diff", ""), text=text,
            note=d.get("representation", "") and f"fetched as {d['representation']}"))
    return out


def _errors(session: Session, run_ids: list[int]) -> list[FetchProblem]:
    # Only the latest run of each source: an error fixed by a later run that day is gone.
    last_run: dict[str, int] = {}
    for source, run_id in session.execute(
            select(RunSource.source, RunSource.run_id).where(RunSource.run_id.in_(run_ids))):
        last_run[source] = max(run_id, last_run.get(source, 0))
    rows = session.scalars(select(FetchErrorRecord).where(FetchErrorRecord.run_id.in_(run_ids))
                           .order_by(FetchErrorRecord.id))
    return [FetchProblem(e.source, e.url, e.error, e.attempts, e.status_code) for e in rows
            if last_run.get(e.source, e.run_id) == e.run_id]
