"""The concrete next steps for a flagged skill, most specific first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crawler.analysis.facts import PageChange
from crawler.analysis.flags import FlagReason, SkillFlag
from crawler.analysis.stale import describe
from crawler.types import ChangeKind, Item
from crawler.vocab import is_changelog

MAX_ACTIONS = 10
# More pages than this with the same follow-up make one action that names the first few:
# a night of 400 removed guides is one thing to do, not 400.
GROUPED_AFTER = 2
SHOWN_TITLES = 3
STALE_ACTIONS = 5  # stale lines with an action of their own


# Most specific first: what is wrong in the skill itself, what it points at that is
# gone or moved, then what is new where it watches, then what is new where it is only
# mentioned, then posts to read. Within a rank, the report's order of changes.
STALE, RELEASE, GONE, MOVED, WATCHED, MENTIONED, POST = range(7)


@dataclass(frozen=True)
class _Action:
    rank: int
    text: str
    # Pages that call for the same follow-up share a group text, which stands for all of
    # them past a few: "Drop or redirect references to the 400 pages that are gone: …".
    group: str = ""  # with {n}, the count, and {titles}, the first few titles
    title: str = ""


def suggest_actions(flag: SkillFlag, changes: Iterable[PageChange]) -> tuple[str, ...]:
    """What to do about ``flag``, the ``MAX_ACTIONS`` most specific: fix its stale lines,
    then follow up each reason (the changes of the report, by URL, tell what happened)."""
    # Each stale line's fix is worth its own action, up to a handful; the rest are one.
    ranked = [_Action(STALE, f"Update line {s.line}: {describe(s)} "
                             f"(see {s.evidence.section or s.evidence.url})",
                      "" if i < STALE_ACTIONS else "Update the {n} other stale lines listed: "
                                                   "{titles}",
                      f"line {s.line} ({s.term})")
              for i, s in enumerate(flag.stale_lines)]
    by_url = {c.url: c for c in changes}
    for reason in flag.reasons:
        ranked += _follow_up(reason, by_url.get(reason.url))
    ranked.sort(key=lambda action: action.rank)  # stable: the order within a rank is kept
    return tuple(dict.fromkeys(_grouped(ranked)))[:MAX_ACTIONS]


def _grouped(actions: list[_Action]) -> Iterable[str]:
    """The actions' texts, where more than ``GROUPED_AFTER`` of one kind and rank become
    one, in the place of the first."""
    members: dict[tuple[int, str], list[_Action]] = {}
    for action in actions:
        if action.group:
            members.setdefault((action.rank, action.group), []).append(action)
    for action in actions:
        group = members.get((action.rank, action.group), []) if action.group else []
        if len(group) <= GROUPED_AFTER:
            yield action.text
        elif action is group[0]:
            titles = ", ".join(a.title for a in group[:SHOWN_TITLES]) \
                + (" …" if len(group) > SHOWN_TITLES else "")
            yield action.group.format(n=len(group), titles=titles)


def _follow_up(reason: FlagReason, change: PageChange | None) -> list[_Action]:
    """The ranked actions one reason calls for."""
    new = WATCHED if reason.watched else MENTIONED
    if reason.change == Item.RELEASE:
        return [_Action(RELEASE, f"Check the skill against {reason.title}: {reason.why}")]
    if change is None:
        return []
    title = change.title
    if change.change == ChangeKind.ADDED and change.item == Item.POST:
        return [_Action(POST, f"Read the new post {title}",
                        "Read the {n} new posts: {titles}", title)]
    if change.change == ChangeKind.ADDED:
        return [_Action(new, f"Review the new guide {title} and cover it if it fits",
                        "Review the {n} new guides and cover those that fit: {titles}", title)]
    if change.change == ChangeKind.REMOVED:
        return [_Action(GONE, f"Drop or redirect references to {title}: the page is gone",
                        "Drop or redirect references to the {n} pages that are gone: {titles}",
                        title)]
    if change.change == ChangeKind.MOVED:
        return [_Action(MOVED, f"Update links to {title}: it moved to "
                               f"{change.meta.get('moved_to')}")]
    out = []
    if not is_changelog(change.url, title):
        out += [_Action(new, f"Add a section about {section} (new in {title})",
                        f"Add a section about {section} (new in {{n}} pages: {{titles}})",
                        title)
                for section in change.new_sections]
    if change.is_rewrite:
        out.append(_Action(new, f"Re-read {title}: {_gist(change)}"))
    return out


def _gist(change: PageChange) -> str:
    """What a rewrite is about: a changelog's, the versions it adds (the line count of
    a page of release notes says nothing)."""
    versions = change.versions_added
    if not versions:
        return change.summary
    if len(versions) == 1:
        return f"it adds version {versions[0]}"
    return f"it adds {len(versions)} versions, {versions[-1]} to {versions[0]}"
