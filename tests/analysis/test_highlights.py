"""What's new in a release, read from changelogs written in the shapes phoenix, LiveView
and Ecto use (the texts are made up)."""

from __future__ import annotations

import dataclasses

from crawler.analysis.facts import PageChange
from crawler.analysis.highlights import release_highlights, slug
from crawler.types import ChangeKind

URL = "https://hexdocs.pm/sparkle/changelog.html"

# Phoenix and LiveView: one page per minor version, headline topics first.
MINOR_PAGE = """\
# Changelog for v2.4

## Glowing generators

Generators now glow.

## Deprecations

- `Sparkle.dim/1` is deprecated in favor of `Sparkle.fade/1`

## Potential breaking changes

- `Sparkle.Lamp` no longer starts by itself

## 2.4.1 (2026-03-02)

### Bug fixes

- Fix a flicker

### Enhancements

- Add `Sparkle.pulse/2`

## 2.4.0-rc.0 (2026-01-10)

### Enhancements

- Add the `:warmth` option

## v2.3
"""

# Ecto: one page for the major version, a section per release.
MAJOR_PAGE = """\
# Changelog for v5.x

## v5.3.0 (2026-02-01)

### Enhancements

- [Sparkle.Repo] Add `Sparkle.Repo.shine_all/2`

### Soft deprecations (no warnings emitted)

- [Sparkle.Repo] `Sparkle.Repo.glow/2` is soft-deprecated in favor of `Sparkle.Repo.shine/2`

## v5.2.1 (2025-12-01)

### Bug fixes

- Fix a glow

## v5.2.0 (2025-11-01)

### Backwards incompatible changes

- `:dim` is no longer accepted

## v5.1.0 (2025-06-01)

### Enhancements

- Add `Sparkle.Repo.twinkle/1`
"""


def test_a_minor_page_gives_its_topics_and_the_entries_of_the_versions_in_range():
    found = release_highlights("sparkle", "2.3.7", "2.4.1", MINOR_PAGE, URL)

    assert [h.text for h in found.topics] == ["Glowing generators"]
    assert found.topics[0].url == f"{URL}#glowing-generators"
    assert [h.text for h in found.deprecations] == [
        "`Sparkle.dim/1` is deprecated in favor of `Sparkle.fade/1`"]
    assert [h.text for h in found.breaking] == ["`Sparkle.Lamp` no longer starts by itself"]
    # The final and its release candidates: the rc's features are the minor's features.
    assert [h.text for h in found.enhancements] == ["Add `Sparkle.pulse/2`",
                                                    "Add the `:warmth` option"]
    assert found.enhancements[0].url == f"{URL}#2-4-1-2026-03-02"


def test_a_major_page_gives_only_the_versions_after_the_old_one():
    found = release_highlights("sparkle", "5.2.1", "5.3.0", MAJOR_PAGE, URL)

    assert [h.text for h in found.enhancements] == ["Add `Sparkle.Repo.shine_all/2`"]
    assert [h.text for h in found.deprecations] == [
        "`Sparkle.Repo.glow/2` is soft-deprecated in favor of `Sparkle.Repo.shine/2`"]
    assert found.breaking == () and found.topics == ()
    wide = release_highlights("sparkle", "5.0.4", "5.3.0", MAJOR_PAGE, URL)
    assert [h.text for h in wide.breaking] == ["`:dim` is no longer accepted"]
    assert len(wide.enhancements) == 2


def test_a_changelog_without_the_versions_gives_nothing():
    assert release_highlights("sparkle", "6.0.0", "6.1.0", MAJOR_PAGE, URL).empty
    assert slug("v1.8.0 (2025-08-05) 🚀") == "v1-8-0-2025-08-05"


def test_a_changelogs_edit_is_summed_up_by_the_versions_it_adds():
    changelog = PageChange("docs", "sparkle", URL, "Changelog for v2.4", ChangeKind.MODIFIED,
                           new_sections=("2.4.1 (2026-03-02)", "2.4.1 (2026-03-02) › Bug fixes",
                                         "Glowing generators", "v2.4.0-rc.0 (2026-01-10)"))
    guide = dataclasses.replace(changelog, url="https://hexdocs.pm/sparkle/guide.html",
                                title="Guide")

    assert changelog.versions_added == ("2.4.1", "2.4.0-rc.0")
    assert guide.versions_added == ()
