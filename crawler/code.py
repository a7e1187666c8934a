"""Reading a piece of Elixir code as written on one line: where its brackets close and
where its arguments split. Forgiving on purpose: a line is often cut mid-expression."""

from __future__ import annotations

import re
from collections.abc import Iterator

# `fn … end` brackets an anonymous function: its parameters' commas are its own.
FN_BOUND = re.compile(r"(?<![\w.:])(?:fn|end)(?![\w?!:])")


def _depths(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(offset, character, bracket depth after it) of the characters outside strings,
    from ``start``; depth counts (), [], {} and fn … end."""
    bounds = {m.start(): 1 if m.group() == "fn" else -1
              for m in FN_BOUND.finditer(text, start)} if "fn" in text else {}
    depth, quote = 0, ""
    for i in range(start, len(text)):
        ch = text[i]
        depth += bounds.get(i, 0)
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        yield i, ch, depth


def closing(text: str, start: int = 0) -> int:
    """Where the expression from ``start`` ends: at the first bracket it did not open
    (the one closing a call opened before ``start``), else the end of the text."""
    return next((i for i, _, depth in _depths(text, start) if depth < 0), len(text))


def split_args(args: str) -> list[str]:
    """Top-level comma-separated arguments of a call's argument text (an unclosed
    bracket takes the rest)."""
    out, start = [], 0
    for i, ch, depth in _depths(args):
        if ch == "," and depth == 0:
            out.append(args[start:i].strip())
            start = i + 1
    tail = args[start:].strip()
    if tail or out:
        out.append(tail)
    return out
