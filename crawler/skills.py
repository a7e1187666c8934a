"""Decide which skills a run's changes concern, and which new pages no skill covers."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from functools import lru_cache

from crawler.config import SkillConfig


@dataclass(frozen=True)
class PageChange:
    """One change as the report shows it (built from a stored Change)."""

    source: str
    package: str
    url: str
    title: str
    change: str  # added | removed | modified
    summary: str = ""
    group: str = ""
    sections: list[str] = field(default_factory=list)
    lines_added: int = 0
    lines_removed: int = 0
    diff: str = ""
    # The text whose keywords count: changed lines, or the whole page when added/removed.
    text: str = ""
    note: str = ""
    item: str = "page"  # page | post | release | package
    meta: dict = field(default_factory=dict)
    # What the change taught: deprecation notices, terms and h2 sections that are new.
    new_notices: list[dict] = field(default_factory=list)
    new_terms: list[str] = field(default_factory=list)
    new_sections: list[str] = field(default_factory=list)

    @property
    def match_urls(self) -> list[str]:
        """URLs that ``watches`` globs are matched against (a release also by its docs)."""
        docs = self.meta.get("docs_url")
        return [self.url, docs] if docs else [self.url]


@dataclass(frozen=True)
class FlagReason:
    url: str
    title: str
    change: str
    why: str


@dataclass
class SkillFlag:
    """A skill that needs a look, with every change that points at it."""

    name: str
    path: str | None
    reasons: list[FlagReason] = field(default_factory=list)
    stale_lines: list = field(default_factory=list)  # crawler.staleness.StaleLine
    actions: list[str] = field(default_factory=list)


@lru_cache(maxsize=512)
def keyword_pattern(keyword: str) -> re.Pattern[str]:
    # Whole-word match; a keyword with an upper-case letter is matched case-sensitively
    # (``Phoenix.Token``), an all-lower-case one is not (``stream`` matches ``Stream``).
    flags = 0 if keyword != keyword.lower() else re.IGNORECASE
    return re.compile(r"(?<![\w.-])" + re.escape(keyword) + r"(?![\w-])", flags)


def mentioned_keywords(skill: SkillConfig, text: str) -> list[str]:
    return [k for k in skill.keywords if keyword_pattern(k).search(text)]


def flag_skills(changes: list[PageChange], skills: list[SkillConfig],
                skill_paths: dict[str, str | None] | None = None) -> list[SkillFlag]:
    """The skills whose ``watches`` match a changed URL or whose ``keywords`` it mentions."""
    flags: list[SkillFlag] = []
    for skill in skills:
        reasons = []
        for change in changes:
            if change.item in ("release", "package"):
                continue  # releases flag skills through the version bump (add_bump_reasons)
            why = []
            glob = next(filter(None, map(skill.watches_url, change.match_urls)), None)
            if glob:
                why.append(f"watches {glob}")
            words = mentioned_keywords(skill, f"{change.title}\n{change.text}")
            if words:
                listed = ", ".join(words[:5]) + (" …" if len(words) > 5 else "")
                why.append(f"mentions {listed}")
            if why:
                reasons.append(FlagReason(change.url, change.title, change.change,
                                          "; ".join(why)))
        if reasons:
            path = (skill_paths or {}).get(skill.name, str(skill.path) if skill.path else None)
            flags.append(SkillFlag(skill.name, path, reasons))
    return flags


def skills_covering(skills: list[SkillConfig], docs_root: str) -> list[str]:
    """Skills with a watch inside the package docs at ``docs_root`` (a URL ending in /)."""
    return [s.name for s in skills
            if any(g.startswith(docs_root) or fnmatch.fnmatchcase(docs_root + "index.html", g)
                   for g in s.watches)]


def add_bump_reasons(flags: list[SkillFlag], skills: list[SkillConfig], bumps: list) -> None:
    """Flag the skills covering a package whose latest stable version had a major/minor bump."""
    by_name = {f.name: f for f in flags}
    for bump in bumps:
        for name in bump.skills:
            if name not in by_name:
                skill = next(s for s in skills if s.name == name)
                by_name[name] = SkillFlag(name, str(skill.path) if skill.path else None)
                flags.append(by_name[name])
            by_name[name].reasons.insert(0, FlagReason(
                bump.url, f"{bump.package} {bump.old} → {bump.new}", "release",
                f"{bump.kind} release of a package whose docs it watches"))
