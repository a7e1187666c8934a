"""Version bumps: the packages whose latest stable version moved, and the skills that
watch their docs (a major or minor bump is a likely reason to revisit them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crawler.analysis.facts import PageChange
from crawler.config import SkillConfig
from crawler.hexdocs import url_key
from crawler.types import BumpKind, ChangeKind, Item
from crawler.versions import bump_kind

SIGNIFICANT = frozenset({BumpKind.MAJOR, BumpKind.MINOR})


@dataclass(frozen=True)
class VersionBump:
    """A package's latest stable version moved: a likely reason to revisit skills."""

    package: str
    old: str | None  # None: no stable version before
    new: str
    kind: BumpKind | None  # None: first seen, downgrade, unparsable
    url: str
    skills: tuple[str, ...] = ()  # the skills watching its docs (major and minor bumps)

    @property
    def significant(self) -> bool:
        """A major or minor bump: worth a takeaway and a look at the skills."""
        return self.kind in SIGNIFICANT


def version_bumps(changes: Iterable[PageChange],
                  skills: Sequence[SkillConfig]) -> tuple[VersionBump, ...]:
    """One bump per modified package whose latest stable version moved to a new one,
    read from the package's facts before and after the change."""
    bumps = []
    for change in changes:
        if change.item != Item.PACKAGE or change.change != ChangeKind.MODIFIED:
            continue
        if change.before is None:
            continue  # recorded before the facts before a change were kept: unknown
        old = change.before.get("latest_stable_version")
        new = change.meta.get("latest_stable_version")
        if old == new or new is None:
            continue  # no stable release left (all retired): the retired releases say so
        kind = bump_kind(old, new)
        covering = tuple(skills_covering(skills, change.meta.get("docs_url") or "")) \
            if kind in SIGNIFICANT else ()
        bumps.append(VersionBump(change.meta.get("package", change.title), old, new, kind,
                                 change.url, covering))
    return tuple(bumps)


def skills_covering(skills: Sequence[SkillConfig], docs_root: str) -> list[str]:
    """Skills with a watch inside the package docs at ``docs_root`` (a URL ending in /),
    either form of a hexdocs URL matching the other."""
    if not docs_root:
        return []
    root = url_key(docs_root)
    return [s.name for s in skills
            if any(url_key(g).startswith(root) for g in s.watches)
            or s.watches_url(docs_root + "index.html")]
