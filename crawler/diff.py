"""Compare two normalised texts: which sections changed, how many lines, a short diff."""

from __future__ import annotations

import bisect
import difflib
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

MAX_DIFF_LINES = 40


@dataclass(frozen=True)
class TextDiff:
    """What changed between two versions of a page's normalised text."""

    sections: list[str] = field(default_factory=list)
    lines_added: int = 0
    lines_removed: int = 0
    unified: str = ""
    added_text: str = ""
    removed_text: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.lines_added or self.lines_removed)

    def summary(self) -> str:
        where = f" in {len(self.sections)} section(s)" if self.sections else ""
        return f"+{self.lines_added} -{self.lines_removed} lines{where}"


def section_titles(lines: list[str]) -> list[str]:
    """For each line, the heading path of the section it sits in (``"H2 › H3"``)."""
    starts, titles = _section_starts(lines)
    out: list[str] = []
    for k, title in enumerate(titles):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        out.extend([title] * (end - starts[k]))
    return out


def _section_starts(lines: list[str]) -> tuple[list[int], list[str]]:
    """Where each section starts (the index of its heading line) and its heading path.

    The first section, ``(introduction)``, starts at line 0; the title of line ``i`` is
    ``titles[bisect.bisect_right(starts, i) - 1]``. Only lines starting with ``#`` or
    a code fence can change the section, so the others are skipped in one pass.
    """
    starts, titles = [0], ["(introduction)"]
    path: list[tuple[int, str]] = []
    in_code = False
    marks = [(i, line) for i, line in enumerate(lines) if line.startswith(("#", "```"))]
    for i, line in marks:
        if line.startswith("```"):
            in_code = not in_code
            continue
        level = 0 if in_code else _heading_level(line)
        if not level:
            continue
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, line[level + 1:].strip()))
        # The page title (h1) is implied; name sections from h2 down.
        names = [title for lvl, title in path if lvl > 1]
        starts.append(i)
        titles.append(" › ".join(names) if names else "(introduction)")
    return starts, titles


def _titles_at(sections: tuple[list[int], list[str]], index: int) -> str:
    """The heading path of line ``index``, from :func:`_section_starts`."""
    starts, titles = sections
    return titles[bisect.bisect_right(starts, index) - 1]


def _heading_level(line: str) -> int:
    """The level of an ATX heading line (``## Title`` is 2), 0 for any other line."""
    if not line.startswith("#"):
        return 0
    level = len(line) - len(line.lstrip("#"))
    return level if level <= 6 and line[level:level + 1] == " " else 0


def diff_texts(old: str, new: str, context: int = 1,
               max_lines: int = MAX_DIFF_LINES) -> TextDiff:
    """Diff two normalised texts line by line; blank lines never count as changes."""
    a, b = old.splitlines(), new.splitlines()
    opcodes = _line_opcodes(a, b)
    if all(tag == "equal" for tag, *_ in opcodes):
        return TextDiff()
    sec_a, sec_b = _section_starts(a), _section_starts(b)
    sections: list[str] = []
    added: list[str] = []
    removed: list[str] = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            continue
        for i in range(i1, i2):
            if a[i].strip():
                removed.append(a[i])
                _add_once(sections, _titles_at(sec_a, i))
        for j in range(j1, j2):
            if b[j].strip():
                added.append(b[j])
                _add_once(sections, _titles_at(sec_b, j))
    unified_lines = _unified(opcodes, a, b, context)
    if len(unified_lines) > max_lines:
        hidden = len(unified_lines) - max_lines
        unified_lines = [*unified_lines[:max_lines], f"… {hidden} more diff lines"]
    return TextDiff(sections, len(added), len(removed), "\n".join(unified_lines),
                    "\n".join(added), "\n".join(removed))


# --------------------------------------------------------------------------- matching
#
# difflib.SequenceMatcher (autojunk off) looks for the longest matching block over and
# over, which is close to quadratic on a long page. Pages change in a few places, so
# the lines that occur exactly once on both sides pin most of the page down: their
# positions, in the longest increasing order, split the page into small gaps, and only
# those gaps (or a range without any such line) go to SequenceMatcher.

Opcode = tuple[str, int, int, int, int]
"""``(tag, i1, i2, j1, j2)`` as in :meth:`difflib.SequenceMatcher.get_opcodes`."""

Block = tuple[int, int, int]
"""A matching block ``(i, j, size)``: ``a[i:i + size] == b[j:j + size]``."""


def line_opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """Opcodes turning the lines ``a`` into ``b`` (as ``SequenceMatcher.get_opcodes()``
    would give, anchored on unique lines: fast on long pages changed in a few places)."""
    return _line_opcodes(a, b)


def _line_opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """Opcodes turning ``a`` into ``b``, shaped like ``SequenceMatcher.get_opcodes()``.

    Contiguous ``equal``/``replace``/``delete``/``insert`` spans covering both lists
    from the start to the end; two ``equal`` spans are never adjacent. Empty when both
    lists are empty.
    """
    opcodes: list[Opcode] = []
    i = j = 0
    for ai, bj, size in [*_matching_blocks(a, b), (len(a), len(b), 0)]:
        if i < ai and j < bj:
            opcodes.append(("replace", i, ai, j, bj))
        elif i < ai:
            opcodes.append(("delete", i, ai, j, bj))
        elif j < bj:
            opcodes.append(("insert", i, ai, j, bj))
        if size:
            opcodes.append(("equal", ai, ai + size, bj, bj + size))
        i, j = ai + size, bj + size
    return opcodes


def _matching_blocks(a: list[str], b: list[str]) -> list[Block]:
    """Increasing, non-overlapping matching blocks of ``a`` and ``b``, adjacent ones merged."""
    found: list[Block] = []
    pending = [(0, len(a), 0, len(b))]  # ranges still to match, as (alo, ahi, blo, bhi)
    while pending:
        alo, ahi, blo, bhi = pending.pop()
        # Common head and tail first: usually most of the range.
        start = alo
        while alo < ahi and blo < bhi and a[alo] == b[blo]:
            alo += 1
            blo += 1
        if alo > start:
            found.append((start, blo - (alo - start), alo - start))
        end = ahi
        while alo < ahi and blo < bhi and a[ahi - 1] == b[bhi - 1]:
            ahi -= 1
            bhi -= 1
        if ahi < end:
            found.append((ahi, bhi, end - ahi))
        if alo == ahi or blo == bhi:
            continue
        anchors = _unique_anchors(a, b, alo, ahi, blo, bhi)
        if not anchors:
            matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
            found.extend((alo + i, blo + j, size)
                         for i, j, size in matcher.get_matching_blocks() if size)
            continue
        # Anchors next to each other form one block; the gaps between blocks are new
        # ranges (their own common head and tail then extend the blocks).
        firsts = [0, *(k for k, ((i0, j0), (i1, j1)) in enumerate(pairwise(anchors), 1)
                       if i1 != i0 + 1 or j1 != j0 + 1)]
        prev_i, prev_j = alo, blo
        for first, after in pairwise([*firsts, len(anchors)]):
            i, j = anchors[first]
            if i > prev_i or j > prev_j:
                pending.append((prev_i, i, prev_j, j))
            found.append((i, j, after - first))
            prev_i, prev_j = i + after - first, j + after - first
        if prev_i < ahi or prev_j < bhi:
            pending.append((prev_i, ahi, prev_j, bhi))
    found.sort()
    merged: list[Block] = []
    for i, j, size in found:
        if merged:
            mi, mj, msize = merged[-1]
            if mi + msize == i and mj + msize == j:
                merged[-1] = (mi, mj, msize + size)
                continue
        merged.append((i, j, size))
    return merged


def _unique_anchors(a: list[str], b: list[str], alo: int, ahi: int,
                    blo: int, bhi: int) -> list[tuple[int, int]]:
    """Lines found exactly once in ``a[alo:ahi]`` and once in ``b[blo:bhi]``, as ``(i, j)``.

    Only the longest chain with both positions increasing is kept (patience sorting,
    O(k log k)), so the anchors never cross; lines that moved are left to the gaps.
    """
    count_a = Counter(a[alo:ahi])
    count_b = Counter(b[blo:bhi])
    where_b = {line: j for j, line in enumerate(b[blo:bhi], blo)
               if count_b[line] == 1 and count_a.get(line) == 1}
    if not where_b:
        return []
    pairs = [(i, where_b[line]) for i, line in enumerate(a[alo:ahi], alo) if line in where_b]
    js = [j for _, j in pairs]
    if js == sorted(js):  # nothing moved: every pair is an anchor
        return pairs
    # tails[k]: the smallest j ending an increasing chain of length k + 1 so far;
    # ends[k]: the index into pairs of that chain's last pair; back: each pair's predecessor.
    tails: list[int] = []
    ends: list[int] = []
    back: list[int] = []
    for index, j in enumerate(js):
        k = bisect.bisect_left(tails, j)
        back.append(ends[k - 1] if k else -1)
        if k == len(tails):
            tails.append(j)
            ends.append(index)
        else:
            tails[k] = j
            ends[k] = index
    chain: list[tuple[int, int]] = []
    index = ends[-1]
    while index >= 0:
        chain.append(pairs[index])
        index = back[index]
    chain.reverse()
    return chain


# --------------------------------------------------------------------------- output


def _grouped_opcodes(opcodes: list[Opcode], context: int) -> list[list[Opcode]]:
    """Hunks of changes with ``context`` lines around them.

    The same groups as ``SequenceMatcher.get_grouped_opcodes(context)`` would give for
    these opcodes: changes separated by at most ``2 * context`` equal lines share a hunk,
    and each hunk starts and ends with at most ``context`` equal lines.
    """
    hunks: list[list[Opcode]] = []
    hunk: list[Opcode] = []
    last = len(opcodes) - 1
    for k, code in enumerate(opcodes):
        tag, i1, i2, j1, j2 = code
        if tag != "equal" or (0 < k < last and i2 - i1 <= 2 * context):
            hunk.append(code)
            continue
        keep = min(i2 - i1, context)
        if k > 0:  # this equal run ends the hunk before it...
            hunk.append(("equal", i1, i1 + keep, j1, j1 + keep))
            hunks.append(hunk)
        # ...and its tail leads into the next one, if a change follows.
        hunk = [("equal", i2 - keep, i2, j2 - keep, j2)]
    if any(tag != "equal" for tag, *_ in hunk):
        hunks.append(hunk)
    return hunks


def _unified(opcodes: list[Opcode], a: list[str], b: list[str], context: int) -> list[str]:
    """The diff lines: ``@@ -a,b +c,d @@`` hunk headers, then ' ', '-' and '+' lines."""
    out: list[str] = []
    for hunk in _grouped_opcodes(opcodes, context):
        i1, i2, j1, j2 = hunk[0][1], hunk[-1][2], hunk[0][3], hunk[-1][4]
        out.append(f"@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@")
        for tag, a1, a2, b1, b2 in hunk:
            if tag == "equal":
                out.extend(" " + line for line in a[a1:a2])
                continue
            out.extend("-" + line for line in a[a1:a2])
            out.extend("+" + line for line in b[b1:b2])
    return out


def _add_once(items: list[str], item: str) -> None:
    """Append ``item`` unless ``items`` already holds it (keeps first-seen order)."""
    if item not in items:
        items.append(item)
