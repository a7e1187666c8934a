"""Diffs between two normalised texts: which sections changed, by how much, and how."""

from __future__ import annotations

import difflib
import random
import re
from typing import Any

import pytest

from crawler.diff import (
    LINE_CONTEXT,
    MATCH_BUDGET,
    MAX_CHANGED_TEXT,
    MAX_DIFF_LINES,
    MAX_LINE,
    MAX_SECTION_TITLE,
    Opcode,
    _grouped_opcodes,
    _line_opcodes,
    _section_starts,
    _titles_at,
    diff_texts,
    fold_diff,
    fold_line,
    fold_pair,
    section_titles,
    unified_diff,
    utf8_size,
)

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


@pytest.mark.parametrize("seed", range(5))
def test_section_lookup_agrees_with_section_titles(seed: int):
    rng = random.Random(seed)
    lines = page_lines(rng, 400)
    lines[:0] = ["## First", "#not a heading", "### Sub", "```", "## inside a fence", "```",
                 "# Another h1", "#### Deep"]
    sections = _section_starts(lines)
    titles = section_titles(lines)
    assert len(titles) == len(lines)
    assert [_titles_at(sections, i) for i in range(len(lines))] == titles
    assert titles[:8] == ["First", "First", *["First › Sub"] * 4, "(introduction)", "Deep"]


def test_comment_inside_a_code_block_does_not_end_the_section():
    old = (
        "# Lumen guide\n\n"
        "## Configuration\n\n"
        "```\n# config/config.exs\nconfig :lumen, port: 4000\n```\n\n"
        "The port defaults to 4000.\n"
    )
    new = edited(old, "defaults to 4000", "defaults to 8080")
    assert diff_texts(old, new).sections == ["Configuration"]


# --------------------------------------------------------------------------- matching
#
# diff_texts matches lines with unique-line anchors and only hands the small ranges
# between them to difflib. These tests check the opcodes themselves: they must rebuild
# the new text from the old one, count exactly, and agree with difflib on ordinary edits.

WORDS = ["socket", "assign", "stream", "render", "changeset", "query", "router", "plug",
         "the", "a", "of", "to", "and", "with", "endpoint", "conn", "params", "mount"]

# Lines that recur all over a page: blank lines, fences, list stubs, Elixir and C-ish code.
REPEATED = ["", "", "", "end", "  end", "```", "```elixir", "}", "- see above", "do", "  x + 1"]


def rebuild(a: list[str], b: list[str], opcodes: list[Opcode]) -> list[str]:
    """Apply ``opcodes`` to ``a``, taking new lines from ``b``; check their shape on the way.

    The opcodes must be contiguous, cover both lists, use each tag as difflib does and
    never put two ``equal`` spans next to each other.
    """
    out: list[str] = []
    i = j = 0
    previous = ""
    for tag, i1, i2, j1, j2 in opcodes:
        assert (i1, j1) == (i, j), "opcodes must be contiguous"
        assert i1 <= i2 and j1 <= j2
        if tag == "equal":
            assert previous != "equal", "adjacent equal spans must be merged"
            assert a[i1:i2] == b[j1:j2] and i2 > i1
            out.extend(a[i1:i2])
        elif tag == "delete":
            assert i2 > i1 and j1 == j2
        elif tag == "insert":
            assert i1 == i2 and j2 > j1
            out.extend(b[j1:j2])
        else:
            assert tag == "replace" and i2 > i1 and j2 > j1
            out.extend(b[j1:j2])
        i, j, previous = i2, j2, tag
    assert (i, j) == (len(a), len(b)), "opcodes must cover both texts"
    return out


def changed_lines(a: list[str], b: list[str], opcodes: list[Opcode]) -> tuple[list[str], ...]:
    """The non-blank lines the opcodes add and remove, in order."""
    added = [line for tag, _, _, j1, j2 in opcodes if tag != "equal"
             for line in b[j1:j2] if line.strip()]
    removed = [line for tag, i1, i2, _, _ in opcodes if tag != "equal"
               for line in a[i1:i2] if line.strip()]
    return added, removed


def random_lines(rng: random.Random, count: int) -> list[str]:
    """A text from a small vocabulary of recurring lines, plus (mostly) unique ones."""
    return [rng.choice(REPEATED) if rng.random() < 0.4
            else " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
            for _ in range(count)]


def randomly_edited(rng: random.Random, lines: list[str], edits: int) -> list[str]:
    """``lines`` after random inserts, deletes and replacements of 1-4 lines each."""
    out = list(lines)
    for _ in range(edits):
        at = rng.randrange(len(out) + 1)
        size = rng.randint(1, 4)
        action = rng.random()
        if action < 0.35:
            out[at:at] = random_lines(rng, size)
        elif action < 0.7:
            del out[at:at + size]
        else:
            out[at:at + size] = random_lines(rng, rng.randint(1, 4))
    return out


def page_lines(rng: random.Random, count: int) -> list[str]:
    """A Markdown-like page: headings, paragraphs, blank lines and Elixir code blocks."""
    out = ["# Guide"]
    while len(out) < count:
        kind = rng.random()
        if kind < 0.05:
            out.extend(["", f"## Section {len(out)}", ""])
        elif kind < 0.15:
            out.extend(["```elixir", f"def f{len(out)}(x) do", "  x + 1", "end", "```"])
        elif kind < 0.25:
            out.append("")
        else:
            out.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))))
    return out[:count]


def scattered(rng: random.Random, lines: list[str], edits: int) -> list[str]:
    """``edits`` one-line edits spread evenly over a page, never on a blank line."""
    out = list(lines)
    step = len(lines) // edits
    for k in reversed(range(edits)):
        at = k * step + rng.randrange(step)
        while at > 0 and not out[at].strip():
            at -= 1
        if k % 3 == 0:
            out[at] += " (edited)"
        elif k % 3 == 1:
            out.insert(at, " ".join(rng.choice(WORDS) for _ in range(12)))
        else:
            del out[at]
    return out


@pytest.mark.parametrize("seed", range(40))
def test_random_edits_rebuild_the_new_text_and_count_exactly(seed: int):
    rng = random.Random(seed)
    a = random_lines(rng, rng.randint(200, 2000))
    b = randomly_edited(rng, a, rng.randint(1, 60))
    opcodes = _line_opcodes(a, b)
    assert rebuild(a, b, opcodes) == b
    added, removed = changed_lines(a, b, opcodes)
    diff = diff_texts("\n".join(a), "\n".join(b))
    assert (diff.lines_added, diff.lines_removed) == (len(added), len(removed))
    assert diff.added_text == "\n".join(added)
    assert diff.removed_text == "\n".join(removed)
    assert diff.changed == bool(added or removed)


@pytest.mark.parametrize("seed", range(20))
def test_ordinary_edits_give_the_same_opcodes_as_difflib(seed: int):
    rng = random.Random(seed)
    a = page_lines(rng, rng.randint(200, 1500))
    b = scattered(rng, a, rng.randint(1, 30))
    expected = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    assert _line_opcodes(a, b) == expected


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("context", [0, 1, 3])
def test_hunks_are_grouped_as_difflib_groups_them(seed: int, context: int):
    rng = random.Random(seed)
    a = random_lines(rng, rng.randint(200, 600))
    b = randomly_edited(rng, a, rng.randint(1, 20))
    opcodes = _line_opcodes(a, b)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    matcher.opcodes = list(opcodes)  # get_grouped_opcodes() edits that list in place
    assert _grouped_opcodes(opcodes, context) == list(matcher.get_grouped_opcodes(context))


def test_identical_long_texts_are_one_equal_span():
    lines = random_lines(random.Random(7), 1500)
    assert _line_opcodes(lines, list(lines)) == [("equal", 0, 1500, 0, 1500)]
    diff = diff_texts("\n".join(lines), "\n".join(lines))
    assert not diff.changed and diff.unified == "" and diff.sections == []


def test_both_empty():
    assert _line_opcodes([], []) == []
    assert diff_texts("", "") == diff_texts(GUIDE, GUIDE)


def test_empty_old_text_adds_every_non_blank_line():
    diff = diff_texts("", GUIDE)
    assert _line_opcodes([], GUIDE.splitlines()) == \
        [("insert", 0, 0, 0, len(GUIDE.splitlines()))]
    assert (diff.lines_added, diff.lines_removed) == (10, 0)
    assert diff.sections == ["(introduction)", "Routing", "Pipelines", "Pipelines › Browser",
                             "Pipelines › API"]
    assert diff.unified.splitlines()[0] == "@@ -1,0 +1,19 @@"


def test_empty_new_text_removes_every_non_blank_line():
    diff = diff_texts(GUIDE, "")
    assert _line_opcodes(GUIDE.splitlines(), []) == \
        [("delete", 0, len(GUIDE.splitlines()), 0, 0)]
    assert (diff.lines_added, diff.lines_removed) == (0, 10)
    assert diff.unified.splitlines()[0] == "@@ -1,19 +1,0 @@"


def code_page(functions: int) -> list[str]:
    """Many small code blocks whose bodies and ``end`` lines are all the same."""
    lines = ["# Callbacks", ""]
    for k in range(functions):
        lines.extend([f"## f{k}", "", "```elixir", f"def f{k}(x) do", "  x + 1", "end",
                      "```", ""])
    return lines


@pytest.mark.parametrize("change", ["body", "insert", "delete"])
def test_many_repeated_lines_count_exactly_and_match_difflib(change: str):
    a = code_page(200)
    b = list(a)
    at = a.index("def f120(x) do")
    if change == "body":
        b[at + 1] = "  x + 2"
    elif change == "insert":
        b[at + 3:at + 3] = ["", "def g(x) do", "  x + 1", "end"]
    else:
        del b[at - 3:at + 5]  # the whole "## f120" section
    expected = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    assert _line_opcodes(a, b) == expected
    diff = diff_texts("\n".join(a), "\n".join(b))
    counts = {"body": (1, 1), "insert": (3, 0), "delete": (0, 6)}[change]
    assert (diff.lines_added, diff.lines_removed) == counts
    assert diff.sections == ["f120"]


def test_one_edit_in_a_text_of_only_repeated_lines_is_one_change():
    a = ["end", "", "do", "end", "end", "", "do"] * 30
    b = [*a[:100], "do", *a[100:]]
    # difflib alone matches the longest run first, here a[2:112] to b[101:211], and
    # reports 99 inserted and 98 deleted lines; the common head and tail are kept.
    assert _line_opcodes(a, b) == [("equal", 0, 101, 0, 101), ("insert", 101, 101, 101, 102),
                                   ("equal", 101, 210, 102, 211)]
    diff = diff_texts("\n".join(a), "\n".join(b))
    assert (diff.lines_added, diff.lines_removed) == (1, 0)


def test_range_without_unique_lines_falls_back_to_difflib(monkeypatch: pytest.MonkeyPatch):
    seen: list[tuple[int, int]] = []

    class CountingMatcher(difflib.SequenceMatcher):
        def __init__(self, isjunk: Any = None, a: Any = "", b: Any = "",
                     autojunk: bool = True) -> None:
            seen.append((len(a), len(b)))
            super().__init__(isjunk, a, b, autojunk)

    monkeypatch.setattr(difflib, "SequenceMatcher", CountingMatcher)
    a = ["end", "", "do", "end", "end", "", "do"] * 30
    b = [*a[:50], "do", *a[50:150], *a[151:]]
    opcodes = _line_opcodes(a, b)
    assert seen == [(101, 101)]  # what lies between the common head and tail
    assert opcodes == [("equal", 0, 50, 0, 50), ("insert", 50, 50, 50, 51),
                       ("equal", 50, 150, 51, 151), ("delete", 150, 151, 151, 151),
                       ("equal", 151, 210, 151, 210)]
    diff = diff_texts("\n".join(a), "\n".join(b))
    assert (diff.lines_added, diff.lines_removed) == (1, 1)


def test_a_moved_paragraph_is_removed_and_added():
    a = [f"Paragraph {k} says something." for k in range(50)]
    b = a[:10] + a[11:40] + [a[10]] + a[40:]
    assert rebuild(a, b, _line_opcodes(a, b)) == b
    diff = diff_texts("\n".join(a), "\n".join(b))
    assert (diff.lines_added, diff.lines_removed) == (1, 1)
    assert diff.added_text == diff.removed_text == "Paragraph 10 says something."


def test_long_page_only_hands_small_ranges_to_difflib(monkeypatch: pytest.MonkeyPatch):
    # Speed itself is measured by `bench/run.py micro`, not here; this checks the cause
    # of the speed: SequenceMatcher never sees more than a few lines of a long page.
    seen: list[tuple[int, int]] = []

    class CountingMatcher(difflib.SequenceMatcher):
        def __init__(self, isjunk: Any = None, a: Any = "", b: Any = "",
                     autojunk: bool = True) -> None:
            seen.append((len(a), len(b)))
            super().__init__(isjunk, a, b, autojunk)

    monkeypatch.setattr(difflib, "SequenceMatcher", CountingMatcher)
    rng = random.Random(3)
    a = page_lines(rng, 5000)
    b = scattered(rng, a, 50)
    diff = diff_texts("\n".join(a), "\n".join(b))
    assert (diff.lines_added, diff.lines_removed) == (34, 33)
    assert len(seen) <= 50
    assert max(len_a * len_b for len_a, len_b in seen) <= 16


class ExactMatcher(difflib.SequenceMatcher):
    """difflib's matcher without its "popular line" heuristic, as docwatch matches."""

    def __init__(self, isjunk: Any = None, a: Any = "", b: Any = "",
                 autojunk: bool = True) -> None:
        super().__init__(isjunk, a, b, autojunk=False)


@pytest.mark.parametrize("seed", range(10))
def test_unified_diff_prints_what_difflib_prints_on_ordinary_edits(
        seed: int, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(difflib, "SequenceMatcher", ExactMatcher)
    rng = random.Random(seed)
    a = page_lines(rng, rng.randint(50, 800))
    b = scattered(rng, a, rng.randint(1, 20))
    for context in (0, 3):
        expected = list(difflib.unified_diff(a, b, "old", "new", n=context, lineterm=""))
        assert list(unified_diff("\n".join(a), "\n".join(b), fromfile="old", tofile="new",
                                 context=context)) == expected


def test_unified_diff_of_equal_texts_is_empty():
    assert list(unified_diff(GUIDE, GUIDE, fromfile="a", tofile="b")) == []


def test_a_long_range_without_a_unique_line_never_goes_to_difflib_whole(
        monkeypatch: pytest.MonkeyPatch):
    # A page of a few recurring lines: no line anchors the match, and difflib would
    # compare every line with every line (quadratic).
    seen: list[tuple[int, int]] = []

    class CountingMatcher(difflib.SequenceMatcher):
        def __init__(self, isjunk: Any = None, a: Any = "", b: Any = "",
                     autojunk: bool = True) -> None:
            seen.append((len(a), len(b)))
            super().__init__(isjunk, a, b, autojunk)

    monkeypatch.setattr(difflib, "SequenceMatcher", CountingMatcher)
    rng = random.Random(5)
    a = [rng.choice(["end", "", "do", "x + 1", "```"]) for _ in range(4000)]
    b = list(a)
    for at in range(100, 3900, 400):
        b[at] = rng.choice(["end", "", "do", "x + 1", "```"])
        b.insert(at + 7, "do")
    opcodes = _line_opcodes(a, b)
    assert rebuild(a, b, opcodes) == b
    assert all(len_a * len_b <= MATCH_BUDGET for len_a, len_b in seen)
    changed = sum(i2 - i1 + j2 - j1 for tag, i1, i2, j1, j2 in opcodes if tag != "equal")
    assert changed < 200  # most of the page is matched, not replaced


# --------------------------------------------------------------------------- long lines

def words(count: int, seed: int = 1, word: str = "w") -> list[str]:
    rng = random.Random(seed)
    return [f"{word}{rng.randrange(50_000)}" for _ in range(count)]


def test_a_line_of_at_most_max_line_characters_is_kept_whole():
    line = " ".join(words(200))[:MAX_LINE]
    assert fold_line(line) == line
    assert fold_pair(line, line.replace("w", "v", 1)) == (line, line.replace("w", "v", 1))


def test_a_long_line_shows_its_start_and_how_many_bytes_are_left_out():
    line = " ".join(words(5000, word="é"))  # two bytes a character in UTF-8
    folded = fold_line(line)
    shown, marker, more = folded.rpartition(" … ")
    assert line.startswith(shown + " ") and len(folded) <= MAX_LINE
    assert more.endswith(" bytes more") and marker == " … "
    assert int(more.split()[0].replace(",", "")) == len(line[len(shown):].encode("utf-8"))


def test_a_word_changed_in_a_long_line_is_shown_with_its_context_both_sides():
    old = words(100_000)
    new = list(old)
    new[50_000] = "CHANGED"
    folded_old, folded_new = fold_pair(" ".join(old), " ".join(new))
    assert "CHANGED" in folded_new and old[50_000] in folded_old
    assert " ".join(new[49_990:50_010]) in folded_new  # whole words around it
    for folded, line in ((folded_old, " ".join(old)), (folded_new, " ".join(new))):
        assert len(folded) <= MAX_LINE
        before, window, after = parse_window(folded)
        # The counts add up: what is elided before, what is shown, what is elided after.
        assert line[before:before + len(window)] == window
        assert before + len(window) + after == len(line)
        assert len(window) > 2 * LINE_CONTEXT - 80


def parse_window(folded: str) -> tuple[int, str, int]:
    """``… B bytes … WINDOW … A bytes more`` as (B, WINDOW, A) (ASCII text)."""
    head, _, rest = folded.removeprefix("… ").partition(" bytes … ")
    window, _, tail = rest.rpartition(" … ")
    return int(head.replace(",", "")), window, int(tail.split()[0].replace(",", ""))


def test_several_changes_in_a_long_line_are_each_shown_and_what_is_between_elided():
    old = words(20_000)
    new = list(old)
    for at in (3000, 3010, 9000):
        new[at] = f"EDIT{at}"
    folded_old, folded_new = fold_pair(" ".join(old), " ".join(new))
    assert all(f"EDIT{at}" in folded_new for at in (3000, 3010, 9000))
    assert all(old[at] in folded_old for at in (3000, 3010, 9000))
    # What is shown and what is elided add up to the line, each elision in bytes.
    for folded, line in ((folded_old, " ".join(old)), (folded_new, " ".join(new))):
        assert len(counts(folded)) == 3  # before 3000, between 3010 and 9000, after 9000
        assert sum(counts(folded)) + sum(map(len, window_pieces(folded))) == len(line)
        assert all(piece in line for piece in window_pieces(folded))
        assert len(folded) <= MAX_LINE


ELISION = re.compile(r" ?… ([\d,]+) bytes(?: …| more) ?")


def counts(folded: str) -> list[int]:
    """The byte counts of a folded line's elisions, in order."""
    return [int(count.replace(",", "")) for count in ELISION.findall(folded)]


def window_pieces(folded: str) -> list[str]:
    """The shown pieces of a folded line, without its elision markers (or the space
    before and after each, which the counts include)."""
    return [piece for piece in ELISION.split(folded)[::2] if piece]


def test_a_short_side_of_a_changed_long_line_is_kept_whole():
    short, long = "A short line.", "A short line. " + " ".join(words(2000))
    folded_short, folded_long = fold_pair(short, long)
    assert folded_short == short
    # The added stretch shows its start and its end, and how much lies between.
    assert folded_long.startswith("A short line. w") and folded_long.endswith(long[-20:])
    assert sum(counts(folded_long)) + sum(map(len, window_pieces(folded_long))) == len(long)
    assert len(folded_long) <= MAX_LINE


def test_utf8_size_counts_bytes_not_characters():
    text = "aé€😀" * 40_000
    assert utf8_size(text) == len(text.encode("utf-8"))
    assert utf8_size(text, 3, 70_001) == len(text[3:70_001].encode("utf-8"))


def test_a_one_line_page_changed_by_one_word_gives_a_small_diff_with_the_word():
    old = words(300_000)  # about 2 MB on one line
    new = list(old)
    new[150_000] = "CHANGED"
    diff = diff_texts(" ".join(old) + "\n", " ".join(new) + "\n")
    assert (diff.lines_added, diff.lines_removed) == (1, 1)
    assert len(diff.unified) < 3 * MAX_LINE
    assert "+… " in diff.unified and "CHANGED" in diff.unified
    assert diff.unified.count(" bytes more") == 2
    assert "CHANGED" in diff.added_text and len(diff.added_text) <= MAX_LINE
    assert old[150_000] in diff.removed_text and "CHANGED" not in diff.removed_text


def test_many_long_lines_changed_keep_the_diff_and_the_changed_text_bounded():
    old = [" ".join(words(15_000, seed=k)) for k in range(60)]  # 60 lines of 100 KB
    new = [line.replace(" w", " CHANGED ", 1) for line in old]
    diff = diff_texts("\n\n".join(old), "\n\n".join(new))
    assert (diff.lines_added, diff.lines_removed) == (60, 60)  # the counts stay exact
    lines = diff.unified.split("\n")
    assert len(lines) == MAX_DIFF_LINES + 1 and lines[-1].endswith("more diff lines")
    assert all(len(line) <= MAX_LINE + 1 for line in lines)
    assert len(diff.added_text) <= MAX_CHANGED_TEXT and len(diff.removed_text) <= MAX_CHANGED_TEXT
    assert diff.added_text.count("CHANGED") == len(diff.added_text.split("\n")) > 20


def test_a_huge_page_with_many_small_changes_keeps_exact_counts_and_a_bounded_text():
    old = [" ".join(words(8, seed=k)) for k in range(60_000)]
    new = [f"{line} edited" if k % 10 == 0 else line for k, line in enumerate(old)]
    diff = diff_texts("\n".join(old), "\n".join(new))
    assert (diff.lines_added, diff.lines_removed) == (6000, 6000)
    assert len(diff.added_text) <= MAX_CHANGED_TEXT
    assert diff.added_text.split("\n")[:2] == [new[0], new[10]]
    assert len(diff.unified.split("\n")) == MAX_DIFF_LINES + 1


def test_a_huge_heading_names_its_section_in_a_few_words():
    heading = "## " + " ".join(words(100_000))
    new = f"{heading}\n\nchanged text\n"
    sections = diff_texts(f"{heading}\n\ntext\n", new).sections
    assert len(sections) == 1 and len(sections[0]) <= MAX_SECTION_TITLE
    assert sections[0].endswith("…") and heading[3:].startswith(sections[0][:-1])


def test_a_diff_stored_before_lines_were_folded_is_folded_when_shown():
    old, new = words(50_000), words(50_000)
    new[25_000] = "CHANGED"
    old[25_000:] = new[25_000:]
    old[25_000] = "before"
    stored = "\n".join(["@@ -1,3 +1,3 @@", " " + " ".join(new), "-" + " ".join(old),
                        "+" + " ".join(new), "… 3 more diff lines"])
    folded = fold_diff(stored).split("\n")
    assert folded[0] == "@@ -1,3 +1,3 @@" and folded[-1] == "… 3 more diff lines"
    assert [line[:1] for line in folded[1:4]] == [" ", "-", "+"]
    assert all(len(line) <= MAX_LINE + 1 for line in folded)
    assert "before" in folded[2] and "CHANGED" in folded[3]
    # A diff stored folded is left as it is.
    diff = diff_texts(" ".join(old), " ".join(new)).unified
    assert fold_diff(diff) == diff
