"""Which skills a run concerns, and why: a watched URL changed, a change mentions a
keyword, a watched package had a major or minor release, a line teaches a retired term.

Flags are built in steps (:func:`flag_skills`, then :func:`add_bump_reasons`, then
:func:`add_stale_lines`), each returning new flags: a skill first flagged by a later
step comes after the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from crawler.analysis.bumps import VersionBump
from crawler.analysis.facts import PageChange
from crawler.analysis.keywords import fold, mentioned_keywords
from crawler.analysis.stale import StaleLine
from crawler.config import SkillConfig
from crawler.types import ChangeKind, Item


@dataclass(frozen=True)
class FlagReason:
    """One change that points at a skill."""

    url: str
    title: str
    change: ChangeKind | Item  # the change's kind; Item.RELEASE for a version bump
    why: str
    # The skill watches the changed URL (or the bumped package's docs), rather than
    # only mentioning one of its keywords.
    watched: bool = False
    # The change retires something: a new deprecation notice, a removed page.
    retires: bool = False
    package: str = ""  # the package whose docs the page is ("" for a post)

    @property
    def weight(self) -> int:
        """How much the reason weighs (REASON_WEIGHTS): a release bump, then a watched
        page that retires something, a new guide under a watch, a watched page
        modified, a keyword mention."""
        if self.change == Item.RELEASE:
            return REASON_WEIGHTS["release"]
        if not self.watched:
            return REASON_WEIGHTS["keyword"]
        if self.retires:
            return REASON_WEIGHTS["retires"]
        if self.change == ChangeKind.ADDED:
            return REASON_WEIGHTS["new guide"]
        return REASON_WEIGHTS["watched"]


REASON_WEIGHTS = {"release": 5, "retires": 4, "new guide": 3, "watched": 2, "keyword": 1}
# The reasons a note lists per skill before "and N more".
SHOWN_REASONS = 5
# The stale lines a note lists per skill; the JSON and `skills check` keep every one.
SHOWN_STALE_LINES = 10


@dataclass(frozen=True)
class MoreReasons:
    """The reasons of a skill a note does not list, counted by package."""

    package: str  # "" for pages of no package
    count: int


@dataclass(frozen=True)
class SkillFlag:
    """A skill that needs a look, with every change that points at it."""

    name: str
    path: str | None
    reasons: tuple[FlagReason, ...] = ()
    stale_lines: tuple[StaleLine, ...] = ()
    actions: tuple[str, ...] = ()

    @property
    def shown_stale_lines(self) -> tuple[StaleLine, ...]:
        """The first ``SHOWN_STALE_LINES`` stale lines, the ones a note lists."""
        return self.stale_lines[:SHOWN_STALE_LINES]

    @property
    def more_stale_lines(self) -> int:
        """How many stale lines the note leaves to the JSON and ``skills check``."""
        return max(0, len(self.stale_lines) - SHOWN_STALE_LINES)

    @property
    def ranked_reasons(self) -> tuple[FlagReason, ...]:
        """The reasons, heaviest first (a stable sort: same weight, same order)."""
        return tuple(sorted(self.reasons, key=lambda r: -r.weight))

    @property
    def top_reasons(self) -> tuple[FlagReason, ...]:
        """The ``SHOWN_REASONS`` heaviest reasons, the ones a note lists."""
        return self.ranked_reasons[:SHOWN_REASONS]

    @property
    def more_reasons(self) -> tuple[MoreReasons, ...]:
        """The other reasons, counted by the package of their page, most first."""
        counts = Counter(r.package for r in self.ranked_reasons[SHOWN_REASONS:])
        return tuple(MoreReasons(p, n) for p, n in sorted(counts.items(),
                                                            key=lambda i: (-i[1], i[0])))

    @classmethod
    def of(cls, skill: SkillConfig, reasons: Iterable[FlagReason] = ()) -> SkillFlag:
        return cls(skill.name, str(skill.path) if skill.path else None, tuple(reasons))


def flag_skills(changes: Iterable[PageChange],
                skills: Sequence[SkillConfig]) -> tuple[SkillFlag, ...]:
    """The skills whose ``watches`` match a changed URL or whose ``keywords`` it mentions,
    in the order they are configured."""
    reasons: list[list[FlagReason]] = [[] for _ in skills]
    for change in changes:
        if change.item in (Item.RELEASE, Item.PACKAGE):
            continue  # releases flag skills through the version bump (add_bump_reasons)
        text = f"{change.title}\n{change.text}"
        folded = fold(text)  # once per change, shared by every skill
        urls = change.match_urls
        for skill, found in zip(skills, reasons, strict=True):
            why = []
            glob = next(filter(None, (skill.watches_url(url) for url in urls)), None)
            if glob:
                why.append(f"watches {glob}")
            words = mentioned_keywords(skill, text, folded)
            if words:
                listed = ", ".join(words[:5]) + (" …" if len(words) > 5 else "")
                why.append(f"mentions {listed}")
            if why:
                found.append(FlagReason(change.url, change.title, change.change,
                                        "; ".join(why), watched=bool(glob),
                                        retires=bool(change.new_notices)
                                        or change.change == ChangeKind.REMOVED,
                                        package=change.package
                                        if change.item == Item.PAGE else ""))
    return tuple(SkillFlag.of(skill, found)
                 for skill, found in zip(skills, reasons, strict=True) if found)


def add_bump_reasons(flags: Iterable[SkillFlag], skills: Sequence[SkillConfig],
                     bumps: Iterable[VersionBump]) -> tuple[SkillFlag, ...]:
    """``flags`` with the skills covering a package whose latest stable version had a
    major/minor bump flagged too; the latest bump's reason comes first."""
    by_name = {s.name: s for s in skills}
    out = list(flags)
    for bump in bumps:
        reason = FlagReason(bump.url, f"{bump.package} {bump.old} → {bump.new}", Item.RELEASE,
                            f"{bump.kind} release of a package whose docs it watches",
                            watched=True, package=bump.package)
        for name in bump.skills:
            _update(out, by_name[name], partial(_with_reason, reason))
    return tuple(out)


def add_stale_lines(flags: Iterable[SkillFlag], skills: Sequence[SkillConfig],
                    stale: Mapping[str, Sequence[StaleLine]]) -> tuple[SkillFlag, ...]:
    """``flags`` with each skill's stale lines on its flag; a skill with stale lines is
    flagged."""
    out = list(flags)
    for skill in skills:
        lines = tuple(stale.get(skill.name) or ())
        if lines:
            _update(out, skill, partial(_with_stale_lines, lines))
    return tuple(out)


def _with_reason(reason: FlagReason, flag: SkillFlag) -> SkillFlag:
    return replace(flag, reasons=(reason, *flag.reasons))


def _with_stale_lines(lines: tuple[StaleLine, ...], flag: SkillFlag) -> SkillFlag:
    return replace(flag, stale_lines=lines)


def _update(flags: list[SkillFlag], skill: SkillConfig,
            change: Callable[[SkillFlag], SkillFlag]) -> None:
    """Replace ``skill``'s flag in ``flags`` by ``change(flag)``; a skill with no flag
    yet gets one, after the others."""
    index = next((i for i, f in enumerate(flags) if f.name == skill.name), None)
    if index is None:
        flags.append(change(SkillFlag.of(skill)))
    else:
        flags[index] = change(flags[index])
