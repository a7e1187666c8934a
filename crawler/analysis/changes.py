"""A report's changes (and fetch problems) in a fixed order, and split the ways the
report shows them: page changes by source and package, new and retired releases, new
posts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crawler.analysis.facts import FetchProblem, PageChange
from crawler.types import ChangeKind, Item

# How changes of one source and item are listed: what appeared, what went, what moved,
# then what was edited.
KIND_ORDER = {ChangeKind.ADDED: 0, ChangeKind.REMOVED: 1, ChangeKind.MOVED: 2,
              ChangeKind.MODIFIED: 3}
ITEM_ORDER = {item: i for i, item in enumerate(Item)}


def in_report_order(changes: Iterable[PageChange],
                    sources: Sequence[str]) -> tuple[PageChange, ...]:
    """``changes`` by source (in the order of ``sources``; others after, by name), item,
    kind and URL; changes alike in all of these keep their given order.

    The order of the stored changes is the order pages were fetched in, which differs
    between two identical crawls: the report (and what is cut at a maximum) must not.
    """
    order = {name: i for i, name in enumerate(sources)}
    return tuple(sorted(changes, key=lambda c: (
        order.get(c.source, len(order)), c.source, ITEM_ORDER.get(c.item, len(ITEM_ORDER)),
        KIND_ORDER.get(c.change, len(KIND_ORDER)), c.url)))


def problems_in_report_order(problems: Iterable[FetchProblem],
                             sources: Sequence[str]) -> tuple[FetchProblem, ...]:
    """``problems`` by source (in the order of ``sources``; others after, by name) and
    URL; problems alike in both keep their given order (see :func:`in_report_order`)."""
    order = {name: i for i, name in enumerate(sources)}
    return tuple(sorted(problems, key=lambda p: (order.get(p.source, len(order)), p.source,
                                                  p.url)))


@dataclass(frozen=True)
class PageGroup:
    """The page changes of one package of one source, in report order."""

    source: str
    package: str
    changes: tuple[PageChange, ...]

    def _of(self, kind: ChangeKind) -> tuple[PageChange, ...]:
        return tuple(c for c in self.changes if c.change == kind)

    @property
    def added(self) -> tuple[PageChange, ...]:
        return self._of(ChangeKind.ADDED)

    @property
    def removed(self) -> tuple[PageChange, ...]:
        return self._of(ChangeKind.REMOVED)

    @property
    def moved(self) -> tuple[PageChange, ...]:
        return self._of(ChangeKind.MOVED)

    @property
    def modified(self) -> tuple[PageChange, ...]:
        return self._of(ChangeKind.MODIFIED)


def page_groups(changes: Iterable[PageChange],
                sources: Sequence[str]) -> tuple[PageGroup, ...]:
    """Page changes grouped by (source, package), sources in the order of ``sources``."""
    order = {name: i for i, name in enumerate(sources)}
    groups: dict[tuple[str, str], list[PageChange]] = {}
    pages = [c for c in changes if c.item == Item.PAGE]
    for change in sorted(pages, key=lambda c: (order.get(c.source, len(order)), c.source,
                                               c.package, KIND_ORDER[c.change], c.url)):
        groups.setdefault((change.source, change.package), []).append(change)
    return tuple(PageGroup(s, p, tuple(cs)) for (s, p), cs in groups.items())


def new_releases(changes: Iterable[PageChange]) -> tuple[PageChange, ...]:
    """New releases, newest first within each package."""
    found = [c for c in changes if c.item == Item.RELEASE and c.change == ChangeKind.ADDED]
    return tuple(sorted(found, key=lambda c: (c.meta.get("package", ""),
                                              c.meta.get("published_at") or ""), reverse=True))


def retired_releases(changes: Iterable[PageChange]) -> tuple[PageChange, ...]:
    """Releases known before and retired since: the change added their "retired:" line
    (the reason and message, also in their meta)."""
    return tuple(c for c in changes if c.item == Item.RELEASE
                 and c.change == ChangeKind.MODIFIED and c.meta.get("retired")
                 and any(line.startswith("+retired:") for line in c.diff.splitlines()))


def new_posts(changes: Iterable[PageChange]) -> tuple[PageChange, ...]:
    """New and updated posts, newest first."""
    found = [c for c in changes if c.item == Item.POST and c.change != ChangeKind.REMOVED]
    return tuple(sorted(found, key=lambda c: c.meta.get("published_at") or "", reverse=True))
