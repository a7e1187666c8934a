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
from crawler.insights import (
    Gap,
    Takeaway,
    attach_stale_lines,
    find_gaps,
    suggest_actions,
    takeaways,
)
from crawler.skills import PageChange, SkillFlag, add_bump_reasons, flag_skills, skills_covering
from crawler.sources.base import package_of
from crawler.sources.hexpm import bump_kind
from crawler.staleness import check_skills
from crawler.store.models import (
    Change,
    FetchErrorRecord,
    Page,
    Run,
    RunSource,
    Snapshot,
    nothing_fetched,
)


@dataclass(frozen=True)
class RootMove:
    """A configured root that now answers a permanent redirect to ``to``."""

    from_url: str
    to: str


@dataclass(frozen=True)
class SourceSummary:
    name: str
    kind: str
    pages_checked: int
    pages_unchanged: int
    pages_changed: int
    errors: int
    baseline: bool
    runs: int = 1
    failing_runs: int = 0
    failing_since: dt.date | None = None
    recovered_after: int = 0
    moves: tuple[RootMove, ...] = ()

    @property
    def nothing_fetched(self) -> bool:
        """Every fetch failed: no page, so no baseline yet."""
        return nothing_fetched(self.pages_checked, self.errors)


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


@dataclass(frozen=True)
class VersionBump:
    """A package's latest stable version moved: a likely reason to revisit skills."""

    package: str
    old: str | None
    new: str | None
    kind: str | None  # major | minor | patch | None (first seen, downgrade, unparsable)
    url: str
    skills: list[str] = field(default_factory=list)


@dataclass
class Report:
    title: str
    date: dt.date
    since: dt.date | None = None  # a report over a period: every run from since to date
    runs: list[RunInfo] = field(default_factory=list)
    sources: list[SourceSummary] = field(default_factory=list)
    changes: list[PageChange] = field(default_factory=list)
    skills: list[SkillFlag] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    errors: list[FetchProblem] = field(default_factory=list)
    bumps: list[VersionBump] = field(default_factory=list)
    takeaways: list[Takeaway] = field(default_factory=list)
    failing_threshold: int = 3

    @property
    def failing_sources(self) -> list[SourceSummary]:
        """Sources that have failed on at least ``failing_threshold`` runs in a row."""
        return [s for s in self.sources if s.failing_runs >= self.failing_threshold]

    @property
    def moved_sources(self) -> list[SourceSummary]:
        """Sources with a configured root that moved (sources.yaml wants the new URL)."""
        return [s for s in self.sources if s.moves]

    @property
    def recovered_sources(self) -> list[SourceSummary]:
        return [s for s in self.sources if s.recovered_after >= self.failing_threshold]

    @property
    def full_title(self) -> str:
        if self.since:
            return f"{self.title} — {self.since.isoformat()} to {self.date.isoformat()}"
        return f"{self.title} — {self.date.isoformat()}"

    @property
    def interrupted(self) -> bool:
        return any(r.status == "interrupted" for r in self.runs)

    @property
    def releases(self) -> list[PageChange]:
        """New releases, newest first within each package."""
        found = [c for c in self.changes if c.item == "release" and c.change == "added"]
        return sorted(found, key=lambda c: (c.meta.get("package", ""),
                                            c.meta.get("published_at") or ""), reverse=True)

    def releases_of(self, package: str) -> list[PageChange]:
        return [c for c in self.releases if c.meta.get("package") == package]

    @property
    def retired_releases(self) -> list[PageChange]:
        """Releases known before and retired since: the change added their "retired:" line
        (the reason and message, also in their meta)."""
        return [c for c in self.changes if c.item == "release" and c.change == "modified"
                and c.meta.get("retired")
                and any(line.startswith("+retired:") for line in c.diff.splitlines())]

    def retired_of(self, package: str) -> list[PageChange]:
        return [c for c in self.retired_releases if c.meta.get("package") == package]

    @property
    def release_packages(self) -> list[str]:
        names = {c.meta.get("package", "") for c in self.releases} | {b.package
                                                                        for b in self.bumps}
        return sorted(names | {c.meta.get("package", "") for c in self.retired_releases})

    def bump_of(self, package: str) -> VersionBump | None:
        return next((b for b in self.bumps if b.package == package), None)

    @property
    def posts(self) -> list[PageChange]:
        found = [c for c in self.changes if c.item == "post" and c.change != "removed"]
        return sorted(found, key=lambda c: c.meta.get("published_at") or "", reverse=True)

    def grouped(self) -> list[tuple[str, str, list[PageChange]]]:
        """Page changes grouped by (source, package), in the order sources were configured."""
        order = {s.name: i for i, s in enumerate(self.sources)}
        groups: dict[tuple[str, str], list[PageChange]] = {}
        pages = [c for c in self.changes if c.item == "page"]
        for change in sorted(pages, key=lambda c: (order.get(c.source, 99), c.package,
                                                   _KIND_ORDER[c.change], c.url)):
            groups.setdefault((change.source, change.package), []).append(change)
        return [(s, p, cs) for (s, p), cs in groups.items()]


# Keywords of a huge rewrite are found in its first lines; the rest is not held in memory.
MAX_CHANGE_TEXT = 64 * 1024

_KIND_ORDER = {"added": 0, "removed": 1, "moved": 2, "modified": 3}


def build_report(engine: Engine, config: Config, date: dt.date,
                 since: dt.date | None = None) -> Report:
    """Collect every finding recorded for ``date`` (all runs of that logical date), or,
    with ``since``, for every run from ``since`` to ``date``."""
    report = Report(config.report.title, date, since,
                    failing_threshold=config.alerts.failing_runs)
    with Session(engine) as session:
        runs = session.scalars(select(Run).where(Run.run_date.between(since or date, date),
                                                 Run.status != "aborted").order_by(Run.id)).all()
        report.runs = [RunInfo(r.id, r.status, r.started_at, r.finished_at, r.message)
                       for r in runs]
        run_ids = [r.id for r in runs]
        report.changes = _changes(session, run_ids, dated=len({r.run_date for r in runs}) > 1)
        report.errors = _errors(session, run_ids)
        groups = dict(session.execute(select(Page.url, Page.group)
                                      .where(Page.status == "active", Page.item == "page")).all())
        report.sources = _sources(session, run_ids, config, report)
    report.bumps = _bumps(report.changes, config)
    report.skills = flag_skills(report.changes, config.skills)
    add_bump_reasons(report.skills, config.skills, report.bumps)
    attach_stale_lines(report.skills, check_skills(engine, config), config)
    for flag in report.skills:
        flag.actions = suggest_actions(flag, report)
    report.gaps = find_gaps(report.changes, config, groups)
    report.takeaways = takeaways(report)
    return report


def _bumps(changes: list[PageChange], config: Config) -> list[VersionBump]:
    bumps = []
    for change in changes:
        if change.item != "package" or change.change != "modified":
            continue
        old = _field(change.meta.get("previous_text", ""), "latest stable version")
        old = None if old in (None, "", "None") else old  # the text says None for null
        new = change.meta.get("latest_stable_version")
        if old == new or new is None:
            continue  # no stable release left (all retired): the retired releases say so
        docs = change.meta.get("docs_url") or ""
        kind = bump_kind(old, new)
        bumps.append(VersionBump(change.meta.get("package", change.title), old, new, kind,
                                 change.url, skills_covering(config.skills, docs)
                                 if kind in ("major", "minor") else []))
    return bumps


def _field(text: str, name: str) -> str | None:
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def _sources(session: Session, run_ids: list[int], config: Config,
             report: Report) -> list[SourceSummary]:
    # Several runs on one date add up: a page counts once, changes from every run,
    # errors from the latest run only (see _errors).
    rows: dict[str, list[RunSource]] = {}
    for row in session.scalars(select(RunSource).where(RunSource.run_id.in_(run_ids))
                               .order_by(RunSource.run_id)):
        rows.setdefault(row.source, []).append(row)
    order = [s.name for s in config.typed_sources]
    names = sorted(rows, key=lambda n: (order.index(n) if n in order else len(order), n))
    out = []
    for name in names:
        checked = max(r.pages_checked for r in rows[name])
        changes = [c for c in report.changes if c.source == name]
        errors = sum(1 for e in report.errors if e.source == name)
        fetched_changes = sum(1 for c in changes if c.change != "removed")
        last = rows[name][-1]
        out.append(SourceSummary(
            name, last.kind, checked, max(0, checked - fetched_changes - errors),
            len(changes), errors, any(r.baseline for r in rows[name]), len(rows[name]),
            last.failing_runs, last.failing_since,
            max(r.recovered_after for r in rows[name]),
            tuple(dict.fromkeys(RootMove(m["from"], m["to"])
                                for r in rows[name] for m in (r.moves or [])))))
    return out


def _changes(session: Session, run_ids: list[int], dated: bool = False) -> list[PageChange]:
    """The changes reported by ``run_ids``; ``dated`` prefixes each summary with the date
    its run found it (for a report over several dates)."""
    old, new = aliased(Snapshot), aliased(Snapshot)
    rows = session.execute(
        select(Change, Page, old.notices, new.notices, old.terms, new.terms, Run.run_date)
        .join(Page, Change.page_id == Page.id)
        .join(Run, Change.run_id == Run.id)
        .outerjoin(old, Change.old_snapshot_id == old.id)
        .outerjoin(new, Change.new_snapshot_id == new.id)
        .where(Change.report_run_id.in_(run_ids))
        .order_by(Change.id)).all()
    # Whole texts only where the report needs them (a new or removed page's keywords, a
    # package's previous versions); a modified page is told by its diff.
    wanted = {i for change, page, *_ in rows
              if change.kind in ("added", "removed") or page.item == "package"
              for i in (change.old_snapshot_id, change.new_snapshot_id) if i}
    texts = _texts(session, wanted)
    out = []
    for (change, page, old_notices, new_notices, old_terms, new_terms, found_on) in rows:
        if page.item == "feed":
            continue  # the feed document itself: kept for its validators only
        old_text = texts.get(change.old_snapshot_id, "")
        new_text = texts.get(change.new_snapshot_id, "")
        d = change.details or {}
        meta = dict(page.meta or {})
        if page.moved_to:  # where a moved page went (pages.moved_to)
            meta["moved_to"] = page.moved_to
        if change.kind == "modified" and page.item == "package":
            meta["previous_text"] = old_text or ""
        if change.kind == "modified":
            text = "\n".join(filter(None, [d.get("added_text", ""),
                                           d.get("removed_text", "")]))[:MAX_CHANGE_TEXT]
        elif change.kind == "moved":
            text = ""  # only the address changed: watches may match, keywords may not
        else:
            text = "\n".join(filter(None, [new_text or old_text or "", meta.get("article")]))
        out.append(PageChange(
            source=page.source, package=meta.get("package") or package_of(page.url),
            url=meta.get("link") or page.url, title=page.title, item=page.item, meta=meta,
            change=change.kind, group=page.group,
            summary=f"{found_on.isoformat()}: {change.summary}" if dated else change.summary,
            sections=list(d.get("sections", [])), lines_added=d.get("lines_added", 0),
            lines_removed=d.get("lines_removed", 0), diff=d.get("diff", ""), text=text,
            note=d.get("representation", "") and f"fetched as {d['representation']}",
            new_notices=_new_notices(old_notices or [], new_notices or [])
            if change.kind in ("added", "modified") else [],
            new_terms=sorted(set(new_terms or []) - set(old_terms or []))
            if change.kind in ("added", "modified") else [],
            new_sections=_new_sections(d.get("added_text", ""), d.get("removed_text", ""))
            if change.kind == "modified" else []))
    return out


def _texts(session: Session, ids: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        out.update(session.execute(select(Snapshot.id, Snapshot.content)
                                   .where(Snapshot.id.in_(ordered[start:start + 500]))).all())
    return out


def _new_notices(old: list[dict], new: list[dict]) -> list[dict]:
    known = {(n["term"], n["kind"]) for n in old}
    return [n for n in new if (n["term"], n["kind"]) not in known]


def _new_sections(added_text: str, removed_text: str) -> list[str]:
    # A heading among the added lines is new unless it was also removed (moved).
    before = {line for line in removed_text.splitlines() if line.startswith("#")}
    return [line.lstrip("#").strip() for line in added_text.splitlines()
            if line.startswith("## ") and line not in before]


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
