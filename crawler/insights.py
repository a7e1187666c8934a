"""What a report's changes mean: key takeaways, skill gaps, suggested actions.

Everything here works on the facts already gathered (changes, bumps, stale lines) and
ranks or phrases them the way a person writing the research note would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.config import Config, SkillConfig
from crawler.skills import PageChange, SkillFlag, flag_of, mentions_any
from crawler.staleness import VERBS, StaleLine, describe
from crawler.vocab import is_changelog, parse_vocabulary

if TYPE_CHECKING:
    from crawler.report.model import Report

MAX_TAKEAWAYS = 6
MAX_ACTIONS = 10
MAX_TERM_GAPS = 15
MAX_SECTION_GAPS = 20
# Everyday Mix tasks: new to a page, never new to a reader.
GENERIC_MIX_TASKS = frozenset({"deps", "compile", "test", "format", "hex", "local", "run",
                               "help", "archive", "escript", "clean", "xref", "app", "do"})
LARGE_REWRITE = 40  # changed lines that make an edit a rewrite worth calling out
TERM_KIND_ORDER = {"attribute": 0, "component": 1, "mix_task": 2, "module": 3, "option": 4,
                   "function": 5}


@dataclass(frozen=True)
class Takeaway:
    text: str
    url: str
    score: int


@dataclass(frozen=True)
class Gap:
    """Something new the docs teach that no skill covers, with where it could go."""

    kind: str  # page | section | term
    title: str
    url: str
    source: str
    package: str
    suggested_skill: str | None = None
    new_skill: str | None = None

    @property
    def suggestion(self) -> str:
        if self.suggested_skill:
            return f"closest skill: {self.suggested_skill}"
        return f"propose a new skill: {self.new_skill}"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def closest_skill(url: str, group: str, skills: list[SkillConfig],
                  groups: dict[str, str]) -> str | None:
    """The skill that watches most pages of the same sidebar group in the same docs.

    ``groups`` maps known page URLs to their sidebar group. A skill that only shares
    the host, or the package but not the topic, is not close.
    """
    folder = url.rsplit("/", 1)[0] + "/"
    return _closest(folder, [u for u, g in groups.items() if g == group], skills)


def _closest(folder: str, group_urls: list[str], skills: list[SkillConfig]) -> str | None:
    """``closest_skill`` for any page in ``folder``, given the URLs of its group."""
    urls = [u for u in group_urls if u.startswith(folder)]
    best, best_count = None, 0
    for skill in skills:
        count = sum(1 for page_url in urls if skill.watches_url(page_url))
        if count > best_count:
            best, best_count = skill.name, count
    return best


def is_telling_term(term_text: str, kind: str, namespaces: set[str]) -> bool:
    """Whether a newly taught term is worth a reader's attention as a gap."""
    if kind in ("attribute", "component"):
        return True
    if kind == "mix_task":
        return term_text[4:].split(".")[0] not in GENERIC_MIX_TASKS
    if kind in ("module", "function"):
        return term_text.split(".")[0].split("/")[0] in namespaces
    return False  # options are too generic out of context


def find_gaps(changes: list[PageChange], config: Config,
              groups: dict[str, str] | None = None) -> list[Gap]:
    """New pages, new sections and newly taught terms that no skill watches or mentions.

    Each gap names the closest skill (watching the same sidebar group), or proposes a
    new skill named after the group when none fits.
    """
    skills = config.skills
    groups = groups or {}
    # closest_skill depends only on a page's folder and group: work it out once for each.
    urls_by_group: dict[str, list[str]] = {}
    for page_url, page_group in groups.items():
        urls_by_group.setdefault(page_group, []).append(page_url)
    closest_by_place: dict[tuple[str, str], str | None] = {}
    skill_texts = "\n".join(_skill_text(config, s) for s in skills)
    namespaces = {_camel(c.package.split("_")[0]) for c in changes if c.item == "page"}
    gaps: list[Gap] = []
    section_gaps: list[Gap] = []
    term_gaps: list[tuple[int, Gap]] = []
    seen_terms: set[str] = set()
    for change in changes:
        if change.item != "page" or change.change not in ("added", "modified"):
            continue
        watched = any(s.watches_url(change.url) for s in skills)
        if watched:
            continue
        place = (change.url.rsplit("/", 1)[0] + "/", change.group)
        if place not in closest_by_place:
            closest_by_place[place] = _closest(place[0], urls_by_group.get(change.group, []),
                                               skills)
        closest = closest_by_place[place]
        new_skill = None if closest else f"{change.package}-{slug(change.group or change.title)}"
        if change.change == "added":
            text = f"{change.title}\n{change.text}"
            if mentions_any(skills, text):
                continue
            gaps.append(Gap("page", change.title, change.url, change.source, change.package,
                            closest, new_skill))
        for section in change.new_sections if not is_changelog(change.url, change.title) else []:
            if not mentions_any(skills, section):
                section_gaps.append(Gap("section", f"{change.title} › {section}", change.url,
                                        change.source, change.package, closest, new_skill))
        for term in parse_vocabulary(change.new_terms):
            if not is_telling_term(term.text, term.kind, namespaces):
                continue
            if term.text in seen_terms or term.pattern().search(skill_texts):
                continue
            if mentions_any(skills, term.text):
                continue
            seen_terms.add(term.text)
            term_gaps.append((TERM_KIND_ORDER.get(term.kind, 9),
                              Gap("term", term.text, change.url, change.source, change.package,
                                  closest, new_skill)))
    term_gaps.sort(key=lambda pair: pair[0])
    return (gaps + section_gaps[:MAX_SECTION_GAPS]
            + [gap for _, gap in term_gaps[:MAX_TERM_GAPS]])


def _camel(word: str) -> str:
    return word[:1].upper() + word[1:]


def _skill_text(config: Config, skill: SkillConfig) -> str:
    path = config.skill_path(skill)
    if path is None or not Path(path).is_file():
        return ""
    return Path(path).read_text(encoding="utf-8", errors="replace")


def attach_stale_lines(flags: list[SkillFlag], stale: dict[str, list[StaleLine]],
                       config: Config) -> None:
    """Put each skill's stale lines on its flag; a skill with stale lines is flagged."""
    for skill in config.skills:
        lines = stale.get(skill.name) or []
        if lines:
            flag_of(flags, skill).stale_lines = lines


def suggest_actions(flag: SkillFlag, report: Report) -> list[str]:
    """Concrete next steps for one flagged skill, most specific first."""
    actions = [f"Update line {s.line}: {describe(s)} (see {s.evidence.section or s.evidence.url})"
               for s in flag.stale_lines]
    changes = {c.url: c for c in report.changes}
    for reason in flag.reasons:
        change = changes.get(reason.url)
        if reason.change == "release":
            actions.append(f"Check the skill against {reason.title}: {reason.why}")
        elif change is None:
            continue
        elif change.change == "added" and change.item == "post":
            actions.append(f"Read the new post {change.title}")
        elif change.change == "added":
            actions.append(f"Review the new guide {change.title} and cover it if it fits")
        elif change.change == "removed":
            actions.append(f"Drop or redirect references to {change.title}: the page is gone")
        elif change.change == "moved":
            actions.append(f"Update links to {change.title}: it moved to "
                           f"{change.meta.get('moved_to')}")
        elif change.change == "modified":
            changelog = is_changelog(change.url, change.title)
            for section in change.new_sections if not changelog else []:
                actions.append(f"Add a section about {section} (new in {change.title})")
            if change.lines_added + change.lines_removed >= LARGE_REWRITE:
                actions.append(f"Re-read {change.title}: {change.summary}")
    return list(dict.fromkeys(actions))[:MAX_ACTIONS]


def takeaways(report: Report) -> list[Takeaway]:
    """The run's most significant changes, ranked over the noise of small edits."""
    items: list[Takeaway] = []
    for bump in report.bumps:
        if bump.kind not in ("major", "minor"):
            continue
        who = f"; review {', '.join(bump.skills)}" if bump.skills else ""
        items.append(Takeaway(f"{bump.package} {bump.old} → {bump.new}: a {bump.kind} "
                              f"release{who}", bump.url, 100 if bump.kind == "major" else 80))
    changed_urls = {c.url for c in report.changes}
    stale_terms: dict[str, list[str]] = {}
    evidence: dict[str, StaleLine] = {}
    for flag in report.skills:
        for s in flag.stale_lines:
            stale_terms.setdefault(s.term, []).append(f"{flag.name} line {s.line}")
            evidence.setdefault(s.term, s)
    for term, where in stale_terms.items():
        s = evidence[term]
        fresh = s.evidence.url in changed_urls
        use = f" (use {s.replacement})" if s.replacement else ""
        items.append(Takeaway(f"{term} {VERBS[s.kind]}{use}, still taught by "
                              f"{', '.join(where[:3])}", s.evidence.url, 90 if fresh else 60))
    for c in report.changes:
        for n in c.new_notices:
            if n["term"] not in stale_terms:
                items.append(Takeaway(f"{c.title}: {n['term']} {n['kind']}", c.url, 55))
    added = [c for c in report.changes if c.item == "page" and c.change == "added"]
    for package in sorted({c.package for c in added}):
        pages = [c for c in added if c.package == package]
        names = ", ".join(c.title for c in pages[:4]) + (" …" if len(pages) > 4 else "")
        items.append(Takeaway(f"{len(pages)} new guide{'s' * (len(pages) > 1)} in {package}: "
                              f"{names}", pages[0].url, 50 + min(len(pages), 10)))
    for c in report.changes:
        size = c.lines_added + c.lines_removed
        if c.item == "page" and c.change == "modified" and size >= LARGE_REWRITE:
            watched_by = [f.name for f in report.skills
                          if any(r.url == c.url for r in f.reasons)]
            if watched_by:
                items.append(Takeaway(f"{c.title} largely rewritten ({c.summary}); "
                                      f"concerns {', '.join(watched_by)}", c.url,
                                      40 + min(size // 20, 15)))
    removed = [c for c in report.changes if c.item == "page" and c.change == "removed"]
    if removed:
        names = ", ".join(c.title for c in removed[:4]) + (" …" if len(removed) > 4 else "")
        items.append(Takeaway(f"{len(removed)} page{'s' * (len(removed) > 1)} removed: {names}",
                              removed[0].url, 35))
    if report.posts:
        items.append(Takeaway(f"{len(report.posts)} new post{'s' * (len(report.posts) > 1)}: "
                              f"{report.posts[0].title}", report.posts[0].url, 20))
    if report.errors:
        items.append(Takeaway(f"{len(report.errors)} URL{'s' * (len(report.errors) > 1)} could "
                              "not be fetched (see Fetch problems)", report.errors[0].url, 10))
    items.sort(key=lambda t: -t.score)
    return items[:MAX_TAKEAWAYS]

