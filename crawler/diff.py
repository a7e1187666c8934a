"""Compare two normalised texts: which sections changed, how many lines, a short diff.

A page may be one 10 MB line. What a diff derives from two texts is bounded whatever
their lines: a diff line longer than ``MAX_LINE`` characters is folded around what
changed in it (``… 4,700,000 bytes …``, ``… N bytes more``), the stored diff keeps
``MAX_DIFF_LINES`` lines and the changed text ``MAX_CHANGED_TEXT`` characters a side.
The texts themselves (the snapshots) are never cut.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, pairwise

MAX_DIFF_LINES = 40
MAX_LINE = 2000  # characters: a longer diff line is folded around its changes
LINE_CONTEXT = 240  # characters of unchanged text kept on each side of a change
CHANGE_SHOWN = 800  # characters of one changed stretch shown (its start and its end)
MARKER_ROOM = 40  # characters a "… N bytes more" marker may take
MAX_CHANGED_TEXT = 64 * 1024  # characters of added (and of removed) lines kept
MAX_SECTION_TITLE = 200  # characters of a heading kept as a section's name
# Pairs of lines difflib may compare in a range no unique line anchors: it is quadratic.
MATCH_BUDGET = 1_000_000
ANCHOR_WINDOW = 8  # lines of a run that anchors a longer range without a unique line
# Characters of a changed stretch of one long line compared word by word; beyond this
# only where the stretch starts and ends is shown.
WORD_DIFF_LIMIT = 200_000


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
        path.append((level, section_name(line[level + 1:])))
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
    """Diff two normalised texts line by line; blank lines never count as changes.

    The counts and sections are exact; ``unified`` shows at most ``max_lines`` lines
    (then ``… N more diff lines``), ``added_text`` and ``removed_text`` at most
    ``MAX_CHANGED_TEXT`` characters each, every line of them folded to about
    ``MAX_LINE`` characters around what changed in it.
    """
    a, b = old.splitlines(), new.splitlines()
    opcodes = _line_opcodes(a, b)
    if all(tag == "equal" for tag, *_ in opcodes):
        return TextDiff()
    sec_a, sec_b = _section_starts(a), _section_starts(b)
    sections: list[str] = []
    added, removed = _Kept(), _Kept()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            continue
        # Past both budgets only the counts and sections are left to find.
        pairs = _Folded(a[i1:i2], b[j1:j2]) if added.full and removed.full \
            else _folded_block(a[i1:i2], b[j1:j2])
        for i, shown in zip(range(i1, i2), pairs.old, strict=True):
            if a[i].strip():
                removed.add(shown)
                _add_once(sections, _titles_at(sec_a, i))
        for j, shown in zip(range(j1, j2), pairs.new, strict=True):
            if b[j].strip():
                added.add(shown)
                _add_once(sections, _titles_at(sec_b, j))
    hunks = _grouped_opcodes(opcodes, context)
    unified_lines = [line for _, line in zip(range(max_lines), _unified(hunks, a, b),
                                             strict=False)]
    hidden = sum(_hunk_size(hunk) for hunk in hunks) - len(unified_lines)
    if hidden > 0:
        unified_lines.append(f"… {hidden} more diff lines")
    return TextDiff(sections, added.count, removed.count, "\n".join(unified_lines),
                    "\n".join(added.lines), "\n".join(removed.lines))


class _Kept:
    """Changed lines, counted all, kept up to ``MAX_CHANGED_TEXT`` characters."""

    def __init__(self) -> None:
        self.count = 0
        self.lines: list[str] = []
        self._size = 0

    @property
    def full(self) -> bool:
        return self._size >= MAX_CHANGED_TEXT

    def add(self, line: str) -> None:
        self.count += 1
        if self._size + len(line) <= MAX_CHANGED_TEXT:
            self.lines.append(line)
            self._size += len(line) + 1
        else:
            self._size = MAX_CHANGED_TEXT  # the lines kept stay in their order, no gap


def unified_diff(old: str, new: str, *, fromfile: str, tofile: str, context: int = 3,
                 width: int | None = MAX_LINE) -> Iterator[str]:
    """The lines of a unified diff of two texts, as ``difflib.unified_diff`` writes them
    (``lineterm=""``), every hunk included; each line longer than ``width`` characters
    is folded around what changed in it (``width=None``: lines are kept whole).

    Lines are matched as :func:`diff_texts` matches them, so a long page changed in
    many places takes time in proportion to its length, not its square.
    """
    a, b = old.splitlines(), new.splitlines()
    hunks = _grouped_opcodes(_line_opcodes(a, b), context)
    if not hunks:
        return
    yield f"--- {fromfile}"
    yield f"+++ {tofile}"
    for hunk in hunks:
        i1, i2, j1, j2 = hunk[0][1], hunk[-1][2], hunk[0][3], hunk[-1][4]
        yield f"@@ -{_unified_range(i1, i2)} +{_unified_range(j1, j2)} @@"
        yield from _hunk_lines(hunk, a, b, width)


def _unified_range(start: int, stop: int) -> str:
    """A hunk header's range as ``diff -u`` writes it (``3``, ``3,2``, ``2,0``)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


# --------------------------------------------------------------------------- matching
#
# difflib.SequenceMatcher (autojunk off) looks for the longest matching block over and
# over, which is close to quadratic on a long page. Pages change in a few places, so
# the lines that occur exactly once on both sides pin most of the page down: their
# positions, in the longest increasing order, split the page into small gaps, and only
# those gaps (or a range without any such line) go to SequenceMatcher. A range without
# one that is too long for it (a page of a few recurring lines) is anchored on runs of
# lines found once instead, else on the k-th occurrence of each line, so no text costs
# quadratic time.

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
        if not anchors and (ahi - alo) * (bhi - blo) <= MATCH_BUDGET:
            matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
            found.extend((alo + i, blo + j, size)
                         for i, j, size in matcher.get_matching_blocks() if size)
            continue
        # Too long for difflib: runs of lines found once, else the k-th "x" of a with
        # the k-th "x" of b.
        anchors = anchors or _window_anchors(a, b, alo, ahi, blo, bhi) \
            or _occurrence_anchors(a, b, alo, ahi, blo, bhi)
        if not anchors:
            continue  # nothing in common: the range is replaced
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
    return _longest_chain(pairs)


def _window_anchors(a: list[str], b: list[str], alo: int, ahi: int,
                    blo: int, bhi: int) -> list[tuple[int, int]]:
    """Where a run of ``ANCHOR_WINDOW`` lines found exactly once in ``a[alo:ahi]`` and
    once in ``b[blo:bhi]`` starts, as ``(i, j)``, the longest increasing chain: on a
    page of a few recurring lines no line is unique, but most runs of them are."""
    def runs(lines: list[str], lo: int, hi: int) -> list[tuple[str, ...]]:
        return [tuple(lines[k:k + ANCHOR_WINDOW]) for k in range(lo, hi - ANCHOR_WINDOW + 1)]

    runs_a, runs_b = runs(a, alo, ahi), runs(b, blo, bhi)
    count_a, count_b = Counter(runs_a), Counter(runs_b)
    where_b = {run: j for j, run in enumerate(runs_b, blo)
               if count_b[run] == 1 and count_a.get(run) == 1}
    return _longest_chain([(i, where_b[run]) for i, run in enumerate(runs_a, alo)
                           if run in where_b])


def _occurrence_anchors(a: list[str], b: list[str], alo: int, ahi: int,
                        blo: int, bhi: int) -> list[tuple[int, int]]:
    """The k-th occurrence of each line in ``a[alo:ahi]`` paired with its k-th one in
    ``b[blo:bhi]``, as ``(i, j)``, the longest chain with both positions increasing.

    For a long range without a unique line (a page of repeated lines), where difflib
    would take quadratic time: a valid match, not always the longest.
    """
    seen: Counter[str] = Counter()
    where_b: dict[tuple[str, int], int] = {}
    for j, line in enumerate(b[blo:bhi], blo):
        seen[line] += 1
        where_b[line, seen[line]] = j
    seen.clear()
    pairs = []
    for i, line in enumerate(a[alo:ahi], alo):
        seen[line] += 1
        if (match := where_b.get((line, seen[line]))) is not None:
            pairs.append((i, match))
    return _longest_chain(pairs)


def _longest_chain(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of ``pairs`` (increasing in i) also increasing in j."""
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


def _unified(hunks: list[list[Opcode]], a: list[str], b: list[str]) -> Iterator[str]:
    """The stored diff's lines: ``@@ -a,b +c,d @@`` hunk headers, then ' ', '-' and '+'
    lines, each folded to about ``MAX_LINE`` characters."""
    for hunk in hunks:
        i1, i2, j1, j2 = hunk[0][1], hunk[-1][2], hunk[0][3], hunk[-1][4]
        yield f"@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@"
        yield from _hunk_lines(hunk, a, b, MAX_LINE)


def _hunk_lines(hunk: list[Opcode], a: list[str], b: list[str],
                width: int | None) -> Iterator[str]:
    """The ' ', '-' and '+' lines of one hunk, folded to ``width`` (None: whole)."""
    for tag, a1, a2, b1, b2 in hunk:
        if tag == "equal":
            yield from (" " + (line if width is None else fold_line(line, width))
                        for line in a[a1:a2])
            continue
        if width is None:
            yield from ("-" + line for line in a[a1:a2])
            yield from ("+" + line for line in b[b1:b2])
            continue
        pairs = _folded_block(a[a1:a2], b[b1:b2], width)
        yield from ("-" + line for line in pairs.old)
        yield from ("+" + line for line in pairs.new)


def _hunk_size(hunk: list[Opcode]) -> int:
    """How many lines :func:`_unified` writes for ``hunk``, its header included."""
    return 1 + sum(i2 - i1 + (j2 - j1 if tag != "equal" else 0)
                   for tag, i1, i2, j1, j2 in hunk)


# --------------------------------------------------------------------------- long lines
#
# A line of a few megabytes (a page that is one paragraph, a minified blob) is shown
# as a window: the unchanged text around each change, cut at a space, the rest elided
# with how many bytes it holds. The old and the new line of a replaced pair are folded
# together, so both windows show the same place.

TOKEN = re.compile(r"\s*\S+|\s+")  # a word and the spaces before it: joined, the text


@dataclass(frozen=True)
class _Folded:
    """The removed and the added lines of one changed block, as shown."""

    old: list[str]
    new: list[str]


def _folded_block(old: list[str], new: list[str], width: int = MAX_LINE) -> _Folded:
    """The lines of a replaced block folded to ``width``: the k-th old line with the
    k-th new one (a line edited in place), any others on their own."""
    paired = min(len(old), len(new))
    if all(len(line) <= width for line in old) and all(len(line) <= width for line in new):
        return _Folded(old, new)
    folded = [fold_pair(x, y, width) for x, y in zip(old[:paired], new[:paired], strict=True)]
    return _Folded([x for x, _ in folded] + [fold_line(x, width) for x in old[paired:]],
                   [y for _, y in folded] + [fold_line(y, width) for y in new[paired:]])


def fold_diff(unified: str, width: int = MAX_LINE) -> str:
    """A stored unified diff with each line longer than ``width`` folded as
    :func:`diff_texts` folds it (a run of ``-`` lines with the ``+`` run after it, in
    pairs): a diff stored before lines were folded is shown bounded too."""
    lines = unified.split("\n")
    if all(len(line) <= width + 1 for line in lines):
        return unified
    out: list[str] = []
    k = 0
    while k < len(lines):
        if lines[k].startswith("-"):
            i = k
            while i < len(lines) and lines[i].startswith("-"):
                i += 1
            j = i
            while j < len(lines) and lines[j].startswith("+"):
                j += 1
            pairs = _folded_block([x[1:] for x in lines[k:i]], [y[1:] for y in lines[i:j]],
                                  width)
            out.extend(["-" + x for x in pairs.old] + ["+" + y for y in pairs.new])
            k = j
            continue
        line = lines[k]
        out.append(line[0] + fold_line(line[1:], width) if line.startswith(("+", " "))
                   else fold_line(line, width))
        k += 1
    return "\n".join(out)


def fold_line(line: str, width: int = MAX_LINE) -> str:
    """``line`` when it has at most ``width`` characters, else its start, cut at a
    space, and ``… N bytes more`` (N: the UTF-8 size of the rest), in ``width``."""
    if len(line) <= width:
        return line
    return _window(line, [], width)


def fold_pair(old: str, new: str, width: int = MAX_LINE) -> tuple[str, str]:
    """A changed line's old and new text, each longer than ``width`` characters shown
    as the changes with ``LINE_CONTEXT`` characters around them, in about ``width``
    characters; what is left out says how many bytes it holds (``… N bytes …``,
    ``… N bytes more``). A side of at most ``width`` characters is kept whole."""
    if len(old) <= width and len(new) <= width:
        return old, new
    spans = changed_spans(old, new)
    return (old if len(old) <= width else _window(old, [(o1, o2) for o1, o2, _, _ in spans],
                                                  width),
            new if len(new) <= width else _window(new, [(n1, n2) for _, _, n1, n2 in spans],
                                                  width))


def changed_spans(old: str, new: str) -> list[tuple[int, int, int, int]]:
    """Where two versions of a line differ: ``(o1, o2, n1, n2)`` stretches, in order,
    such that ``old[o1:o2]`` became ``new[n1:n2]`` and the text between is the same.

    The common start and end are skipped first (in blocks, without copying the line);
    what lies between is compared word by word when under ``WORD_DIFF_LIMIT``
    characters, else given as one stretch.
    """
    start = _common_prefix(old, new)
    end = _common_suffix(old, new, start)
    o1, o2, n1, n2 = start, len(old) - end, start, len(new) - end
    if o1 == o2 and n1 == n2:
        return []
    if o1 == o2 or n1 == n2 or max(o2 - o1, n2 - n1) > WORD_DIFF_LIMIT:
        return [(o1, o2, n1, n2)]
    ta, tb = TOKEN.findall(old, o1, o2), TOKEN.findall(new, n1, n2)
    at = list(accumulate(map(len, ta), initial=o1))  # where each token starts
    bt = list(accumulate(map(len, tb), initial=n1))
    return [(at[i1], at[i2], bt[j1], bt[j2])
            for tag, i1, i2, j1, j2 in _line_opcodes(ta, tb) if tag != "equal"]


def _window(text: str, spans: Sequence[tuple[int, int]], width: int) -> str:
    """``text`` shown as its changed stretches ``spans`` in their unchanged context, then
    ``… N bytes more``: at most ``width`` characters once ``width`` holds the first
    stretch and its context (about 1,400). No span: the start of ``text``."""
    if not spans:
        end = _cut_back(text, width - MARKER_ROOM)
        return text[:end] + _more(text, end)
    pieces: list[str] = []
    size = 0
    pos = 0  # the text before pos is shown or elided already
    for k, (s1, s2) in enumerate(spans):
        keep = LINE_CONTEXT if k == 0 else 2 * LINE_CONTEXT
        if s1 - pos <= keep:
            lead = [text[pos:s1]]
        else:
            head = pos if k == 0 else _cut_back(text, pos + LINE_CONTEXT, pos)
            start = _cut_forward(text, s1 - LINE_CONTEXT, s1)
            lead = [text[pos:head], " " if head > pos else "", _elided(text, head, start),
                    " ", text[start:s1]]
        lead.append(_span(text, s1, s2))
        cost = sum(map(len, lead))
        # Room for this change, the context after it and the closing marker?
        if k and size + cost + LINE_CONTEXT + MARKER_ROOM > width:
            break
        pieces.extend(lead)
        size += cost
        pos = s2
    end = _cut_back(text, pos + LINE_CONTEXT, pos)
    pieces.append(text[pos:end])
    return "".join(pieces) + _more(text, end)


def _span(text: str, start: int, end: int) -> str:
    """A changed stretch: whole if short, else its start and its end around what is left out."""
    if end - start <= CHANGE_SHOWN:
        return text[start:end]
    head = _cut_back(text, start + CHANGE_SHOWN // 2, start)
    tail = _cut_forward(text, end - CHANGE_SHOWN // 2, end)
    return f"{text[start:head]} {_elided(text, head, tail)} {text[tail:end]}"


def _elided(text: str, start: int, end: int) -> str:
    return f"… {utf8_size(text, start, end):,} bytes …"


def _more(text: str, start: int) -> str:
    """The marker ending a folded line: how much of it is not shown."""
    return f" … {utf8_size(text, start, len(text)):,} bytes more" if start < len(text) else ""


def _cut_back(text: str, end: int, floor: int = 0) -> int:
    """``end``, moved back onto the space before the word it would cut, if one is near."""
    if end >= len(text):
        return len(text)
    space = text.rfind(" ", max(floor, end - 40), end)
    return space if space > floor else end


def _cut_forward(text: str, start: int, ceiling: int) -> int:
    """``start``, moved on past a space if one is near (the window starts on a word)."""
    space = text.find(" ", start, min(ceiling, start + 40))
    return space + 1 if space >= 0 else start


def utf8_size(text: str, start: int = 0, end: int | None = None) -> int:
    """The UTF-8 size of ``text[start:end]``, encoded a block at a time (no copy of a
    long line)."""
    end = len(text) if end is None else end
    if text.isascii():
        return max(end - start, 0)
    return sum(len(text[i:min(i + 65536, end)].encode("utf-8", "surrogatepass"))
               for i in range(start, end, 65536))


def _common_prefix(a: str, b: str) -> int:
    """How many characters ``a`` and ``b`` start with in common."""
    limit, n, block = min(len(a), len(b)), 0, 4096
    while n < limit:
        size = min(block, limit - n)
        if a.startswith(b[n:n + size], n):
            n += size
            continue
        while a[n] == b[n]:
            n += 1
        return n
    return n


def _common_suffix(a: str, b: str, prefix: int) -> int:
    """How many characters ``a`` and ``b`` end with in common, not counting into the
    first ``prefix`` characters of either."""
    limit, n, block = min(len(a), len(b)) - prefix, 0, 4096
    while n < limit:
        size = min(block, limit - n)
        if a.endswith(b[len(b) - n - size:len(b) - n], 0, len(a) - n):
            n += size
            continue
        while a[len(a) - n - 1] == b[len(b) - n - 1]:
            n += 1
        return n
    return n


def section_name(heading: str) -> str:
    """A heading's text as a section's name: at most ``MAX_SECTION_TITLE`` characters,
    cut with "…" (a heading of a megabyte names its section in a few words)."""
    name = heading.strip()
    return name if len(name) <= MAX_SECTION_TITLE else \
        name[:MAX_SECTION_TITLE - 1].rstrip() + "…"


def _add_once(items: list[str], item: str) -> None:
    """Append ``item`` unless ``items`` already holds it (keeps first-seen order)."""
    if item not in items:
        items.append(item)
