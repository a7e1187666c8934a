"""The concrete next steps for a flagged skill, most specific first."""

from __future__ import annotations

from collections.abc import Iterable

from crawler.analysis.facts import PageChange
from crawler.analysis.flags import SkillFlag
from crawler.analysis.stale import describe
from crawler.types import ChangeKind, Item
from crawler.vocab import is_changelog

MAX_ACTIONS = 10


def suggest_actions(flag: SkillFlag, changes: Iterable[PageChange]) -> tuple[str, ...]:
    """What to do about ``flag``: fix its stale lines, then follow up each reason (the
    changes of the report, by URL, tell what happened)."""
    actions = [f"Update line {s.line}: {describe(s)} (see {s.evidence.section or s.evidence.url})"
               for s in flag.stale_lines]
    by_url = {c.url: c for c in changes}
    for reason in flag.reasons:
        change = by_url.get(reason.url)
        if reason.change == Item.RELEASE:
            actions.append(f"Check the skill against {reason.title}: {reason.why}")
        elif change is None:
            continue
        elif change.change == ChangeKind.ADDED and change.item == Item.POST:
            actions.append(f"Read the new post {change.title}")
        elif change.change == ChangeKind.ADDED:
            actions.append(f"Review the new guide {change.title} and cover it if it fits")
        elif change.change == ChangeKind.REMOVED:
            actions.append(f"Drop or redirect references to {change.title}: the page is gone")
        elif change.change == ChangeKind.MOVED:
            actions.append(f"Update links to {change.title}: it moved to "
                           f"{change.meta.get('moved_to')}")
        elif change.change == ChangeKind.MODIFIED:
            changelog = is_changelog(change.url, change.title)
            for section in change.new_sections if not changelog else ():
                actions.append(f"Add a section about {section} (new in {change.title})")
            if change.is_rewrite:
                actions.append(f"Re-read {change.title}: {change.summary}")
    return tuple(dict.fromkeys(actions))[:MAX_ACTIONS]
