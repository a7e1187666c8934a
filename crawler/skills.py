"""Decide which skills a run's changes concern, and which new pages no skill covers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from crawler.config import SkillConfig
from crawler.hexdocs import url_key


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

    @classmethod
    def of(cls, skill: SkillConfig, reasons: list[FlagReason] | None = None) -> SkillFlag:
        return cls(skill.name, str(skill.path) if skill.path else None, reasons or [])


def flag_of(flags: list[SkillFlag], skill: SkillConfig) -> SkillFlag:
    """``skill``'s flag in ``flags``, added (after the others) when it has none yet."""
    found = next((f for f in flags if f.name == skill.name), None)
    if found is None:
        found = SkillFlag.of(skill)
        flags.append(found)
    return found


@lru_cache(maxsize=512)
def keyword_pattern(keyword: str) -> re.Pattern[str]:
    # Whole-word match; a keyword with an upper-case letter is matched case-sensitively
    # (``Phoenix.Token``), an all-lower-case one is not (``stream`` matches ``Stream``).
    flags = 0 if _case_sensitive(keyword) else re.IGNORECASE
    return re.compile(r"(?<![\w.-])" + re.escape(keyword) + r"(?![\w-])", flags)


def _case_sensitive(keyword: str) -> bool:
    return keyword != keyword.lower()


# Besides its other case, re.IGNORECASE lets an ASCII letter match four more characters
# (see the ``re`` docs): mapping them first makes every case-insensitive match of an
# ASCII keyword a plain substring of the folded text.
_IGNORECASE_EXTRAS = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"), ("\u212a", "k"))


def fold(text: str) -> str:
    """``text`` lower-cased for the keyword pre-filter, with its offsets unchanged.

    Only U+0130 lower-cases to two characters, and it is mapped to ``i`` beforehand.
    """
    if not text.isascii():
        for char, letter in _IGNORECASE_EXTRAS:
            if char in text:  # rare: replace() only then (str.translate is slow)
                text = text.replace(char, letter)
    return text.lower()


def mentions(keyword: str, text: str, folded: str | None = None) -> bool:
    """Whether ``text`` mentions ``keyword`` (``keyword_pattern(keyword).search(text)``).

    The pattern is tried only where the keyword's literal text occurs (in ``folded``,
    i.e. ``fold(text)``, for a case-insensitive keyword): a whole-text search with a
    leading look-behind would try every offset of a long page. ``match`` at an offset
    still sees the character before it, so the answer is the same.
    """
    pattern = keyword_pattern(keyword)
    if _case_sensitive(keyword):
        haystack = text
    elif keyword.isascii():
        haystack = fold(text) if folded is None else folded
    else:
        return pattern.search(text) is not None
    start = haystack.find(keyword)
    while start >= 0:
        if pattern.match(text, start):
            return True
        start = haystack.find(keyword, start + 1)
    return False


def mentioned_keywords(skill: SkillConfig, text: str, folded: str | None = None) -> list[str]:
    """The keywords of ``skill`` that ``text`` mentions, in the skill's order.

    ``folded`` is ``fold(text)`` when the caller already has it (several skills, one text).
    """
    if folded is None and any(k.isascii() and not _case_sensitive(k) for k in skill.keywords):
        folded = fold(text)
    return [k for k in skill.keywords if mentions(k, text, folded)]


def mentions_any(skills: list[SkillConfig], text: str) -> bool:
    """Whether ``text`` mentions a keyword of any of ``skills``."""
    folded = fold(text)
    return any(mentions(k, text, folded) for skill in skills for k in skill.keywords)


def flag_skills(changes: list[PageChange], skills: list[SkillConfig]) -> list[SkillFlag]:
    """The skills whose ``watches`` match a changed URL or whose ``keywords`` it mentions."""
    reasons: list[list[FlagReason]] = [[] for _ in skills]
    for change in changes:
        if change.item in ("release", "package"):
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
                                        "; ".join(why)))
    return [SkillFlag.of(skill, found)
            for skill, found in zip(skills, reasons, strict=True) if found]


def skills_covering(skills: list[SkillConfig], docs_root: str) -> list[str]:
    """Skills with a watch inside the package docs at ``docs_root`` (a URL ending in /),
    either form of a hexdocs URL matching the other."""
    if not docs_root:
        return []
    root = url_key(docs_root)
    return [s.name for s in skills
            if any(url_key(g).startswith(root) for g in s.watches)
            or s.watches_url(docs_root + "index.html")]


def add_bump_reasons(flags: list[SkillFlag], skills: list[SkillConfig], bumps: list) -> None:
    """Flag the skills covering a package whose latest stable version had a major/minor bump."""
    by_name = {s.name: s for s in skills}
    for bump in bumps:
        for name in bump.skills:
            flag_of(flags, by_name[name]).reasons.insert(0, FlagReason(
                bump.url, f"{bump.package} {bump.old} → {bump.new}", "release",
                f"{bump.kind} release of a package whose docs it watches"))
