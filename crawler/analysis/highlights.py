"""What's new in a release, from its changelog: for a major or minor bump, the headline
topics of the new version's changelog and the breaking changes, deprecations and
enhancements of every version between the old stable release and the new one.

A changelog page is read as docwatch stores it: ``#`` headings, ``-`` bullets. Version
sections are headings that open with a version (``## v1.8.0 (2025-08-05)``,
``## 1.8.0-rc.0``); on a page about one minor version ("Changelog for v1.8"), the
sections before the first version heading are its headline topics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crawler.versions import heading_version, parse_version

PAGE_VERSION = re.compile(r"(?i)\bchangelog for v?(\d+)\.(\d+)\b")
CATEGORIES = (
    ("breaking", re.compile(r"(?i)\b(?:breaking|backwards?[- ]incompatib|potential "
                            r"incompatib|incompatib)")),
    ("deprecations", re.compile(r"(?i)\bdeprecat")),
    ("enhancements", re.compile(r"(?i)\b(?:enhancements?|features?|added|improvements?)\b")),
)
# Headline topics that are categories of the version, not topics.
NOT_TOPICS = re.compile(r"(?i)\b(?:deprecat|breaking|incompatib|update guide|upgrad)")
# How many highlights of each kind a report shows.
MAX_EACH = 5


@dataclass(frozen=True)
class Highlight:
    """One entry of a changelog, with the section it comes from."""

    text: str
    url: str  # the changelog, at the entry's version section


@dataclass(frozen=True)
class ReleaseHighlights:
    """What a bump brings, from the changelog of its package."""

    package: str
    old: str
    new: str
    topics: tuple[Highlight, ...] = ()
    breaking: tuple[Highlight, ...] = ()
    deprecations: tuple[Highlight, ...] = ()
    enhancements: tuple[Highlight, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.topics or self.breaking or self.deprecations or self.enhancements)


def release_highlights(package: str, old: str | None, new: str, changelog: str,
                       url: str) -> ReleaseHighlights:
    """The highlights of the versions after ``old`` up to ``new`` in ``changelog``."""
    low, high = parse_version(old or "0.0.0"), parse_version(new)
    if low is None or high is None:
        return ReleaseHighlights(package, old or "", new)
    found: dict[str, list[Highlight]] = {"topics": [], "breaking": [], "deprecations": [],
                                         "enhancements": []}
    page = PAGE_VERSION.search(changelog.split("\n", 1)[0])
    intro = page is not None and low[:2] < (int(page[1]), int(page[2])) <= high[:2]
    version_ok = False  # inside a version section of the range
    category: str | None = None
    anchor = ""
    for line in changelog.splitlines():
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            heading = line.lstrip("#").strip()
            version = heading_version(heading)
            if level <= 2 and version:
                parsed = parse_version(version)
                version_ok = parsed is not None and low[:3] < parsed[:3] <= high[:3]
                intro, category, anchor = False, None, slug(heading)
            elif level <= 2:
                # A topic of the page's version (before its first version section).
                category = _category(heading) if intro else None
                anchor = slug(heading)
                if intro and not NOT_TOPICS.search(heading) and level == 2:
                    found["topics"].append(Highlight(heading.replace("`", ""),
                                                     f"{url}#{anchor}"))
            else:
                category = _category(heading) if version_ok else None
            continue
        if category and line.startswith(("- ", "* ")) and (version_ok or intro):
            found[category].append(Highlight(_clean(line[2:]), f"{url}#{anchor}"))
    return ReleaseHighlights(package, old or "", new,
                             *(tuple(found[k][:MAX_EACH]) for k in
                               ("topics", "breaking", "deprecations", "enhancements")))


def _category(heading: str) -> str | None:
    return next((name for name, pattern in CATEGORIES if pattern.search(heading)), None)


def _clean(text: str) -> str:
    text = re.sub(r"^\[[^\]]*\]\s*", "", text.strip())  # the "[Ecto.Repo]" tag
    return text if len(text) <= 160 else text[:159].rstrip() + "…"


def slug(heading: str) -> str:
    """The id ExDoc gives a heading: lower case, runs of other characters as ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", heading.lower().replace("`", "")).strip("-")
