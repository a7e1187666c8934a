"""The facts of one dated report, gathered from the database, and what they mean.

A report covers every run of its date, so a second run on the same day adds to the
first one's findings instead of hiding them. :func:`build_report` gathers the typed
facts (runs, sources, changes, errors, sidebar groups, the docs' evidence), runs the
analysers of :mod:`crawler.analysis` on them with explicit inputs, and builds the
frozen :class:`Report` once. Renderers only format it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import cast

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, aliased

from crawler.analysis.actions import suggest_actions
from crawler.analysis.bumps import VersionBump, version_bumps
from crawler.analysis.changes import (
    PageGroup,
    in_report_order,
    new_posts,
    new_releases,
    page_groups,
    problems_in_report_order,
    retired_releases,
)
from crawler.analysis.decisions import (
    Decision,
    SkillCheckFact,
    changed_skills,
    current_checks,
    decisions,
    since_previous,
)
from crawler.analysis.facts import FetchProblem, PageChange, RootMove, RunInfo, SourceSummary
from crawler.analysis.findings import docs_findings
from crawler.analysis.flags import SkillFlag, add_bump_reasons, add_stale_lines, flag_skills
from crawler.analysis.gaps import Gap, find_gaps, folder_of
from crawler.analysis.highlights import ReleaseHighlights, release_highlights
from crawler.analysis.owners import Namespaces
from crawler.analysis.prereleases import Prerelease, prereleases_ahead
from crawler.analysis.proposals import (
    CoveredGap,
    OpenForSkill,
    OpenGap,
    ProposedSkill,
    carry_gaps,
    open_for_skills,
    propose_skills,
)
from crawler.analysis.queries import (
    docs_facts,
    earlier_open_gaps,
    page_texts,
    past_skill_checks,
    previous_report_date,
    sidebar_groups,
)
from crawler.analysis.skill_commits import commit_subjects
from crawler.analysis.skill_files import SkillFile, read_skill_files
from crawler.analysis.stale import check_skills
from crawler.analysis.takeaways import Takeaway, takeaways
from crawler.config import Config
from crawler.diff import fold_diff, section_name
from crawler.sources.base import package_of
from crawler.store.lock import live_run_ids
from crawler.store.models import (
    Change,
    FetchErrorRecord,
    Page,
    Run,
    RunSource,
    Snapshot,
)
from crawler.store.runs import taken_over
from crawler.types import (
    ChangeDetails,
    ChangeKind,
    GapKind,
    Item,
    ItemMeta,
    NoticeDict,
    RunStatus,
)
from crawler.versions import parse_version

# New pages no skill covers that a note lists; the JSON report has every one.
SHOWN_PAGE_GAPS = 10


@dataclass(frozen=True)
class MoreGaps:
    """New pages the note does not list, with the suggestion they share."""

    suggestion: str  # "closest skill: x" or "propose a new skill: y"
    count: int


@dataclass(frozen=True)
class Report:
    """Everything one report says, built once by :func:`build_report`."""

    title: str
    date: dt.date
    since: dt.date | None = None  # a report over a period: every run from since to date
    runs: tuple[RunInfo, ...] = ()
    sources: tuple[SourceSummary, ...] = ()
    changes: tuple[PageChange, ...] = ()
    skills: tuple[SkillFlag, ...] = ()
    gaps: tuple[Gap, ...] = ()
    errors: tuple[FetchProblem, ...] = ()
    bumps: tuple[VersionBump, ...] = ()
    takeaways: tuple[Takeaway, ...] = ()
    prereleases: tuple[Prerelease, ...] = ()  # to review when they ship (future)
    highlights: tuple[ReleaseHighlights, ...] = ()  # what each major/minor bump brings
    decisions: tuple[Decision, ...] = ()  # what changed in the skills since the last report
    skill_checks: tuple[SkillCheckFact, ...] = ()  # this report's, for the next one
    open_gaps: tuple[OpenGap, ...] = ()  # earlier reports' gaps still open: they persist
    covered_gaps: tuple[CoveredGap, ...] = ()  # earlier reports' gaps a skill covers now
    proposals: tuple[ProposedSkill, ...] = ()  # new skills for the persistent gaps
    failing_threshold: int = 3

    def highlights_of(self, package: str) -> ReleaseHighlights | None:
        return next((h for h in self.highlights if h.package == package), None)

    @property
    def shown_gaps(self) -> tuple[Gap, ...]:
        """The gaps a note lists: the first ``SHOWN_PAGE_GAPS`` new pages, then the new
        sections and terms (already capped by ``find_gaps``)."""
        pages = [g for g in self.gaps if g.kind == GapKind.PAGE]
        return (*pages[:SHOWN_PAGE_GAPS], *(g for g in self.gaps if g.kind != GapKind.PAGE))

    @property
    def more_page_gaps(self) -> tuple[MoreGaps, ...]:
        """The new pages a note leaves to the JSON report, counted by suggestion."""
        pages = [g for g in self.gaps if g.kind == GapKind.PAGE][SHOWN_PAGE_GAPS:]
        counts = Counter(g.suggestion for g in pages)
        return tuple(MoreGaps(suggestion, n) for suggestion, n in counts.most_common())

    @property
    def open_for_skills(self) -> tuple[OpenForSkill, ...]:
        """The persistent gaps an existing skill is closest to, by skill."""
        return open_for_skills(self.open_gaps)

    @property
    def has_future(self) -> bool:
        """Whether the note has Future considerations."""
        return bool(self.prereleases or self.proposals or self.open_gaps)

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
        return any(r.status == RunStatus.INTERRUPTED for r in self.runs)

    @property
    def page_change_count(self) -> int:
        """How many pages changed (releases and posts are not pages)."""
        return sum(1 for c in self.changes if c.item == Item.PAGE)

    @property
    def summary_line(self) -> str:
        """What the run found, in one line at the top of the note."""
        stale = sum(len(f.stale_lines) for f in self.skills)
        pages = self.page_change_count
        parts = [_count(len(self.skills), "skill") + " to update"
                 + (f" ({_count(stale, 'stale line')})" if stale else ""),
                 _count(len(self.gaps), "skill gap"),
                 _count(pages, "page change"),
                 _count(len(self.releases), "release"),
                 _count(len(self.posts), "post")]
        if self.errors:
            parts.append(_count(len(self.errors), "fetch problem"))
        return "; ".join(parts) + f", from {_count(len(self.sources), 'source')} reviewed."

    @property
    def releases(self) -> tuple[PageChange, ...]:
        """New releases, newest first within each package."""
        return new_releases(self.changes)

    def releases_of(self, package: str) -> list[PageChange]:
        return [c for c in self.releases if c.meta.get("package") == package]

    @property
    def retired_releases(self) -> tuple[PageChange, ...]:
        """Releases known before and retired since."""
        return retired_releases(self.changes)

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
    def posts(self) -> tuple[PageChange, ...]:
        """New and updated posts, newest first."""
        return new_posts(self.changes)

    @property
    def page_groups(self) -> tuple[PageGroup, ...]:
        """Page changes grouped by (source, package), in the order sources were configured,
        each split by kind."""
        return page_groups(self.changes, [s.name for s in self.sources])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


# Keywords of a huge rewrite are found in its first lines; the rest is not held in memory.
MAX_CHANGE_TEXT = 64 * 1024


def build_report(engine: Engine, config: Config, date: dt.date,
                 since: dt.date | None = None) -> Report:
    """Collect every finding recorded for ``date`` (all runs of that logical date), or,
    with ``since``, for every run from ``since`` to ``date``. A run still crawling (of
    other sources, from another process) is not in it yet: its own report adds it."""
    # The facts, from the database.
    with Session(engine) as session:
        runs = session.scalars(select(Run).where(Run.run_date.between(since or date, date),
                                                 Run.status != RunStatus.ABORTED)
                               .order_by(Run.id)).all()
        if any(r.status == RunStatus.RUNNING for r in runs):
            live = live_run_ids(session)
            runs = [r for r in runs if not (r.status == RunStatus.RUNNING and r.id in live)]
        run_ids = [r.id for r in runs]
        # What the killed runs these runs took over saw of their sources: never
        # reported by a run of their own (their changes moved to these runs already).
        seen_ids = sorted([*run_ids, *taken_over(session, run_ids)])
        found = _changes(session, run_ids, dated=len({r.run_date for r in runs}) > 1)
        errors = _errors(session, seen_ids)
        sources = _sources(session, run_ids, seen_ids, config, found, errors)
        run_infos = tuple(RunInfo(r.id, RunStatus(r.status), r.started_at, r.finished_at,
                                  r.message) for r in runs)
    # Stored in the order pages were fetched: put in an order two identical crawls share.
    source_order = [s.name for s in sources]
    changes = in_report_order(found, source_order)
    errors = problems_in_report_order(errors, source_order)
    docs = docs_facts(engine, [s.name for s in config.typed_sources])
    skill_files = read_skill_files(config)
    # What they mean: each analyser gets what it reads, in dependency order.
    bumps = version_bumps(changes, config.skills)
    stale = check_skills(skill_files, docs_findings(docs), Namespaces.of(docs.taught),
                         docs)
    flags = flag_skills(changes, config.skills)
    flags = add_bump_reasons(flags, config.skills, bumps)
    flags = add_stale_lines(flags, config.skills, stale)
    flags = tuple(replace(flag, actions=suggest_actions(flag, changes)) for flag in flags)
    earlier = _unique(earlier_open_gaps(engine, date))
    # The pages near a change or an earlier gap: where their closest skills are found.
    places = [(c.url, c.group) for c in changes if c.item == Item.PAGE]
    places += [(o.gap.url, o.gap.group) for o in earlier]
    groups = sidebar_groups(engine, [(folder_of(url), group) for url, group in places])
    gaps = find_gaps(changes, config.skills, groups, skill_files)
    highlights = _highlights(engine, bumps, changes)
    checks = current_checks(skill_files, stale, date)
    history = past_skill_checks(engine, date, (s.name for s in config.skills))
    carried = carry_gaps(earlier, config.skills, skill_files,
                         page_texts(engine, list(dict.fromkeys(o.gap.url for o in earlier))),
                         groups, prefer=changed_skills(checks, history))
    covers: dict[str, list[Gap]] = {}
    for item in carried.covered:
        covers.setdefault(item.skill, []).append(item.gap)
    decided = _with_commits(decisions(checks, history, covers,
                                      previous_report_date(engine, date)),
                            skill_files, history)
    key_takeaways = takeaways(changes=changes, bumps=bumps, flags=flags, errors=errors,
                              highlights=highlights)
    return Report(config.report.title, date, since, runs=run_infos, sources=sources,
                  changes=changes, skills=flags, gaps=gaps, errors=errors, bumps=bumps,
                  takeaways=key_takeaways, failing_threshold=config.alerts.failing_runs,
                  prereleases=prereleases_ahead(changes, config.skills),
                  highlights=highlights, decisions=decided, skill_checks=checks,
                  open_gaps=carried.still_open, covered_gaps=carried.covered,
                  proposals=propose_skills(carried.still_open))


def _unique(gaps: Iterable[OpenGap]) -> tuple[OpenGap, ...]:
    """One of each gap (the oldest: the one that has persisted longest)."""
    seen: dict[tuple[str, str, str], OpenGap] = {}
    for item in gaps:
        seen.setdefault(item.gap.identity, item)
    return tuple(seen.values())


def _with_commits(decided: Iterable[Decision], files: Iterable[SkillFile],
                  history: Mapping[str, Sequence[SkillCheckFact]]) -> tuple[Decision, ...]:
    """Each added or edited skill's decision with the subjects of the commits to its
    file since the previous report checked it (when the file is in a git work tree)."""
    paths = {f.name: f.path for f in files}
    out = []
    for decision in decided:
        since = since_previous(decision.skill, history)
        if (decision.added or decision.edited) and since and decision.skill in paths:
            decision = replace(decision, commits=commit_subjects(paths[decision.skill], since))
        out.append(decision)
    return tuple(out)


def _highlights(engine: Engine, bumps: Sequence[VersionBump],
                changes: Sequence[PageChange]) -> tuple[ReleaseHighlights, ...]:
    """The changelog highlights of each major or minor bump whose changelog page is
    stored (the release's changelog link, else the package docs' changelog.html)."""
    urls: dict[str, str] = {}
    for bump in bumps:
        if not bump.significant:
            continue
        metas = [c.meta for c in changes if c.meta.get("package") == bump.package]
        roots = [d for m in metas if (d := m.get("docs_url")) and _is_root(d)]
        url = next((u for m in metas if (u := m.get("changelog_url"))), None) \
            or next((f"{d.rstrip('/')}/changelog.html" for d in roots), None)
        if url:
            urls[bump.package] = url
    texts = page_texts(engine, list(urls.values()))
    found = (release_highlights(b.package, b.old, b.new, texts[urls[b.package]],
                                urls[b.package])
             for b in bumps if b.package in urls and urls[b.package] in texts)
    return tuple(h for h in found if not h.empty)


def _is_root(docs_url: str) -> bool:
    """Whether a docs URL is a package's root (not one version's docs)."""
    return parse_version(docs_url.rstrip("/").rsplit("/", 1)[-1]) is None


def _sources(session: Session, run_ids: list[int], seen_ids: list[int], config: Config,
             changes: Sequence[PageChange],
             errors: Sequence[FetchProblem]) -> tuple[SourceSummary, ...]:
    # Several runs on one date add up: a page counts once, changes from every run,
    # errors from the latest run only (see _errors). ``seen_ids`` adds the killed runs
    # these runs took over: a baseline a killed run recorded is this report's to tell,
    # with the pages it checked, but a killed run is not one of the date's runs.
    rows: dict[str, list[RunSource]] = {}
    for row in session.scalars(select(RunSource).where(RunSource.run_id.in_(seen_ids))
                               .order_by(RunSource.run_id)):
        rows.setdefault(row.source, []).append(row)
    order = [s.name for s in config.typed_sources]
    roots = {s.name: [str(u) for u in s.urls] for s in config.typed_sources}
    names = sorted(rows, key=lambda n: (order.index(n) if n in order else len(order), n))
    out = []
    for name in names:
        moves = dict.fromkeys(RootMove(m["from"], m["to"])
                              for r in rows[name] for m in (r.moves or []))
        checked = max(r.pages_checked for r in rows[name])
        changed = [c for c in changes if c.source == name]
        failed = sum(1 for e in errors if e.source == name)
        fetched_changes = sum(1 for c in changed if c.change != ChangeKind.REMOVED)
        last = rows[name][-1]
        out.append(SourceSummary(
            name, last.kind, checked, max(0, checked - fetched_changes - failed),
            len(changed), failed, any(r.baseline for r in rows[name]),
            max(1, sum(1 for r in rows[name] if r.run_id in run_ids)),
            last.failing_runs, last.failing_since,
            max(r.recovered_after for r in rows[name]),
            _in_root_order(moves, roots.get(name, []))))
    return tuple(out)


def _in_root_order(moves: Iterable[RootMove], roots: list[str]) -> tuple[RootMove, ...]:
    # A run records its moves as the roots answer: list them as sources.yaml lists them.
    return tuple(sorted(moves, key=lambda m: (roots.index(m.from_url) if m.from_url in roots
                                              else len(roots), m.from_url)))


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
    # Whole texts only where the report needs them (a new or removed page's keywords); a
    # modified page is told by its diff.
    wanted = {i for change, *_ in rows if change.kind in (ChangeKind.ADDED, ChangeKind.REMOVED)
              for i in (change.old_snapshot_id, change.new_snapshot_id) if i}
    texts = _texts(session, wanted)
    out = []
    for (change, page, old_notices, new_notices, old_terms, new_terms, found_on) in rows:
        item, kind = Item(page.item), ChangeKind(change.kind)
        if item == Item.FEED:
            continue  # the feed document itself: kept for its validators only
        old_text = texts.get(change.old_snapshot_id or 0, "")  # ids start at 1
        new_text = texts.get(change.new_snapshot_id or 0, "")
        d = cast(ChangeDetails, change.details or {})
        meta = cast(ItemMeta, dict(page.meta or {}))
        # Where a moved page went: as the change recorded it, else as the page is now.
        moved_to = (d.get("to") if kind == ChangeKind.MOVED else None) or page.moved_to
        if moved_to:
            meta["moved_to"] = moved_to
        if kind == ChangeKind.MODIFIED:
            text = "\n".join(filter(None, [d.get("added_text", ""),
                                           d.get("removed_text", "")]))[:MAX_CHANGE_TEXT]
        elif kind == ChangeKind.MOVED:
            text = ""  # only the address changed: watches may match, keywords may not
        else:
            text = "\n".join(filter(None, [new_text or old_text or "", meta.get("article")]))
        taught = kind in (ChangeKind.ADDED, ChangeKind.MODIFIED)
        out.append(PageChange(
            source=page.source, package=meta.get("package") or package_of(page.url),
            url=meta.get("link") or page.url, title=page.title, item=item, meta=meta,
            before=d.get("before") if kind == ChangeKind.MODIFIED and item != Item.PAGE
            else None,
            change=kind, group=page.group,
            summary=f"{found_on.isoformat()}: {change.summary}" if dated else change.summary,
            sections=tuple(d.get("sections", [])), lines_added=d.get("lines_added", 0),
            lines_removed=d.get("lines_removed", 0), diff=fold_diff(d.get("diff", "")),
            text=text,
            note=d.get("representation", "") and f"fetched as {d['representation']}",
            new_notices=_new_notices(old_notices or [], new_notices or []) if taught else (),
            new_terms=tuple(sorted(set(new_terms or []) - set(old_terms or [])))
            if taught else (),
            new_sections=_new_sections(d.get("added_text", ""), d.get("removed_text", ""))
            if kind == ChangeKind.MODIFIED else ()))
    return out


def _texts(session: Session, ids: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        out.update(session.execute(select(Snapshot.id, Snapshot.content)
                                   .where(Snapshot.id.in_(ordered[start:start + 500]))).all())
    return out


def _new_notices(old: list[NoticeDict], new: list[NoticeDict]) -> tuple[NoticeDict, ...]:
    known = {(n["term"], n["kind"]) for n in old}
    return tuple(n for n in new if (n["term"], n["kind"]) not in known)


def _new_sections(added_text: str, removed_text: str) -> tuple[str, ...]:
    # A heading among the added lines is new unless it was also removed (moved).
    before = {line for line in removed_text.splitlines() if line.startswith("#")}
    return tuple(section_name(line.lstrip("#")) for line in added_text.splitlines()
                 if line.startswith("## ") and line not in before)


def _errors(session: Session, run_ids: list[int]) -> tuple[FetchProblem, ...]:
    # Only the latest run of each source: an error fixed by a later run that day is gone
    # (a killed run taken over counts, for the sources no later run crawled).
    last_run: dict[str, int] = {}
    for source, run_id in session.execute(
            select(RunSource.source, RunSource.run_id).where(RunSource.run_id.in_(run_ids))):
        last_run[source] = max(run_id, last_run.get(source, 0))
    rows = session.scalars(select(FetchErrorRecord).where(FetchErrorRecord.run_id.in_(run_ids))
                           .order_by(FetchErrorRecord.id))
    return tuple(FetchProblem(e.source, e.url, e.error, e.attempts, e.status_code)
                 for e in rows if last_run.get(e.source, e.run_id) == e.run_id)


__all__ = ["MAX_CHANGE_TEXT", "FetchProblem", "PageChange", "PageGroup", "Report", "RootMove",
           "RunInfo", "SourceSummary", "VersionBump", "build_report"]
