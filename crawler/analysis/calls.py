"""The calls on a line of code, read well enough to judge a usage: which function, on
which module, with which arguments (and of what kind each is).

Not a parser of Elixir: a skill line is one line of a snippet, often cut mid-call. The
reading is forgiving (an unclosed call takes the rest of the line) and only claims what
it saw: an arity is known only for a call written with its arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from crawler.code import closing, split_args
from crawler.notices import ArgKind, Shape

CALL = re.compile(r"(?<![\w.:@])(?P<mod>(?:[A-Z][A-Za-z0-9]*\.)*[A-Z][A-Za-z0-9]*\.|"
                  r":[a-z_][a-z0-9_]*\.)?(?P<name>[a-z_][a-z0-9_]*[?!]?)(?P<open>\()")
# A call without parentheses at the start of a statement: `live "/", HomeLive, :index`.
BARE_CALL = re.compile(r"(?:^|<%=?|\{|\bdo:|->|\|>|=)\s*(?P<mod>(?:[A-Z][A-Za-z0-9]*\.)+)?"
                       r"(?P<name>[a-z_][a-z0-9_]*[?!]?)\s+(?=[\"':@%\[{~&A-Za-z0-9_-])")
PLUG_ATOM = re.compile(r"\bplug\s+:(?P<name>[a-z_][a-z0-9_]*[?!]?)")
DEFINITION = re.compile(r"\bdefp?\s+$|\bdefmacrop?\s+$")
KEYWORD_ARG = re.compile(r"^([a-z_][a-z0-9_]*[?!]?):\s")
# Words that look like a call without parentheses but are syntax or prose.
NOT_CALLS = frozenset({"do", "end", "fn", "when", "and", "or", "not", "in", "if", "else",
                       "case", "cond", "with", "for", "def", "defp", "defmodule", "defmacro",
                       "import", "alias", "require", "use", "the", "a", "an", "to", "is",
                       "of", "then", "let", "const", "var", "return", "new",
                       "receive", "after", "try", "rescue", "catch", "quote", "unquote"})


@dataclass(frozen=True)
class Call:
    """One call on a line, as written."""

    module: str | None  # "Repo", "Phoenix.LiveView.JS"; None: called bare (imported)
    name: str
    args: tuple[str, ...]  # top-level arguments as written
    start: int  # where the call starts (its module, else its name) in the line
    end: int  # after its last argument
    piped: bool = False  # `x |> f(...)`: the subject is an argument not written
    definition: bool = False  # `def f(...)`: the function defined, not called
    parens: bool = True
    closed: bool = True  # False: the call goes on below (its arity is not known)

    @property
    def arity(self) -> int:
        """The number of arguments: trailing keyword pairs count as one (a keyword list),
        a pipe's subject as one."""
        positional = [a for a in self.args if not KEYWORD_ARG.match(a)]
        keywords = len(positional) < len(self.args)
        return len(positional) + keywords + self.piped

    @property
    def positional(self) -> tuple[str, ...]:
        return tuple(a for a in self.args if not KEYWORD_ARG.match(a))

    def option(self, name: str) -> str | None:
        """The value the call gives option ``name`` (in its trailing keywords or a
        keyword-list argument), or None."""
        for arg in self.args:
            for part in _keyword_parts(arg):
                match = KEYWORD_ARG.match(part)
                if match and match.group(1) == name:
                    return part[match.end():].strip()
        return None


def _keyword_parts(arg: str) -> list[str]:
    if arg.startswith("[") and arg.endswith("]"):
        return split_args(arg[1:-1])
    return [arg]


@lru_cache(maxsize=16384)
def calls_in(line: str) -> tuple[Call, ...]:
    """Every call on ``line``, in order: with parentheses, bare at a statement's start,
    and ``plug :name`` (a function plug, arity 2)."""
    out: list[Call] = []
    for match in CALL.finditer(line):
        name = match["name"]
        if name in NOT_CALLS and not match["mod"]:
            continue
        close = closing(line, match.end())
        args = tuple(a for a in split_args(line[match.end():close]) if a)
        before = line[:match.start()]
        out.append(Call(_module(match["mod"]), name, args, match.start(),
                        min(close + 1, len(line)), piped=before.rstrip().endswith("|>"),
                        definition=bool(DEFINITION.search(before)), closed=close < len(line)))
    for match in BARE_CALL.finditer(line):
        name = match["name"]
        if name in NOT_CALLS or any(c.start <= match.start("name") < c.end for c in out):
            continue
        rest = re.split(r"\s+do\s*$|\s*%>|\s+->", line[match.end():], maxsplit=1)[0]
        args = tuple(a for a in split_args(rest) if a)
        start = match.start("mod") if match["mod"] else match.start("name")
        out.append(Call(_module(match["mod"]), name, args, start, match.end() + len(rest),
                        piped=line[:start].rstrip().endswith("|>"), parens=False))
    for match in PLUG_ATOM.finditer(line):
        # `plug :put_layout, html: :admin` calls put_layout(conn, html: :admin).
        rest = line[match.end():].lstrip()
        opts = tuple(a for a in split_args(rest[1:]) if a) if rest.startswith(",") else ()
        out.append(Call(None, match["name"], ("conn", *opts) if opts else ("conn", "opts"),
                        match.start("name"), len(line)))
    return tuple(sorted(out, key=lambda c: c.start))


def _module(written: str | None) -> str | None:
    return written[:-1] if written else None


# -- argument kinds ----------------------------------------------------------------------

STRING = re.compile(r'^(?:"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|~[sS]\W)')
# ~w(a b) is a list of strings; ~w(a b)a a list of atoms.
STRING_LIST = re.compile(r'^~w(?:\([^)]*\)|\[[^\]]*\]|\{[^}]*\}|<[^>]*>|\|[^|]*\||/[^/]*/|'
                         r'"[^"]*")[sc]?$|'
                         r'^\[\s*(?:"[^"]*"\s*,\s*)*"[^"]*"\s*\]$')
LOCAL_CAPTURE = re.compile(r"^&[a-z_][\w?!]*/\d")  # &handle/4, not &Mod.handle/4
MFA = re.compile(r"^\{\s*[A-Z][\w.]*\s*,\s*:[\w?!]+\s*,\s*\[")
KEYWORD_LIST = re.compile(r"^\[\s*[a-z_][a-z0-9_]*[?!]?:\s")
ATOM = re.compile(r"^:[a-z_][\w?!]*$")


def arg_kinds(arg: str) -> frozenset[str]:
    """The kinds an argument as written is of (empty: a variable, an expression)."""
    arg = arg.strip()
    kinds = set()
    if STRING_LIST.match(arg):
        kinds.add(ArgKind.LIST_OF_STRINGS)
    elif STRING.match(arg):
        kinds.add(ArgKind.STRING)
    if KEYWORD_LIST.match(arg):
        kinds.add(ArgKind.KEYWORD_LIST)
    if arg.startswith(("fn", "&")) and (arg == "fn" or not arg[2:3].isalnum()
                                        or arg.startswith("&")):
        kinds.add(ArgKind.FUNCTION)
    if arg.startswith("%{"):
        kinds.add(ArgKind.MAP)
    if arg.startswith("{"):
        kinds.add(ArgKind.TUPLE)
    if ATOM.match(arg):
        kinds.add(ArgKind.ATOM)
    if MFA.match(arg):
        kinds.add(ArgKind.MFA)
    if LOCAL_CAPTURE.match(arg) or (ArgKind.FUNCTION in kinds and arg.startswith("fn")):
        kinds.add(ArgKind.LOCAL_FUNCTION)
    return frozenset(kinds)


LITERAL = re.compile(r'^(?::[\w?!]+|"[^"]*"|\'[^\']*\'|-?\d[\d_.]*|true|false|nil)$')
VARIABLE = re.compile(r"^[a-z_][\w?!]*$")
MODULE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)+$")


def has_shape(call: Call, shape: Shape) -> bool:
    """Whether ``call`` is written the way ``shape`` retires."""
    if shape.example is not None:
        return _like_example(call, shape.example)
    if shape.option is not None:
        value = call.option(shape.option)
        if shape.absent:
            return value is None
        if value is None:
            return False
        if shape.value is not None:
            return like(value, shape.value)
        return shape.arg is None or shape.arg in arg_kinds(value)
    if shape.arg is None:
        return True
    positional = call.positional
    if shape.arg == ArgKind.STRING:
        # "the kind as a string": the first literal argument is the one the docs mean.
        literal = next((a for a in positional if LITERAL.match(a.strip())), None)
        return literal is not None and ArgKind.STRING in arg_kinds(literal)
    if shape.arg == ArgKind.KEYWORD_LIST:
        # The last argument of a call is its options, a keyword list by design.
        return any(ArgKind.KEYWORD_LIST in arg_kinds(a) for a in positional[:-1])
    return any(shape.arg in arg_kinds(a) for a in positional)


def like(written: str, pattern: str, top: bool = True) -> bool:
    """Whether code ``written`` has the shape of the docs' ``pattern``: ``_`` and
    variables match anything; a literal at the top matches any literal of its kind (the
    docs' `put_layout(conn, :print)` stands for any atom), one inside a tuple or list
    only itself (`{:constraint, _}`); tuples and lists element by element."""
    written, pattern = written.strip(), pattern.strip()
    if pattern.startswith("_") or pattern in ("...", "…"):
        return True
    if MODULE_NAME.match(pattern):
        # A module given as a value: itself, or an alias of it (`TagEngine`).
        return written == pattern or pattern.endswith(f".{written}")
    if VARIABLE.match(pattern):
        # A named value (`{username, password}`) is a value of the caller's, not a tag:
        # `{:basic, token}` is another shape.
        return not ATOM.match(written)
    if LITERAL.match(pattern):
        if not top:
            return written == pattern
        return LITERAL.match(written) is not None and _literal_kind(written) == \
            _literal_kind(pattern)
    if keyword := KEYWORD_ARG.match(pattern):
        other = KEYWORD_ARG.match(written)
        return other is not None and other.group(1) == keyword.group(1) and like(
            written[other.end():], pattern[keyword.end():], top)
    for opening, close in (("%{", "}"), ("{", "}"), ("[", "]")):
        if pattern.startswith(opening) and pattern.endswith(close):
            if not (written.startswith(opening) and written.endswith(close)):
                return False
            wanted = split_args(pattern[len(opening):-len(close)])
            got = split_args(written[len(opening):-len(close)])
            return len(wanted) == len(got) and all(
                like(g, w, top=False) for g, w in zip(got, wanted, strict=True))
    return " ".join(written.split()) == " ".join(pattern.split())


def _literal_kind(literal: str) -> str:
    if literal.startswith(":"):
        return ArgKind.ATOM
    if literal[0] in "\"'":
        return ArgKind.STRING
    return "number" if literal[0].isdigit() or literal[0] == "-" else literal


def _like_example(call: Call, example: tuple[str, ...]) -> bool:
    args, written_options = _grouped(call.args if not call.piped else ("_", *call.args))
    wanted, wanted_options = _grouped(example)
    if len(args) != len(wanted) or bool(written_options) != bool(wanted_options):
        return False
    if not all(like(w, p) for w, p in zip(args, wanted, strict=True)):
        return False
    # Trailing keywords are one keyword list: the keys both give must agree; the docs'
    # keys are an example of a list (`filter(query, status: :open)`), not all of them.
    given = {KEYWORD_ARG.match(a).group(1): a for a in written_options}  # type: ignore[union-attr]
    return all(like(given[key], pair) for pair in wanted_options
               if (key := KEYWORD_ARG.match(pair).group(1)) in given)  # type: ignore[union-attr]


def _grouped(args: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The positional arguments, and the trailing keyword pairs."""
    positional = [a for a in args if not KEYWORD_ARG.match(a)]
    return positional, [a for a in args if KEYWORD_ARG.match(a)]
