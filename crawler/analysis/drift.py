"""Snippet drift: code lines the docs changed, and the skill lines that still copy them.

A line of a page's code example (a line of a fenced block, or a command shown inline,
such as ``mix phx.new demo``) that an edit of the page took away is a
:class:`~crawler.analysis.facts.SnippetChange`, paired with the line of the current page
that took its place. A skill line that reproduces the old line is stale, unless some
current page still shows it (the line moved, it did not change).

Lines are compared by their :func:`code_key`: the code with whitespace, quote style,
comments and the names of local variables normalised away, and nothing else
(``let x = 1`` and ``const x = 1`` differ: that is a change of the docs).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from crawler.analysis.facts import SnippetChange
from crawler.diff import line_opcodes, section_titles

# Words that are never variables: Elixir, JavaScript and shell keywords and literals.
KEYWORDS = frozenset([
    "after", "and", "as", "async", "await", "break", "case", "catch", "class", "cond",
    "const", "continue", "def", "defp", "defmacro", "defmodule", "defstruct", "default",
    "delete", "do", "else", "elsif", "end", "export", "extends", "false", "fn", "for",
    "from", "function", "if", "import", "in", "instanceof", "let", "new", "nil", "not",
    "null", "of", "or", "quote", "raise", "receive", "require", "rescue", "return",
    "super", "switch", "then", "this", "throw", "true", "try", "typeof", "undefined",
    "unless", "unquote", "use", "var", "void", "when", "while", "with", "yield",
])
# A line whose first word is one of these is a command: none of its words is a variable.
COMMANDS = frozenset([
    "mix", "npm", "npx", "yarn", "pnpm", "bun", "iex", "elixir", "erl", "git", "curl",
    "cd", "docker", "brew", "apt", "sudo", "export", "rebar3", "fly", "heroku",
    "gigalixir",
])
# Inline code spans in prose that show a command worth watching (``mix phx.new demo``).
INLINE_COMMANDS = ("mix ", "npm ", "npx ", "yarn ", "pnpm ", "bun ", "iex ")
# Fewer letters than this outside variables and keywords: a line like ``end)``,
# ``{:ok, socket}`` or ``</div>`` that every snippet has, never evidence of a change.
MIN_LETTERS = 5
# How alike (difflib ratio of the keys) a new line must be to be offered as the
# replacement: within the same edit, or anywhere in the same section.
PAIR_IN_EDIT = 0.45
PAIR_IN_SECTION = 0.6
# An inline command is kept only with a replacement this alike: a command a page stops
# naming in its prose is no evidence that it changed.
PAIR_INLINE = 0.7
# The longest line kept whole in a hunk, and the term of a stale line.
MAX_SHOWN = 80
# A variable bound by a line of a block (``args = [...]``, ``const opts = {...}``), and
# the longest value of one that a copied line is expected to write in its place.
_BINDING = re.compile(r"(?:(?:let|const|var)\s+)?([a-z_]\w*)\s*=(?![=>~])\s*(\S.*?);?$")
MAX_INLINED = 120

# A token and the whitespace before it; the group named is its kind.
_TOKEN = re.compile(r"""\s*(?:
    (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
  | (?P<key>[A-Za-z_]\w*[?!]?:(?!:))
  | (?P<atom>:[A-Za-z_]\w*[?!]?)
  | (?P<word>[A-Za-z_]\w*(?:[?!](?!=))?)
  | (?P<number>\d[\w.]*)
  | (?P<other>\S)
)""", re.X)
_PROMPT = re.compile(r"^(?:\$|iex(?:\(\d+\))?>|>)\s+")
# Left neighbours (no space between) that make a word a field, an atom, an attribute,
# a capture, a sigil, a tag, a flag or a path rather than a variable.
_NOT_AFTER = frozenset(".@&~-/<$%?#:")
# Words after a space that end an expression (``p in Post``): the word before is a value.
_OPERATOR_WORDS = frozenset({"in", "when", "and", "or", "do", "else", "end", "of",
                             "instanceof", "as", "not"})
_EXPRESSION_START = frozenset("[{%@~&^")
_WORDS = re.compile(r"\w+")
_PIECES = re.compile(r"\w+|\S")  # the tokens two lines are compared by
_PLACEHOLDER = re.compile(r"_\d+")
# A key without a call, a bracket, an operator or two words: a name, not code.
_BARE = re.compile(r'[\w.:@/?!"-]*')


class CodeLine(NamedTuple):
    """A code line of a page: as shown (without its indentation), and where (a tuple:
    a page has hundreds, built at every report)."""

    text: str
    section: str
    block: int  # the number of its fenced block on the page; -1: an inline command

    @property
    def inline(self) -> bool:
        return self.block < 0


class Keys:
    """:func:`code_key` and :func:`is_trivial` of code lines, each worked out once (the
    snapshots of one page share most of their lines)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, bool]] = {}

    def __call__(self, code: str) -> tuple[str, bool]:
        """The key of ``code`` and whether it is trivial."""
        known = self._known.get(code)
        if known is None:
            key = code_key(code)
            known = self._known[code] = (key, is_trivial(key))
        return known


# A shell command line of a block: `$ mix phx.gen.socket User`, `npm install x`.
COMMAND_LINE = re.compile(r"^\s*(?:\$\s+)?(?:mix|npm|npx|yarn|pnpm|iex|elixir|git|curl|cd)\s")


def code_key(code: str) -> str:
    """The normal form two copies of the same code line share: tokens joined without
    the whitespace between them (a single space between two words), single quotes as
    double quotes, comments and a leading shell prompt dropped, and local variables
    renamed in order of appearance (``info => f(info)`` and ``i => f(i)`` are alike).
    Keywords, function and module names, keys, atoms and strings are kept."""
    tokens = _tokens(code)
    if not tokens:
        return ""
    names = {} if _is_command(tokens) else _variables(tokens)
    out: list[str] = []
    wordy_before = False
    for kind, text, _ in tokens:
        if kind == "word" and text in names:
            text = names[text]
        elif kind == "string" and text[0] == "'":
            text = f'"{text[1:-1]}"'
        wordy = kind in ("word", "number", "atom")
        if wordy and wordy_before:
            out.append(" ")
        out.append(text)
        wordy_before = wordy
    return "".join(out)


def is_trivial(key: str) -> bool:
    """A key too generic to be evidence (``end``, ``}``, ``{:ok, socket}``, a comment):
    fewer than ``MIN_LETTERS`` letters outside variables and keywords; or a bare name
    (``phx-page-loading``, ``Hello.User``, a lone string), a term rather than a snippet,
    left to the findings about terms."""
    if _BARE.fullmatch(key):
        return True
    letters = 0
    for word in _WORDS.findall(key):
        if word not in KEYWORDS and not _PLACEHOLDER.fullmatch(word):
            letters += sum(c.isalpha() for c in word)
            if letters >= MIN_LETTERS:
                return False
    return True


def code_lines(text: str) -> list[CodeLine]:
    """The code lines of a normalised page text: every line of its fenced blocks (in a
    list item or a quote too), and the inline commands of its prose."""
    lines = text.splitlines()
    sections = section_titles(lines)
    out: list[CodeLine] = []
    in_code = False
    block = 0
    for line, section in zip(lines, sections, strict=True):
        body = _unquoted(line) if line[:1] == ">" else line
        if "`" in body and body.strip() == "```":
            in_code = not in_code
            block += in_code
            continue
        if in_code:
            code = body.strip()
            if code:
                out.append(CodeLine(code, section, block))
        elif "`" in body:
            out.extend(CodeLine(span, section, -1)
                       for span in _spans(body) if span.startswith(INLINE_COMMANDS))
    return out


def snippet_changes(url: str, old_text: str, new_text: str) -> list[SnippetChange]:
    """The code lines of ``old_text`` that ``new_text`` no longer shows (up to
    :func:`code_key`), each with the most similar new line of the same edit or section
    (None: nothing like it) and a small hunk. Lines too generic to tell anything
    (:func:`is_trivial`) are left out, and so are inline commands with no new command
    like them."""
    return changes_between(url, code_lines(old_text), code_lines(new_text))


def changes_between(url: str, old: Sequence[CodeLine], new: Sequence[CodeLine],
                    keys: Keys | None = None) -> list[SnippetChange]:
    """:func:`snippet_changes` on code lines already extracted (a page's latest lines
    are compared with each of its earlier snapshots, with the same ``keys``).

    Lines shown alike in both are never keyed: only the old lines that the new text
    does not show as they are, the new lines that the old text did not, and the
    unchanged lines that might share a key with a changed one (they hold its longest
    verbatim word).
    """
    keys = Keys() if keys is None else keys
    new_texts = {line.text for line in new}
    if all(line.text in new_texts for line in old):
        return []
    old_texts = {line.text for line in old}
    changed = [i for i, line in enumerate(old) if line.text not in new_texts]
    changed_keys = {keys(old[i].text)[0] for i in changed}
    # New lines that replace something: neither in the old text nor a respelling of it.
    added = [not (line.text in old_texts or keys(line.text)[1]
                  or keys(line.text)[0] in changed_keys) for line in new]
    added_keys = {keys(line.text)[0] for line in new if line.text not in old_texts}
    kept = [line.text for line in new if line.text in old_texts]
    kept_text = "\n".join(kept)
    removed = set()
    for i in changed:
        key, trivial = keys(old[i].text)
        if trivial or key in added_keys:
            continue
        anchor = _anchor(key)
        if anchor not in kept_text or not any(
                anchor in text and keys(text)[0] == key for text in kept):
            removed.add(i)
    if not removed:
        return []
    shown_in = {line.section for line in new if not line.inline}  # sections with code
    # The new lines that replace something, by section (and inline or not).
    by_section: dict[tuple[str, bool], list[CodeLine]] = {}
    for line, is_added in zip(new, added, strict=True):
        if is_added:
            by_section.setdefault((line.section, line.inline), []).append(line)
    bindings = _bindings(old)
    out: list[SnippetChange] = []
    seen: set[str] = set()
    for tag, i1, i2, j1, j2 in line_opcodes([line.text for line in old],
                                            [line.text for line in new]):
        for i in range(i1, i2) if tag in ("replace", "delete") else ():
            line = old[i]
            key = keys(line.text)[0]
            if i not in removed or key in seen:
                continue
            seen.add(key)
            in_edit = [new[j] for j in range(j1, j2)
                       if added[j] and new[j].inline == line.inline]
            in_section = by_section.get((line.section, line.inline), [])
            if line.inline:
                partner = _most_alike(key, in_edit + in_section, PAIR_INLINE, keys)
                if partner is None:
                    continue
            else:
                partner = _most_alike(key, in_edit, PAIR_IN_EDIT, keys) \
                    or _most_alike(key, in_section, PAIR_IN_SECTION, keys)
                if partner is None and (line.section not in shown_in
                                        or COMMAND_LINE.match(line.text)):
                    # The section shows no code any more, or a command left with nothing
                    # like it: an example the page no longer renders (an empty block) or
                    # dropped, not one it rewrote.
                    continue
            # The line before, when it is of the same block and still there.
            before = old[i - 1] if i else None
            context = before.text if before is not None and not line.inline \
                and before.block == line.block and before.text in new_texts else None
            change = SnippetChange(url, line.section, line.text,
                                   partner.text if partner else None,
                                   _hunk(context, line.text, partner))
            out.append(change)
            for inlined in _inlined(old, i, bindings):
                if keys(inlined)[0] not in seen:
                    seen.add(keys(inlined)[0])
                    out.append(dataclasses.replace(change, old=inlined))
    return out


def _bindings(lines: Sequence[CodeLine]) -> dict[int, list[tuple[int, str, str]]]:
    """The variables the lines of each block bind (``args = [...]``): block -> (index of
    the line, name, value)."""
    out: dict[int, list[tuple[int, str, str]]] = {}
    for index, line in enumerate(lines):
        if not line.inline and "=" in line.text \
                and (match := _BINDING.match(line.text.strip())):
            name, value = match.groups()
            if name not in KEYWORDS and len(value) <= MAX_INLINED:
                out.setdefault(line.block, []).append((index, name, value.strip()))
    return out


def _inlined(lines: Sequence[CodeLine], index: int,
             bindings: dict[int, list[tuple[int, str, str]]]) -> list[str]:
    """The line ``index`` of ``lines`` with a variable that a line above it in the same
    block binds written in its place: the way a skill copies an example whose value the
    docs put in a variable first."""
    line = lines[index]
    if line.inline or _BINDING.match(line.text.strip()):
        return []
    bound = {name: value for at, name, value in bindings.get(line.block, ()) if at < index}
    out = []
    for name, value in bound.items():
        if name not in line.text:
            continue
        uses = re.compile(rf"(?<![\w.:@&~/-]){re.escape(name)}(?![\w(:?!=-])")
        if len(found := list(uses.finditer(line.text))) == 1:
            start, end = found[0].span()
            out.append(line.text[:start] + value + line.text[end:])
    return out


def still_shown(texts: Iterable[str], changes: Iterable[SnippetChange]) -> set[str]:
    """The keys of the changes' old lines that one of ``texts`` (the current pages)
    shows, as a line of a code block or as an inline code span: a line that moved
    there did not drift.

    A line is keyed only when it holds every verbatim word (no variable) of some
    wanted key, as any line of that key does.
    """
    wanted: dict[str, list[tuple[frozenset[str], str]]] = {}
    for key in {code_key(change.old) for change in changes}:
        if not is_trivial(key):
            words = frozenset(w for w in _WORDS.findall(key) if not _PLACEHOLDER.fullmatch(w))
            wanted.setdefault(_anchor(key), []).append((words, key))
    found: set[str] = set()
    if not wanted:
        return found
    for text in texts:
        in_code = False
        for line in text.splitlines():
            body = _unquoted(line) if line[:1] == ">" else line
            if "`" in body and body.strip() == "```":
                in_code = not in_code
            elif in_code or "`" in body:
                for code in [body.strip()] if in_code else _spans(body):
                    held = set(_WORDS.findall(code))
                    keys = [key for word in held if word in wanted
                            for need, key in wanted[word] if need <= held]
                    if keys and (key := code_key(code)) in keys:
                        found.add(key)
    return found


def drifted(lines: Iterable[tuple[int, str]], changes: Iterable[SnippetChange],
            current_code: frozenset[str] | set[str]) -> list[tuple[int, SnippetChange]]:
    """The skill lines (numbered) that reproduce a changed docs line, each with its
    change: the whole line, or one of its inline code spans, has the key of a change's
    old line, and that key is not in ``current_code`` (the code current pages show,
    :func:`still_shown`). The changes are keyed once for all the skill files; each
    skill line costs a dict lookup per candidate."""
    by_key = _by_key(tuple(changes), frozenset(current_code))
    if not by_key:
        return []
    out = []
    for number, text in lines:
        for candidate in _skill_candidates(text):
            change = by_key.get(code_key(candidate))
            if change is not None:
                out.append((number, change))
                break
    return out


@functools.lru_cache(maxsize=4)
def _by_key(changes: tuple[SnippetChange, ...],
            current_code: frozenset[str]) -> dict[str, SnippetChange]:
    """The changes by the key of their old line, but those still shown and the trivial
    ones; the first of a key, unless a later one has a replacement and it has none."""
    out: dict[str, SnippetChange] = {}
    for change in changes:
        key = code_key(change.old)
        if key not in current_code and not is_trivial(key):
            known = out.get(key)
            if known is None or (known.new is None and change.new is not None):
                out[key] = change
    return out


def shorten(line: str, limit: int = MAX_SHOWN) -> str:
    """``line`` cut to ``limit`` characters, marked ``…`` when cut."""
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


# -- helpers -------------------------------------------------------------------------------


def _anchor(key: str) -> str:
    """The longest word of ``key`` that is no variable: verbatim in any line of it."""
    return max((w for w in _WORDS.findall(key) if not _PLACEHOLDER.fullmatch(w)),
               key=len, default="")


def _tokens(code: str) -> list[tuple[str, str, bool]]:
    """(kind, text, space before) of each token of ``code``, up to a comment."""
    code = code.strip()
    if code.startswith("<!--"):
        return []
    if code[:1] in "$i>":
        code = _PROMPT.sub("", code)  # a prompt is not code
    out: list[tuple[str, str, bool]] = []
    for match in _TOKEN.finditer(code):
        kind = match.lastgroup or "other"
        text, space = match.group(kind), match.start(kind) > match.start()
        if kind == "other" and (space or not out) and (
                (text == "#" and not code.startswith("{", match.end()))
                or (text == "/" and code.startswith("/", match.end()))):
            break  # "# ..." or "// ...": a comment, to the end of the line
        out.append((kind, text, space or not out))
    # Trailing separators are optional in both languages (``;``, a list's last ``,``).
    while out and out[-1][1] in (",", ";"):
        out.pop()
    return out


def _is_command(tokens: list[tuple[str, str, bool]]) -> bool:
    kind, text, _ = tokens[0]
    return kind == "word" and text in COMMANDS


def _variables(tokens: list[tuple[str, str, bool]]) -> dict[str, str]:
    """The local variables of a line, renamed ``_1``, ``_2``… in order of appearance.

    A lower-case word is a variable when one of its occurrences is a value: followed by
    an operator, a separator, a closing bracket or the end of the line, and not
    preceded by a dot, a colon, ``@``, ``&``, ``~``, ``-`` or ``/``. A word followed by
    ``(``, by another expression (a call without parentheses, ``plug :x``), by ``-``
    or ``/`` (a name like ``phx-click``), or by ``="`` (an attribute) is a name.
    """
    values: list[str] = []
    for index, (kind, text, _) in enumerate(tokens):
        if kind != "word" or text in KEYWORDS or not (text[0].islower() or text[0] == "_"):
            continue
        if index and not tokens[index][2] and tokens[index - 1][1] in _NOT_AFTER:
            continue
        if _is_value(tokens, index) and text not in values:
            values.append(text)
    return {name: f"_{n}" for n, name in enumerate(values, 1)}


def _is_value(tokens: list[tuple[str, str, bool]], index: int) -> bool:
    if index + 1 == len(tokens):
        return True
    kind, text, space = tokens[index + 1]
    if not space:
        if text in ("(", "-", "/", ".", "?"):
            return False
        # name="..." or name={...}: an attribute
        return not (text == "=" and index + 2 < len(tokens) and not tokens[index + 2][2]
                    and tokens[index + 2][1][0] in "\"'{")
    if kind == "word":
        return text in _OPERATOR_WORDS
    return kind == "other" and text not in _EXPRESSION_START


def _unquoted(line: str) -> str:
    """A line without the ``> `` of the quotes it sits in."""
    while line.startswith(">"):
        line = line[2:] if line.startswith("> ") else line[1:]
    return line


def _spans(text: str) -> list[str]:
    """The inline code spans of a line of prose, trimmed."""
    return [span.strip() for span in re.findall(r"`([^`\n]+)`", text) if span.strip()]


def _skill_candidates(text: str) -> list[str]:
    """What of a skill line may copy a docs line: the line (without a list marker or a
    quote) and each of its inline code spans."""
    line = _unquoted(text.strip()).strip()
    out = [line]
    bare = re.sub(r"^(?:[-*+]|\d+\.)\s+", "", line)
    if bare != line:
        out.append(bare)
    if "`" in line:
        for span in _spans(line):
            out.append(span)
            if span.startswith("/**") and span.endswith("*/"):
                # `/** @type {…} */` in a sentence is the line ` * @type {…}` of the docs'
                # block comment.
                out.append("* " + span[3:-2].strip())
    return out


def _most_alike(key: str, candidates: list[CodeLine], cutoff: float,
                keys: Keys) -> CodeLine | None:
    """The candidate most like the line of ``key`` (difflib ratio of their tokens), if
    at least ``cutoff``; the first of equals."""
    best: CodeLine | None = None
    best_ratio = cutoff
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(_PIECES.findall(key))
    for candidate in candidates:
        matcher.set_seq1(_PIECES.findall(keys(candidate.text)[0]))
        if matcher.real_quick_ratio() < best_ratio or matcher.quick_ratio() < best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio > best_ratio or (best is None and ratio >= best_ratio):
            best, best_ratio = candidate, ratio
    return best


def _hunk(context: str | None, old: str, new: CodeLine | None) -> str:
    lines = [f" {shorten(context)}"] if context else []
    lines.append(f"-{old}")
    if new is not None:
        lines.append(f"+{new.text}")
    return "\n".join(lines)
