"""Skill gaps over several reports: which gaps of earlier reports a skill now covers
(the note's Decisions), which are still open, and the new skills the persistent ones
propose (its Future considerations).

A gap is reported once, by the run that saw the new page, section or term; each
report records the gaps it listed, and the next ones carry them until a skill covers
them or the docs drop them. A gap listed by an earlier report and still open today has
been seen by two reports at least: it persists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from crawler.analysis.gaps import Gap, covering_skills, with_closest_skills
from crawler.analysis.skill_files import SkillFile
from crawler.config import SkillConfig
from crawler.types import GapKind
from crawler.vocab import Term

# Page titles named in a proposal's scope; the JSON lists them all.
SCOPE_TITLES = 3


@dataclass(frozen=True)
class OpenGap:
    """A gap an earlier report listed and no skill has covered since."""

    gap: Gap
    first_seen: dt.date


@dataclass(frozen=True)
class CoveredGap:
    """A gap of an earlier report that a skill covers now."""

    gap: Gap
    skill: str
    first_seen: dt.date


@dataclass(frozen=True)
class CarriedGaps:
    """Earlier reports' open gaps as they stand today."""

    still_open: tuple[OpenGap, ...] = ()
    covered: tuple[CoveredGap, ...] = ()


@dataclass(frozen=True)
class ProposedSkill:
    """A new skill for persistent gaps no existing skill is close to, with its evidence."""

    name: str
    package: str
    group: str
    pages: tuple[str, ...]  # the titles of the pages the gaps were found on
    sections: int
    terms: int
    first_seen: dt.date
    gaps: tuple[Gap, ...]

    @property
    def evidence(self) -> str:
        """``"3 pages, 5 sections, 1 term"``."""
        return ", ".join(_count(n, noun) for n, noun in
                         ((len(self.pages), "page"), (self.sections, "section"),
                          (self.terms, "term")))

    @property
    def scope(self) -> str:
        """What the skill would be about: its docs, topic and first page titles."""
        titles = ", ".join(self.pages[:SCOPE_TITLES])
        more = f" and {len(self.pages) - SCOPE_TITLES} more" if len(self.pages) > SCOPE_TITLES \
            else ""
        topic = f"{self.package} docs" + (f" › {self.group}" if self.group else "")
        return f"{topic} ({titles}{more})"


@dataclass(frozen=True)
class OpenForSkill:
    """Persistent gaps an existing skill is closest to."""

    skill: str
    gaps: int
    first_seen: dt.date


def carry_gaps(earlier: Iterable[OpenGap], skills: Sequence[SkillConfig],
               skill_files: Iterable[SkillFile], page_texts: Mapping[str, str],
               groups: Mapping[str, str] | None = None,
               prefer: Iterable[str] = ()) -> CarriedGaps:
    """Split the gaps earlier reports left open into those a skill covers now (credited
    to a skill of ``prefer``, the new and edited ones, when one of them covers it) and
    those still open, each with its closest skill among today's (``groups``: the
    current pages' sidebar groups by URL). A gap whose page is no longer among
    ``page_texts`` (the current pages' texts by URL), or whose section or term the page
    no longer shows, is dropped: the docs took it back."""
    files = tuple(skill_files)
    preferred = set(prefer)
    still_open, covered = [], []
    for item in earlier:
        text = page_texts.get(item.gap.url)
        if text is None or not _still_shown(item.gap, text):
            continue
        covering = covering_skills(item.gap, skills, files, text)
        if covering:
            skill = next((s for s in covering if s in preferred), covering[0])
            covered.append(CoveredGap(item.gap, skill, item.first_seen))
        else:
            still_open.append(item)
    suggested = with_closest_skills((o.gap for o in still_open), skills, groups or {})
    return CarriedGaps(tuple(OpenGap(gap, o.first_seen) for gap, o in zip(suggested, still_open,
                                                                           strict=True)),
                       tuple(covered))


def _still_shown(gap: Gap, text: str) -> bool:
    if gap.kind == GapKind.SECTION:
        return gap.section in text
    if gap.kind == GapKind.TERM and gap.term_kind:
        return Term(gap.title, gap.term_kind).literal() in text
    return True


def propose_skills(persistent: Iterable[OpenGap]) -> tuple[ProposedSkill, ...]:
    """The persistent gaps that no existing skill is close to, grouped by the new skill
    each proposes; the best-evidenced proposal first."""
    grouped: dict[str, list[OpenGap]] = {}
    for item in persistent:
        if item.gap.suggested_skill or not item.gap.new_skill:
            continue
        grouped.setdefault(item.gap.new_skill, []).append(item)
    proposals = []
    for name, items in grouped.items():
        gaps = tuple(i.gap for i in items)
        pages = tuple(dict.fromkeys(g.page_title or g.title for g in gaps))
        proposals.append(ProposedSkill(
            name, gaps[0].package, next((g.group for g in gaps if g.group), ""), pages,
            sum(1 for g in gaps if g.kind == GapKind.SECTION),
            sum(1 for g in gaps if g.kind == GapKind.TERM),
            min(i.first_seen for i in items), gaps))
    proposals.sort(key=lambda p: (-len(p.gaps), p.first_seen, p.name))
    return tuple(proposals)


def open_for_skills(persistent: Iterable[OpenGap]) -> tuple[OpenForSkill, ...]:
    """How many persistent gaps each existing skill is the closest to, and since when."""
    counts: dict[str, list[dt.date]] = {}
    for item in persistent:
        if item.gap.suggested_skill:
            counts.setdefault(item.gap.suggested_skill, []).append(item.first_seen)
    return tuple(OpenForSkill(skill, len(dates), min(dates))
                 for skill, dates in sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"
