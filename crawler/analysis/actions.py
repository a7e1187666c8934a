"""The concrete next steps for a flagged skill, most specific first."""

from __future__ import annotations

from collections.abc import Iterable

from crawler.analysis.facts import PageChange
from crawler.analysis.flags import FlagReason, SkillFlag
from crawler.analysis.stale import describe
from crawler.types import ChangeKind, Item
from crawler.vocab import is_changelog

MAX_ACTIONS = 10


# Most specific first: what is wrong in the skill itself, what it points at that is
# gone or moved, then what is new where it watches, then what is new where it is only
# mentioned, then posts to read. Within a rank, the report's order of changes.
STALE, RELEASE, GONE, MOVED, WATCHED, MENTIONED, POST = range(7)


def suggest_actions(flag: SkillFlag, changes: Iterable[PageChange]) -> tuple[str, ...]:
    """What to do about ``flag``, the ``MAX_ACTIONS`` most specific: fix its stale lines,
    then follow up each reason (the changes of the report, by URL, tell what happened)."""
    ranked = [(STALE, f"Update line {s.line}: {describe(s)} "
                      f"(see {s.evidence.section or s.evidence.url})")
              for s in flag.stale_lines]
    by_url = {c.url: c for c in changes}
    for reason in flag.reasons:
        ranked += _follow_up(reason, by_url.get(reason.url))
    ranked.sort(key=lambda pair: pair[0])  # stable: the order within a rank is kept
    return tuple(dict.fromkeys(action for _, action in ranked))[:MAX_ACTIONS]


def _follow_up(reason: FlagReason, change: PageChange | None) -> list[tuple[int, str]]:
    """The ranked actions one reason calls for."""
    new = WATCHED if reason.watched else MENTIONED
    if reason.change == Item.RELEASE:
        return [(RELEASE, f"Check the skill against {reason.title}: {reason.why}")]
    if change is None:
        return []
    if change.change == ChangeKind.ADDED and change.item == Item.POST:
        return [(POST, f"Read the new post {change.title}")]
    if change.change == ChangeKind.ADDED:
        return [(new, f"Review the new guide {change.title} and cover it if it fits")]
    if change.change == ChangeKind.REMOVED:
        return [(GONE, f"Drop or redirect references to {change.title}: the page is gone")]
    if change.change == ChangeKind.MOVED:
        return [(MOVED, f"Update links to {change.title}: it moved to "
                        f"{change.meta.get('moved_to')}")]
    out = []
    if not is_changelog(change.url, change.title):
        out += [(new, f"Add a section about {section} (new in {change.title})")
                for section in change.new_sections]
    if change.is_rewrite:
        out.append((new, f"Re-read {change.title}: {change.summary}"))
    return out
