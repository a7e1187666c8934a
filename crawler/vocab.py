"""The API vocabulary a page teaches: its terms, and how a skill line is matched to one.

Terms are read from inline code (and bare ``phx-*`` attributes) in normalised text:
modules (``Phoenix.LiveView.JS``), functions (``assign_async/3``,
``Ecto.Multi.run/3``), mix tasks (``mix phx.gen.auth``), HTML attributes
(``phx-update``), components (``<.link>``) and options (``:trailing_slash``).
What a page says became of a term is :mod:`crawler.notices`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from crawler.types import TermKind

INLINE_CODE = re.compile(r"`([^`\n]{1,120})`")
# The same spans, each with the word "component" that may follow it.
CODE_AND_NOUN = re.compile(r"`([^`\n]{1,120})`((?: function)? components?\b)?")
BARE_ATTRIBUTE = re.compile(r"(?<![\w-])(phx-[a-z][a-z0-9-]*[a-z0-9])(?![\w-])")
MODULE = re.compile(r"^[A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)+$|^[A-Z][a-z]+[A-Z][A-Za-z0-9]*$")
# An Elixir module (`Ecto.Repo`) or an Erlang one (`:telemetry`).
FUNCTION = re.compile(
    r"^(?:(?P<mod>[A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)*|:[a-z_][a-z0-9_]*)\.)?"
    r"(?P<name>[a-z_][a-z0-9_]*[?!]?)/(?P<arity>\d)$")
CALL = re.compile(
    r"^(?:(?P<mod>[A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)*)\.)(?P<name>[a-z_][a-z0-9_]*[?!]?)\(")
MIX_TASK = re.compile(r"^mix ([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)")
ATTRIBUTE = re.compile(r"^(phx-[a-z][a-z0-9-]*[a-z0-9])(?:=.*)?$")
COMPONENT = re.compile(r"^<\.([a-z_][a-z0-9_]*)")
OPTION = re.compile(r"^:([a-z_][a-z0-9_]*[?!]?)$")
# "the `simple_form` component", "the `link/1` function component": a function component
# named in prose by its function, which templates write `<.simple_form>`.
COMPONENT_NAME = re.compile(r"^([a-z_][a-z0-9_]*)(?:/1)?$")

@dataclass(frozen=True)
class Term:
    """One API term in canonical form, with what kind of thing it is."""

    text: str
    kind: TermKind

    def pattern(self) -> re.Pattern[str]:
        """How the term is recognised in a skill file's line."""
        return _term_pattern(self.text, self.kind)

    def literal(self) -> str:
        """Plain text that every match of :meth:`pattern` contains (a cheap pre-filter)."""
        if self.kind == TermKind.FUNCTION:
            parts = self.text.partition("/")[0].split(".")
            return ".".join(parts[-2:])  # "Mod.name", or the bare name
        if self.kind == TermKind.OPTION:
            return self.text[1:]  # ":name" or "name:"
        if self.kind == TermKind.COMPONENT:
            return f".{self.text[2:-1]}"  # opening `<.name` and closing `</.name`
        if self.kind == TermKind.MIX_TASK:
            return self.text[4:]
        if self.kind == TermKind.COMMAND:
            return self.text.split()[-1]
        if self.kind == TermKind.TYPE:
            return ".".join(self.text.split(".")[-2:])  # "Query.dynamic"
        if self.kind == TermKind.FIELD:
            return f".{self.text}"
        if self.kind == TermKind.TUPLE:
            return self.text[2:].partition(",")[0]  # the tag
        return self.text


def classify(code: str) -> Term | None:
    """The API term an inline-code span names, or None for anything else."""
    return _classify(code.strip())


# Code spans whose term is remembered (the commonest stay: most pages repeat them).
SPAN_CACHE = 16384


@lru_cache(maxsize=SPAN_CACHE)
def _classify(code: str) -> Term | None:
    # Pages repeat the same spans over and over: each is classified once (Terms are
    # immutable, so sharing them is safe).
    if match := MIX_TASK.match(code):
        return Term(f"mix {match.group(1)}", TermKind.MIX_TASK)
    if match := ATTRIBUTE.match(code):
        return Term(match.group(1), TermKind.ATTRIBUTE)
    if match := COMPONENT.match(code):
        return Term(f"<.{match.group(1)}>", TermKind.COMPONENT)
    if match := FUNCTION.match(code):
        mod = f"{match['mod']}." if match["mod"] else ""
        return Term(f"{mod}{match['name']}/{match['arity']}", TermKind.FUNCTION)
    if match := OPTION.match(code):
        return Term(f":{match.group(1)}", TermKind.OPTION)
    if MODULE.match(code):
        return Term(code, TermKind.MODULE)
    if match := CALL.match(code):
        return Term(f"{match['mod']}.{match['name']}", TermKind.FUNCTION)
    if code.startswith("use ") and MODULE.match(code[4:].split(",")[0].strip()):
        return Term(code[4:].split(",")[0].strip(), TermKind.MODULE)
    return None


def terms_in(text: str) -> list[Term]:
    """Every API term in ``text``, in order of first appearance, without repeats; a
    function named as a component ("the `simple_form/1` component") is also that
    component."""
    seen: dict[Term, None] = {}
    if "`" in text:
        for code, noun in CODE_AND_NOUN.findall(text):
            term = _classify(code.strip())
            if term:
                seen.setdefault(term)
            if noun and (name := COMPONENT_NAME.match(code.strip())):
                seen.setdefault(Term(f"<.{name.group(1)}>", TermKind.COMPONENT))
    for attribute in _bare_attributes(text):
        seen.setdefault(Term(attribute, TermKind.ATTRIBUTE))
    return list(seen)


def _bare_attributes(text: str) -> list[str]:
    """``BARE_ATTRIBUTE.findall(text)``, tried only where ``phx-`` occurs.

    BARE_ATTRIBUTE opens with a look-behind, which makes ``findall`` try every offset;
    ``match`` at each ``phx-`` gives the same matches (its look-behind still sees the
    character before ``pos``, and two matches can never overlap) far faster.
    """
    found = []
    start = text.find("phx-")
    while start >= 0:
        match = BARE_ATTRIBUTE.match(text, start)
        if match:
            found.append(match.group(1))
            start = match.end()
        else:
            start += 1
        start = text.find("phx-", start)
    return found


def vocabulary(text: str) -> list[str]:
    """The canonical terms a page teaches (stored with its snapshot)."""
    lines = text.splitlines()
    if "```" in text:
        # Each fence line opens or closes a code block: keep what lies outside them.
        fences = [i for i, line in enumerate(lines) if line.startswith("```")]
        bounds = [-1, *fences, len(lines)]
        lines = [line for start, end in zip(bounds[::2], bounds[1::2], strict=False)
                 for line in lines[start + 1:end]]
    return sorted({f"{t.kind}:{t.text}" for t in terms_in("\n".join(lines))})


_TERM_KINDS = frozenset(TermKind)


def parse_vocabulary(entries: Iterable[str]) -> list[Term]:
    """The terms of stored ``kind:text`` entries (see :func:`vocabulary`), in order.

    An entry of no known kind names nothing a report could act on: it is left out.
    """
    return [Term(text, TermKind(kind)) for kind, _, text in (e.partition(":") for e in entries)
            if kind in _TERM_KINDS]


def is_changelog(url: str, title: str) -> bool:
    """A changelog, by its address or title: it announces deprecations in headings and
    bullets (guides only in sentences), and its new sections are versions, not topics."""
    return "changelog" in url.rsplit("/", 1)[-1].lower() or title.lower().startswith("changelog")


@lru_cache(maxsize=8192)
def _term_pattern(text: str, kind: TermKind) -> re.Pattern[str]:
    if kind == TermKind.FUNCTION:
        qualified = text.partition("/")[0]
        parts = qualified.split(".")
        name = parts[-1]
        mod = parts[-2] if len(parts) > 1 else None
        call = re.escape(f"{mod}.{name}") if mod else re.escape(name)
        # Qualified: Repo.transaction, also spelled out as Ecto.Repo.transaction.
        lead = r"(?<![\w.])(?:[A-Z][A-Za-z0-9]*\.)*" if mod else r"(?<![\w.:])"
        # Unqualified names only count as calls or captures: literal( or literal/1.
        tail = r"(?=\(|/\d)" if not mod else r"(?![\w?!])"
        return re.compile(lead + call + tail)
    if kind == TermKind.OPTION:
        name = re.escape(text[1:])
        return re.compile(rf"(?<![\w])(?::{name}(?![\w?!])|{name}:(?=\s))")
    if kind == TermKind.ATTRIBUTE:
        if "-" not in text:
            # A plain word the docs call an attribute (`let`): only where it is one, given
            # a value in a tag (`let={f}`), or named as the attribute in prose.
            name = re.escape(text)
            return re.compile(rf"(?<![\w:@.-]){name}(?=\s*=\s*[{{\"'])|(?<=`){name}(?=`\s+attr)")
        return re.compile(rf"(?<![\w-]){re.escape(text)}(?![\w-])")
    if kind == TermKind.COMPONENT:
        return re.compile(rf"</?\.{re.escape(text[2:-1])}(?![\w])")  # opening or closing tag
    if kind == TermKind.MIX_TASK:
        return re.compile(rf"(?<![\w.]){re.escape(text[4:])}(?![\w.])")
    if kind == TermKind.MODULE_ATTRIBUTE:
        return re.compile(rf"(?<![\w@]){re.escape(text)}(?![\w?!])")
    if kind == TermKind.FLAG:
        return re.compile(rf"(?<![\w-]){re.escape(text)}(?![\w-])")
    if kind == TermKind.COMMAND:
        words = r"\s+".join(re.escape(w) for w in text.split())
        return re.compile(rf"(?<![\w-]){words}(?![\w-])")
    if kind == TermKind.TUPLE:
        tag = re.escape(text[2:].partition(",")[0])
        return re.compile(rf"\{{\s*:{tag}\s*,")
    if kind == TermKind.NAME:
        return re.compile(rf"(?<![\w.@-]){re.escape(text)}(?![\w-])")
    if kind == TermKind.SIGIL:  # `~L"…"`, `~L"""`, `~L` named in prose
        return re.compile(rf"(?<![\w~]){re.escape(text)}(?![A-Za-z0-9])")
    if kind == TermKind.EXTENSION:  # `index.html.leex`, `.leex`
        return re.compile(rf"{re.escape(text)}(?![\w-])")
    if kind == TermKind.TYPE:  # used in a typespec, `Ecto.Query.dynamic()`, not called
        module, _, name = text.rpartition(".")
        last = re.escape(module.rsplit(".", 1)[-1])
        return re.compile(rf"(?<![\w.])(?:[A-Z][A-Za-z0-9]*\.)*{last}\.{re.escape(name)}\(\s*\)")
    if kind == TermKind.FIELD:  # `changeset.validations`: the receiver is group 1
        return re.compile(rf"(?<![\w.@])([a-z_][a-z0-9_]*)\.{re.escape(text)}(?![\w?!(])")
    if kind == TermKind.VARIABLE:
        # The variable read (`config[:x]`, `if config do`), not a call of the same name
        # (`config :my_app, …`, `config(…)`), a keyword (`config: …`) or a path
        # (`config/runtime.exs`).
        return re.compile(rf"(?<![\w.@:/-]){re.escape(text)}(?![\w?!:(/-])"
                          rf"(?!\.exs)(?!\s+[:\"'A-Z(\[])")
    # module: whole dotted name, not a prefix of a longer one; a library's one-word
    # module also by its hex package in a dependency (`{:floki, ...}`)
    module = rf"(?<![\w.]){re.escape(text)}(?![\w])(?!\.[A-Z])"
    if "." not in text:
        snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", text).lower()
        module += rf"|\{{\s*:{re.escape(snake)}\s*,"
        # ... and named in prose as that package: "add the `floki` package"
        module += rf"|`{re.escape(snake)}`(?=\s+(?:hex\s+)?(?:package|dependency|dep|library)s?\b)"
    return re.compile(module)
