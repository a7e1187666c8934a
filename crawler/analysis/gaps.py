"""Skill gaps: new pages, new sections and newly taught terms that no skill watches or
mentions, each with the skill it could go into."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from crawler.analysis.facts import PageChange
from crawler.analysis.keywords import mentioned_keywords, mentions_any
from crawler.analysis.skill_files import SkillFile
from crawler.config import SkillConfig
from crawler.hexdocs import url_key
from crawler.types import ChangeKind, GapKind, Item, TermKind
from crawler.vocab import Term, is_changelog, parse_vocabulary

MAX_TERM_GAPS = 15
MAX_SECTION_GAPS = 20
# Everyday Mix tasks: new to a page, never new to a reader.
GENERIC_MIX_TASKS = frozenset({"deps", "compile", "test", "format", "hex", "local", "run",
                               "help", "archive", "escript", "clean", "xref", "app", "do"})
# Term gaps are listed by kind: what a reader is likeliest to use first.
TERM_KIND_ORDER = {TermKind.ATTRIBUTE: 0, TermKind.COMPONENT: 1, TermKind.MIX_TASK: 2,
                   TermKind.MODULE: 3, TermKind.OPTION: 4, TermKind.FUNCTION: 5}


@dataclass(frozen=True)
class Gap:
    """Something new the docs teach that no skill covers, with where it could go."""

    kind: GapKind
    title: str
    url: str
    source: str
    package: str
    suggested_skill: str | None = None
    new_skill: str | None = None
    group: str = ""  # the page's sidebar group: the topic a new skill would be about
    page_title: str = ""  # the title of the page it was found on
    term_kind: TermKind | None = None  # a term gap's kind: how a skill file mentions it

    @property
    def suggestion(self) -> str:
        if self.suggested_skill:
            return f"closest skill: {self.suggested_skill}"
        return f"propose a new skill: {self.new_skill}"

    @property
    def identity(self) -> tuple[str, str, str]:
        """What makes two reports' gaps the same one: a term is the same term on any
        page of its package; a page or a section is known by its address."""
        if self.kind == GapKind.TERM:
            return (self.kind, self.package, self.title)
        return (self.kind, url_key(self.url), self.title)  # either form of a hexdocs URL

    @property
    def section(self) -> str:
        """A section gap's heading (its title without the page's)."""
        prefix = f"{self.page_title} › "
        return self.title.removeprefix(prefix) if self.page_title else self.title


def covering_skills(gap: Gap, skills: Sequence[SkillConfig],
                    skill_files: Iterable[SkillFile] = (), page_text: str = "") -> list[str]:
    """The skills that cover ``gap`` now, by :func:`find_gaps`'s rule: a skill watches
    its page, or its keywords are mentioned by the page (``page_text``: the page's text,
    for a page gap), the section or the term; a term is also covered by a skill file
    that teaches it."""
    texts = {f.name: f.text for f in skill_files}
    if gap.kind == GapKind.PAGE:
        mentioned = f"{gap.title}\n{page_text}"
    elif gap.kind == GapKind.SECTION:
        mentioned = gap.section
    else:
        mentioned = gap.title
    pattern = Term(gap.title, gap.term_kind).pattern() if gap.term_kind else None
    return [s.name for s in skills
            if s.watches_url(gap.url) or mentioned_keywords(s, mentioned)
            or (pattern is not None and pattern.search(texts.get(s.name, "")))]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def folder_of(url: str) -> str:
    """The folder of a page's URL (up to its last ``/``): a skill close to a page
    watches pages of its sidebar group under this folder."""
    return url.rsplit("/", 1)[0] + "/"


def closest_skill(url: str, group: str, skills: Sequence[SkillConfig],
                  groups: Mapping[str, str]) -> str | None:
    """The skill that watches most pages of the same sidebar group in the same docs.

    ``groups`` maps known page URLs to their sidebar group. A skill that only shares
    the host, or the package but not the topic, is not close.
    """
    return _closest(folder_of(url), [u for u, g in groups.items() if g == group], skills)


def _closest(folder: str, group_urls: list[str], skills: Sequence[SkillConfig]) -> str | None:
    """``closest_skill`` for any page in ``folder``, given the URLs of its group."""
    urls = [u for u in group_urls if u.startswith(folder)]
    best, best_count = None, 0
    for skill in skills:
        count = sum(1 for page_url in urls if skill.watches_url(page_url))
        if count > best_count:
            best, best_count = skill.name, count
    return best


def with_closest_skills(gaps: Iterable[Gap], skills: Sequence[SkillConfig],
                        groups: Mapping[str, str]) -> list[Gap]:
    """``gaps`` with their closest skill (or proposed new skill) worked out again for
    today's skills: a skill added since may now be close to a gap found earlier."""
    urls_by_group: dict[str, list[str]] = {}
    for page_url, page_group in groups.items():
        urls_by_group.setdefault(page_group, []).append(page_url)
    closest_by_place: dict[tuple[str, str], str | None] = {}
    out = []
    for gap in gaps:
        place = (folder_of(gap.url), gap.group)
        if place not in closest_by_place:
            closest_by_place[place] = _closest(place[0], urls_by_group.get(gap.group, []),
                                               skills)
        closest = closest_by_place[place]
        new_skill = None if closest else (
            gap.new_skill or f"{gap.package}-{slug(gap.group or gap.page_title)}")
        out.append(replace(gap, suggested_skill=closest, new_skill=new_skill))
    return out


def is_telling_term(term_text: str, kind: TermKind, namespaces: set[str]) -> bool:
    """Whether a newly taught term is worth a reader's attention as a gap."""
    if kind in (TermKind.ATTRIBUTE, TermKind.COMPONENT):
        return True
    if kind == TermKind.MIX_TASK:
        return term_text[4:].split(".")[0] not in GENERIC_MIX_TASKS
    if kind in (TermKind.MODULE, TermKind.FUNCTION):
        return term_text.split(".")[0].split("/")[0] in namespaces
    return False  # options are too generic out of context


def find_gaps(changes: Iterable[PageChange], skills: Sequence[SkillConfig],
              groups: Mapping[str, str] | None = None,
              skill_files: Iterable[SkillFile] = ()) -> tuple[Gap, ...]:
    """New pages, new sections and newly taught terms that no skill watches or mentions.

    ``groups`` maps the known page URLs to their sidebar group; a term taught by one of
    ``skill_files`` is covered. Each gap names the closest skill (watching the same
    sidebar group), or proposes a new skill named after the group when none fits.
    """
    changes = list(changes)
    groups = groups or {}
    # closest_skill depends only on a page's folder and group: work it out once for each.
    urls_by_group: dict[str, list[str]] = {}
    for page_url, page_group in groups.items():
        urls_by_group.setdefault(page_group, []).append(page_url)
    closest_by_place: dict[tuple[str, str], str | None] = {}
    skill_texts = "\n".join(f.text for f in skill_files)
    namespaces = {_camel(c.package.split("_")[0]) for c in changes if c.item == Item.PAGE}
    gaps: list[Gap] = []
    section_gaps: list[Gap] = []
    term_gaps: list[tuple[int, Gap]] = []
    seen_terms: set[str] = set()
    for change in changes:
        if change.item != Item.PAGE or change.change not in (ChangeKind.ADDED,
                                                             ChangeKind.MODIFIED):
            continue
        watched = any(s.watches_url(change.url) for s in skills)
        if watched:
            continue
        place = (folder_of(change.url), change.group)
        if place not in closest_by_place:
            closest_by_place[place] = _closest(place[0], urls_by_group.get(change.group, []),
                                               skills)
        closest = closest_by_place[place]
        new_skill = None if closest else f"{change.package}-{slug(change.group or change.title)}"
        if change.change == ChangeKind.ADDED:
            text = f"{change.title}\n{change.text}"
            if mentions_any(skills, text):
                continue
            gaps.append(Gap(GapKind.PAGE, change.title, change.url, change.source,
                            change.package, closest, new_skill, change.group, change.title))
        for section in change.new_sections if not is_changelog(change.url, change.title) else ():
            if not mentions_any(skills, section):
                section_gaps.append(Gap(GapKind.SECTION, f"{change.title} › {section}",
                                        change.url, change.source, change.package, closest,
                                        new_skill, change.group, change.title))
        for term in parse_vocabulary(change.new_terms):
            if not is_telling_term(term.text, term.kind, namespaces):
                continue
            if term.text in seen_terms or term.pattern().search(skill_texts):
                continue
            if mentions_any(skills, term.text):
                continue
            seen_terms.add(term.text)
            term_gaps.append((TERM_KIND_ORDER.get(term.kind, 9),
                              Gap(GapKind.TERM, term.text, change.url, change.source,
                                  change.package, closest, new_skill, change.group,
                                  change.title, term.kind)))
    term_gaps.sort(key=lambda pair: pair[0])
    return tuple(gaps + section_gaps[:MAX_SECTION_GAPS]
                 + [gap for _, gap in term_gaps[:MAX_TERM_GAPS]])


def _camel(word: str) -> str:
    return word[:1].upper() + word[1:]
