"""Compare two normalised texts: which sections changed, how many lines, a short diff."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

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
    path: list[tuple[int, str]] = []
    out = []
    in_code = False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
        level = 0 if in_code else _heading_level(line)
        if level:
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, line[level + 1:].strip()))
        # The page title (h1) is implied; name sections from h2 down.
        names = [title for lvl, title in path if lvl > 1]
        out.append(" › ".join(names) if names else "(introduction)")
    return out


def _heading_level(line: str) -> int:
    if not line.startswith("#"):
        return 0
    level = len(line) - len(line.lstrip("#"))
    return level if level <= 6 and line[level:level + 1] == " " else 0


def diff_texts(old: str, new: str, context: int = 1,
               max_lines: int = MAX_DIFF_LINES) -> TextDiff:
    """Diff two normalised texts line by line; blank lines never count as changes."""
    a, b = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    sec_a, sec_b = section_titles(a), section_titles(b)
    sections: list[str] = []
    added: list[str] = []
    removed: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for i in range(i1, i2):
            if a[i].strip():
                removed.append(a[i])
                _add_once(sections, sec_a[i])
        for j in range(j1, j2):
            if b[j].strip():
                added.append(b[j])
                _add_once(sections, sec_b[j])
    unified_lines = _unified(matcher, a, b, context)
    if len(unified_lines) > max_lines:
        hidden = len(unified_lines) - max_lines
        unified_lines = [*unified_lines[:max_lines], f"… {hidden} more diff lines"]
    return TextDiff(sections, len(added), len(removed), "\n".join(unified_lines),
                    "\n".join(added), "\n".join(removed))


def _unified(matcher: difflib.SequenceMatcher, a: list[str], b: list[str],
             context: int) -> list[str]:
    # Built from the matcher we already have: difflib.unified_diff would match again.
    out: list[str] = []
    for group in matcher.get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out.extend(" " + line for line in a[a1:a2])
                continue
            out.extend("-" + line for line in a[a1:a2])
            out.extend("+" + line for line in b[b1:b2])
    return out


def _add_once(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)
