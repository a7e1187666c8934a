"""Pre-releases of watched packages ahead of their latest stable version: what to
review when it ships (the note's Future considerations)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crawler.analysis.bumps import skills_covering
from crawler.analysis.facts import PageChange
from crawler.config import SkillConfig
from crawler.types import ChangeKind, Item
from crawler.versions import parse_version


@dataclass(frozen=True)
class Prerelease:
    """The newest pre-release of a package, ahead of its latest stable version."""

    package: str
    version: str
    stable: str
    url: str
    skills: tuple[str, ...]  # the skills watching its docs


def prereleases_ahead(changes: Iterable[PageChange],
                      skills: Sequence[SkillConfig]) -> tuple[Prerelease, ...]:
    """Per package, the newest new pre-release whose version is past the latest stable
    one (a 1.1.0-rc left behind by 1.1.24 is history, not news), by package name."""
    changes = list(changes)
    stable: dict[str, tuple[tuple[int, int, int], str]] = {}
    for c in changes:
        package = c.meta.get("package") or ""
        for version in (c.meta.get("latest_stable_version") if c.item == Item.PACKAGE else None,
                        c.meta.get("version") if c.item == Item.RELEASE
                        and not c.meta.get("prerelease") else None):
            parsed = parse_version(version or "")
            if parsed and not parsed[3] and parsed[:3] > stable.get(package, ((-1, 0, 0), ""))[0]:
                stable[package] = (parsed[:3], version or "")
    newest: dict[str, tuple[tuple[int, int, int, str], PageChange]] = {}
    for c in changes:
        if c.item != Item.RELEASE or c.change != ChangeKind.ADDED or not c.meta.get("prerelease"):
            continue
        package = c.meta.get("package") or ""
        parsed = parse_version(c.meta.get("version") or "")
        if parsed is None or package not in stable or parsed[:3] <= stable[package][0]:
            continue
        if package not in newest or parsed > newest[package][0]:
            newest[package] = (parsed, c)
    return tuple(Prerelease(package, c.meta.get("version") or "", stable[package][1], c.url,
                            tuple(skills_covering(skills, c.meta.get("docs_url") or "")))
                 for package, (_, c) in sorted(newest.items()))
