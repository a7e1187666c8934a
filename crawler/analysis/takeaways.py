"""Key takeaways: a run's most significant findings, ranked over the noise of small
edits, the way a person writing the research note would put them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crawler.analysis.bumps import VersionBump
from crawler.analysis.changes import new_posts
from crawler.analysis.facts import FetchProblem, PageChange
from crawler.analysis.flags import SkillFlag
from crawler.analysis.highlights import ReleaseHighlights
from crawler.analysis.stale import VERBS, StaleLine
from crawler.types import BumpKind, ChangeKind, Item

MAX_TAKEAWAYS = 6


@dataclass(frozen=True)
class Takeaway:
    text: str
    url: str  # the evidence
    score: int  # higher first


# How many headline topics (else enhancements) a bump's takeaway names.
TAKEAWAY_TOPICS = 4


def _brings(found: ReleaseHighlights | None) -> str:
    """", with <topics>" for a bump's takeaway, from its changelog's highlights."""
    if found is None:
        return ""
    named = [h.text for h in (found.topics or found.enhancements)][:TAKEAWAY_TOPICS]
    return f" ({'; '.join(named)})" if named else ""


def takeaways(*, changes: Sequence[PageChange], bumps: Sequence[VersionBump],
              flags: Sequence[SkillFlag], errors: Sequence[FetchProblem],
              highlights: Sequence[ReleaseHighlights] = ()) -> tuple[Takeaway, ...]:
    """The ``MAX_TAKEAWAYS`` most significant of: major and minor bumps, stale terms,
    new notices, new guides, large rewrites of flagged pages, removed pages, new posts
    and fetch problems."""
    items: list[Takeaway] = []
    for bump in bumps:
        if not bump.significant:
            continue
        who = f"; review {', '.join(bump.skills)}" if bump.skills else ""
        brings = _brings(next((h for h in highlights if h.package == bump.package), None))
        items.append(Takeaway(f"{bump.package} {bump.old} → {bump.new}: a {bump.kind} "
                              f"release{brings}{who}", bump.url,
                              100 if bump.kind == BumpKind.MAJOR else 80))
    changed_urls = {c.url for c in changes}
    stale_terms: dict[str, list[str]] = {}
    evidence: dict[str, StaleLine] = {}
    for flag in flags:
        for s in flag.stale_lines:
            stale_terms.setdefault(s.term, []).append(f"{flag.name} line {s.line}")
            evidence.setdefault(s.term, s)
    for term, where in stale_terms.items():
        s = evidence[term]
        fresh = s.evidence.url in changed_urls
        use = f" (use {s.replacement})" if s.replacement else ""
        usage = f" {s.usage}" if s.usage else ""
        items.append(Takeaway(f"{term}{usage} {VERBS[s.kind]}{use}, still taught by "
                              f"{', '.join(where[:3])}", s.evidence.url, 90 if fresh else 60))
    for c in changes:
        for n in c.new_notices:
            if n["term"] not in stale_terms:
                items.append(Takeaway(f"{c.title}: {n['term']} {n['kind']}", c.url, 55))
    added = [c for c in changes if c.item == Item.PAGE and c.change == ChangeKind.ADDED]
    for package in sorted({c.package for c in added}):
        pages = [c for c in added if c.package == package]
        names = ", ".join(c.title for c in pages[:4]) + (" …" if len(pages) > 4 else "")
        items.append(Takeaway(f"{len(pages)} new guide{'s' * (len(pages) > 1)} in {package}: "
                              f"{names}", pages[0].url, 50 + min(len(pages), 10)))
    for c in changes:
        if c.item == Item.PAGE and c.change == ChangeKind.MODIFIED and c.is_rewrite:
            watched_by = [f.name for f in flags if any(r.url == c.url for r in f.reasons)]
            if watched_by:
                items.append(Takeaway(f"{c.title} largely rewritten ({c.summary}); "
                                      f"concerns {', '.join(watched_by)}", c.url,
                                      40 + min(c.lines_changed // 20, 15)))
    removed = [c for c in changes if c.item == Item.PAGE and c.change == ChangeKind.REMOVED]
    if removed:
        names = ", ".join(c.title for c in removed[:4]) + (" …" if len(removed) > 4 else "")
        items.append(Takeaway(f"{len(removed)} page{'s' * (len(removed) > 1)} removed: {names}",
                              removed[0].url, 35))
    posts = new_posts(changes)
    if posts:
        items.append(Takeaway(f"{len(posts)} new post{'s' * (len(posts) > 1)}: "
                              f"{posts[0].title}", posts[0].url, 20))
    if errors:
        items.append(Takeaway(f"{len(errors)} URL{'s' * (len(errors) > 1)} could "
                              "not be fetched (see Fetch problems)", errors[0].url, 10))
    items.sort(key=lambda t: -t.score)
    return tuple(items[:MAX_TAKEAWAYS])
