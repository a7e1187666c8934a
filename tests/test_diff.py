"""Diffs between two normalised texts: which sections changed, by how much, and how."""

from __future__ import annotations

import pytest

from crawler.diff import MAX_DIFF_LINES, diff_texts, section_titles

GUIDE = """\
# Lumen guide

Lumen is a small web framework.

## Routing

Routes are tried from top to bottom.

The first matching route wins.

## Pipelines

### Browser

Browser routes fetch the session.

### API

API routes accept JSON only.
"""


def edited(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced; fails loudly if the fixture no longer contains ``old``."""
    assert old in text, f"fixture does not contain {old!r}"
    return text.replace(old, new)


def test_identical_texts_are_not_a_change():
    diff = diff_texts(GUIDE, GUIDE)
    assert not diff.changed
    assert diff.sections == []
    assert (diff.lines_added, diff.lines_removed) == (0, 0)
    assert diff.unified == ""


def test_edited_paragraph_is_reported_under_its_section():
    new = edited(GUIDE, "The first matching route wins.", "The last matching route wins.")
    diff = diff_texts(GUIDE, new)
    assert diff.changed
    assert diff.sections == ["Routing"]
    assert (diff.lines_added, diff.lines_removed) == (1, 1)
    assert diff.removed_text == "The first matching route wins."
    assert diff.added_text == "The last matching route wins."
    assert diff.summary() == "+1 -1 lines in 1 section(s)"


def test_change_under_a_subsection_names_the_heading_path():
    new = edited(GUIDE, "API routes accept JSON only.", "API routes accept JSON and CBOR.")
    assert diff_texts(GUIDE, new).sections == ["Pipelines › API"]


def test_change_before_the_first_h2_is_the_introduction():
    new = edited(GUIDE, "a small web framework", "a tiny web framework")
    assert diff_texts(GUIDE, new).sections == ["(introduction)"]


def test_changes_in_two_sections_list_both_in_page_order():
    new = edited(GUIDE, "top to bottom", "bottom to top")
    new = edited(new, "fetch the session", "fetch the session and flash")
    assert diff_texts(GUIDE, new).sections == ["Routing", "Pipelines › Browser"]


def test_blank_line_only_changes_do_not_count():
    new = edited(GUIDE, "to bottom.\n\nThe first", "to bottom.\n\n\n\nThe first")
    diff = diff_texts(GUIDE, new + "\n\n")
    assert not diff.changed
    assert diff.sections == []


def test_unified_diff_shows_removed_and_added_lines_in_a_hunk():
    new = edited(GUIDE, "The first matching route wins.", "The last matching route wins.")
    unified = diff_texts(GUIDE, new).unified.splitlines()
    assert unified[0].startswith("@@ -") and unified[0].endswith(" @@")
    assert "-The first matching route wins." in unified
    assert "+The last matching route wins." in unified
    assert unified.index("-The first matching route wins.") < \
        unified.index("+The last matching route wins.")
    # One line of context either side, no more.
    assert len(unified) == 1 + 1 + 2 + 1


def test_added_section_is_listed_under_its_new_heading():
    new = GUIDE + "\n## Testing\n\nUse the built-in test client.\n"
    diff = diff_texts(GUIDE, new)
    assert diff.sections == ["Testing"]
    assert (diff.lines_added, diff.lines_removed) == (2, 0)


def test_removed_section_is_listed_under_its_old_heading():
    new = edited(GUIDE, "\n### API\n\nAPI routes accept JSON only.\n", "")
    diff = diff_texts(GUIDE, new)
    assert diff.sections == ["Pipelines › API"]
    assert (diff.lines_added, diff.lines_removed) == (0, 2)


def test_large_diff_is_truncated_with_a_marker_but_counts_stay_exact():
    old = "\n".join(f"Step {i} is optional." for i in range(100)) + "\n"
    new = "\n".join(f"Step {i} is required." for i in range(100)) + "\n"
    diff = diff_texts(old, new)
    lines = diff.unified.splitlines()
    assert len(lines) == MAX_DIFF_LINES + 1
    # One hunk header, 100 removed and 100 added lines: 201, of which 40 are shown.
    assert lines[-1] == f"… {201 - MAX_DIFF_LINES} more diff lines"
    assert (diff.lines_added, diff.lines_removed) == (100, 100)


def test_small_diff_is_not_truncated():
    new = edited(GUIDE, "top to bottom", "bottom to top")
    assert "more diff lines" not in diff_texts(GUIDE, new).unified


def test_section_titles_maps_each_line_to_its_heading_path():
    lines = ["# Title", "intro", "## A", "a", "### A1", "a1", "## B", "b"]
    assert section_titles(lines) == [
        "(introduction)", "(introduction)", "A", "A", "A › A1", "A › A1", "B", "B",
    ]


@pytest.mark.parametrize("not_a_heading", ["#hashtag", "####### seven", "#"])
def test_lines_that_only_look_like_headings_do_not_start_sections(not_a_heading: str):
    assert section_titles(["## A", not_a_heading, "a"]) == ["A", "A", "A"]


def test_comment_inside_a_code_block_does_not_end_the_section():
    old = (
        "# Lumen guide\n\n"
        "## Configuration\n\n"
        "```\n# config/config.exs\nconfig :lumen, port: 4000\n```\n\n"
        "The port defaults to 4000.\n"
    )
    new = edited(old, "defaults to 4000", "defaults to 8080")
    assert diff_texts(old, new).sections == ["Configuration"]
