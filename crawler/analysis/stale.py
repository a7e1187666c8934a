"""Which lines of which skill files teach what the docs now retire.

A line is stale because of a finding (:mod:`crawler.analysis.findings`) when it uses the
finding's term the way the finding means it:

- a function is used when it is called (with a fitting arity where the call shows one),
  captured, or named; through its module, an alias of it, or imported (bare);
- a finding with a *shape* retires one way of calling its function: only calls written
  that way are stale (``Repo.transaction(fn -> … end)``, not ``Repo.transaction(multi)``);
- a finding with a *scope* ("the `:returning` option of `update_all/3`") needs the term
  inside a call of that function (or next to that component or module), here or in the
  call opened on the lines above in the same code block;
- a term that does not say whose it is (an option, a bare name, an unqualified function)
  must belong to the package whose docs retire it (:mod:`crawler.analysis.owners`): the
  call around it, else the code block, else the skill's watches decide.

Each stale line cites the evidence of its finding and the package whose docs it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crawler.analysis.calls import Call, arg_kinds, calls_in, has_shape, like
from crawler.analysis.drift import drifted, shorten
from crawler.analysis.facts import DocsFacts
from crawler.analysis.findings import Evidence, Finding
from crawler.analysis.owners import MODULE_REF, Namespaces, child_spec, line_owners, spells
from crawler.analysis.skill_files import SkillFile
from crawler.code import closing, split_args
from crawler.hexdocs import package_of
from crawler.notices import Shape
from crawler.types import NoticeKind, TermKind
from crawler.vocab import Term

# Kinds of term whose text does not say whose API it is.
UNOWNED_KINDS = frozenset({TermKind.OPTION, TermKind.NAME, TermKind.MODULE_ATTRIBUTE,
                           TermKind.FLAG, TermKind.TUPLE, TermKind.SIGIL, TermKind.EXTENSION,
                           TermKind.VARIABLE, TermKind.FIELD})
# A function named with its arity in prose: `mount/3`.
NAMED_ARITY = re.compile(r"/(\d+)")
# How many lines above a line a call it continues may have opened.
CALL_REACH = 6


@dataclass(frozen=True)
class StaleLine:
    """A line of a skill file that teaches a retired term."""

    line: int  # 1-based, counted in the whole file
    text: str
    term: str
    kind: NoticeKind
    evidence: Evidence
    replacement: str | None = None
    package: str | None = None  # whose docs retire it
    usage: str | None = None  # the retired way of using the term, when not all of it


@dataclass(frozen=True)
class _Line:
    number: int
    text: str
    above: tuple[str, ...]  # the lines above it in the same code block, nearest last
    lowered: str  # the text in lower case, for the cheap pre-filter


def stale_lines(lines: Iterable[tuple[int, str]], findings: Sequence[Finding],
                names: Namespaces | None = None,
                packages: frozenset[str] = frozenset()) -> tuple[StaleLine, ...]:
    """Each (line, term) pair where a skill line uses a term the docs retired.

    ``names`` tells whose API a module or function is; ``packages`` are the packages
    the skill is about (its watches), which decide for a line that says nothing.
    """
    names = names or Namespaces()
    patterns = [(f, f.term.pattern(), f.term.literal()) for f in findings]
    out = []
    for line in _with_blocks(lines):
        for finding, pattern, literal in patterns:
            if literal.rsplit(".", 1)[-1].lower() not in line.lowered:
                continue  # cannot match (case folded: `Floki` is `{:floki, …}` in deps)
            if _uses(finding, pattern, line, names, packages):
                out.append(StaleLine(line.number, line.text.strip(), finding.term.text,
                                     finding.kind, finding.evidence, finding.replacement,
                                     finding.package, usage_of(finding.shape)))
    return tuple(out)


def check_skills(files: Iterable[SkillFile], findings: Sequence[Finding],
                 names: Namespaces | None = None,
                 docs: DocsFacts | None = None) -> dict[str, tuple[StaleLine, ...]]:
    """The stale lines of every skill file (an empty tuple: the file is up to date):
    those of the ``findings``, then those copying a code line the ``docs`` changed."""
    names = (names or Namespaces()).with_pages(
        (f.evidence.url, f.package) for f in findings if f.package)
    return {file.name: with_drift(stale_lines(file.lines, findings, names,
                                              skill_packages(file, names)), file.lines, docs,
                                  names)
            for file in files}


def skill_packages(file: SkillFile, names: Namespaces) -> frozenset[str]:
    """The packages a skill is about: those its watches name, and those whose modules
    its text names by the package's own namespace (``Phoenix.LiveView.…``)."""
    found = {p for p in (package_of(g.replace("*", "x")) for g in file.watches) if p}
    for module in set(MODULE_REF.findall(file.text)):
        owners = names.of_module(module)
        if owners and len(owners) == 1 and spells(module, next(iter(owners))):
            found |= owners
    return frozenset(found)


def _with_blocks(lines: Iterable[tuple[int, str]]) -> list[_Line]:
    """The lines, each with the lines above it in its fenced code block (none outside)."""
    out: list[_Line] = []
    block: list[str] = []
    in_code = False
    for number, text in lines:
        if text.lstrip().startswith("```"):
            in_code, block = not in_code, []
            continue
        out.append(_Line(number, text, tuple(block[-CALL_REACH:]) if in_code else (),
                         text.lower()))
        if in_code:
            block.append(text)
    return out


def _uses(finding: Finding, pattern: re.Pattern[str], line: _Line, names: Namespaces,
          packages: frozenset[str]) -> bool:
    term, text = finding.term, line.text
    if term.kind == TermKind.FIELD:
        return _field_read(finding, pattern, line, names, packages)
    if term.kind == TermKind.FUNCTION:
        uses = _function_uses(term, pattern, text, finding.package, names)
    else:
        # A module of another library that the package's docs retire (LiveView's move
        # from `Floki`) is that package's business only where the line is about it.
        owned = (term.kind not in UNOWNED_KINDS and (
            term.kind != TermKind.MODULE or _owned(term.text, finding.package, names))) or (
            term.kind == TermKind.NAME and _names_package(term.text, finding.package))
        uses = [(m.start(), owned) for m in pattern.finditer(text)
                if term.kind != TermKind.OPTION or _as_option(text, m, finding)]
    if not uses:
        return False
    if finding.shape is not None and term.kind == TermKind.ATTRIBUTE and finding.shape.value:
        # `phx-update="append"` retired, not phx-update: that value, however quoted.
        value = re.escape(finding.shape.value.strip("\"'"))
        return re.search(rf"(?<![\w-]){re.escape(term.text)}\s*=\s*[\"']?{value}[\"'\s>}}]",
                         text + " ") is not None
    if finding.shape is not None and term.kind == TermKind.OPTION:
        # `opt: {:x, _}`: the option given that value, wherever it is written.
        shape = finding.shape
        if shape.config and not _in_config(line):
            return False  # set in config is retired, not given in code
        return any(_value_fits(value, shape)
                   for value in _option_values(text, shape.option or term.text[1:])) and (
            not finding.scope or any(_in_scope(line, at, finding.scope) for at, _ in uses))
    if finding.shape is not None and term.kind == TermKind.MODULE:
        # `use M` without an option it must now be given (on this line, not continued).
        shape = finding.shape
        use = re.search(rf"\b(?:use|plug)\s+{re.escape(term.text)}(?![\w.])(?P<rest>.*)$", text)
        if not use or not shape.option:
            return False
        given = re.search(rf"\b{re.escape(shape.option)}:", use["rest"]) is not None
        if shape.absent:  # and not continued on the next line, where it may be given
            return not given and not use["rest"].rstrip().endswith(",")
        return given
    if finding.shape is not None:
        return any(_same_function(call, term) and has_shape(call, finding.shape)
                   for call in calls_in(line.text))
    if finding.scope:
        if finding.package is not None and finding.package not in packages and any(
                _foreign(s, finding.package, names) for s in finding.scope):
            # One package's notice about another's API (Phoenix's guide on an option of
            # `Phoenix.LiveView`) is the business of skills about the first.
            return False
        # A module used as a module scope says (`EEx.Engine` of `TagEngine`) needs that
        # scope named; an option or name is also met by the scope's package's macros.
        loose = term.kind != TermKind.MODULE
        return any(_in_scope(line, at, finding.scope)
                   or (loose and _in_module(line, at, finding.scope, names, packages))
                   for at, _ in uses)
    module = _module_of(term)
    # Another library's module cannot say it is this package's business (`Floki`).
    subject = module if module and not _owned(module, finding.package, names) else None
    return any(owned or _tied(line, at, finding.package, names, packages, subject)
               for at, owned in uses)


CONFIG_KEY = re.compile(r"^\s*config\s+:[a-z_]\w*\s*,\s*$")
KEYWORD_BEFORE = re.compile(r"(?<![\w:])[a-z_]\w*[?!]?:\s+$")  # a value: `on_conflict: :x`


def _as_option(text: str, match: re.Match[str], finding: Finding) -> bool:
    """Whether an option's match is used as that option: ``name:`` in a call, a config
    key, a HEEx special attribute (``:let={f}``), the atom named alone in prose; an atom
    elsewhere in code is a value (``field :name, :string``), unless the finding is a
    value of an option (``on_conflict: :nothing``)."""
    if match.group().endswith(":"):
        return True
    before, after = text[:match.start()], text[match.end():]
    return (after.startswith("=") or (before.endswith("`") and after.startswith("`"))
            or CONFIG_KEY.match(before) is not None or KEYWORD_BEFORE.search(before) is not None
            or any(s.kind == TermKind.OPTION for s in finding.scope))


def _field_read(finding: Finding, pattern: re.Pattern[str], line: _Line, names: Namespaces,
                packages: frozenset[str]) -> bool:
    """A struct's field read directly: on a value named after the struct's module
    (``changeset.validations`` of ``Ecto.Changeset``), else where the line is the
    package's."""
    owner = next((s.text for s in finding.scope if s.kind == TermKind.MODULE), None)
    value = _snake(owner.rsplit(".", 1)[-1]) if owner else None
    return any(match.group(1) == value if value else
               _tied(line, match.start(), finding.package, names, packages)
               for match in pattern.finditer(line.text))


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


CONFIG_START = re.compile(r"^\s*config\s+:[a-z_]")


def _in_config(line: _Line) -> bool:
    """Whether the line is (or continues, indented) a ``config :app, …`` statement."""
    if CONFIG_START.match(line.text):
        return True
    if not line.text[:1].isspace():
        return False
    for above in reversed(line.above):
        if not above[:1].isspace() and above.strip():
            return CONFIG_START.match(above) is not None
    return False


def _names_package(name: str, package: str | None) -> bool:
    """A name that spells its package (the npm `phoenix_live_view_compat`)."""
    return package is not None and (package in name or package.replace("_", "-") in name)


def _owned(module: str, package: str | None, names: Namespaces) -> bool:
    """Whether ``module`` is ``package``'s own: spelled as its namespace, or taught by its
    docs (``Ecto.Adapters.SQL`` by ecto_sql's); or there is no package."""
    return package is None or spells(module, package) or package in names.modules.get(
        module, ())


def _function_uses(term: Term, pattern: re.Pattern[str], text: str, package: str | None,
                   names: Namespaces) -> list[tuple[int, bool]]:
    """Where ``text`` uses the function ``term``, and whether the spelling says it is
    ``package``'s (through its module) or not (a bare call, imported)."""
    qualified, _, arity_text = term.text.partition("/")
    module, _, name = qualified.rpartition(".")
    arity = int(arity_text) if arity_text else None
    owned = bool(module) and _owned(module, package, names)
    uses = []
    for match in pattern.finditer(text):
        call = next((c for c in calls_in(text) if c.start == match.start()), None)
        named = NAMED_ARITY.match(text, match.end())
        if named and arity is not None and int(named.group(1)) != arity:
            continue  # `mount/3` named, not the retired `mount/2`
        if call is None or _arity_fits(call, arity):
            uses.append((match.start(), owned))
    for call in calls_in(text):
        # Called bare (imported), or as a function plug (`plug :put_layout, …`).
        if call.module is None and call.name == name and _arity_fits(call, arity):
            uses.append((call.start, False))
    if module and arity is not None:  # named bare in prose: `input_kind/2`
        uses.extend((m.start(), False) for m in re.finditer(
            rf"(?<![\w.]){re.escape(name)}/{arity}\b", text))
    return uses


def _arity_fits(call: Call, arity: int | None) -> bool:
    """A documented arity ``n`` fits a call of ``n`` arguments, or ``n - 1`` (a
    trailing optional argument, usually options); a definition must be exact."""
    if arity is None or not call.closed:
        return True  # a call continued on the next line shows only some arguments
    if call.definition:
        return call.arity == arity
    return call.arity in (arity, arity - 1)


def _same_function(call: Call, term: Term) -> bool:
    qualified, _, arity_text = term.text.partition("/")
    module, _, name = qualified.rpartition(".")
    if call.name != name:
        return False
    if call.module and module and call.module.rsplit(".", 1)[-1] != module.rsplit(".", 1)[-1]:
        return False
    return not arity_text or _arity_fits(call, int(arity_text))


def _value_fits(value: str, shape: Shape) -> bool:
    if shape.value is not None:
        return like(value, shape.value)
    return shape.arg is None or shape.arg in arg_kinds(value)


def _option_values(text: str, option: str) -> list[str]:
    """The values ``option:`` is given on a line (each up to the end of its argument)."""
    values = []
    for match in re.finditer(rf"(?<![\w]){re.escape(option)}:\s+", text):
        rest = text[match.end():].split("`", 1)[0]  # in prose, the value ends with its span
        values.append(split_args(rest[:closing(rest)])[0] if rest else "")
    return values


def _in_scope(line: _Line, at: int, scope: tuple[Term, ...]) -> bool:
    """Whether the use at ``at`` sits in a call of (or next to) one of ``scope``."""
    if any(_scope_on(line.text, at, s) for s in scope):
        return True
    if not line.above:
        return False
    joined = "\n".join(line.above)
    offset = len(joined) + 1
    whole = f"{joined}\n{line.text}"
    return any(_scope_on(whole, at + offset, s, opened=True) for s in scope)


def _scope_on(text: str, at: int, scope: Term, opened: bool = False) -> bool:
    if scope.kind == TermKind.FUNCTION:
        probe = Term(scope.text, TermKind.FUNCTION)
        calls = [c for c in calls_in(text) if _same_function(c, _without_arity(probe))]
        if any(c.start <= at < c.end or (not c.parens and c.start <= at) for c in calls):
            return True
        qualified = scope.text.partition("/")[0]
        name = qualified.rsplit(".", 1)[-1]
        if name == "start_link" and "." in qualified and _in_child_spec(
                text, at, qualified.rsplit(".", 1)[0]):
            return True  # `{Bandit, options: …}` is Bandit.start_link(options: …)
        # A function component, or the function named in prose.
        return not opened and bool(re.search(rf"<\.{re.escape(name)}\b", text[:at])
                                   or re.search(rf"(?<![\w.]){re.escape(name)}/\d", text))
    if scope.kind == TermKind.COMPONENT:
        return f"<.{scope.text[2:-1]}" in text[:at]
    if scope.kind == TermKind.OPTION:
        # A value of an option: "the `:on_conflict` value `:nothing`".
        return re.search(rf"(?<![\w]){re.escape(scope.text[1:])}:\s+$", text[:at]) is not None
    if scope.kind == TermKind.MODULE:
        if scope.text.startswith("use "):
            return scope.text in text[:at]
        last = scope.text.rsplit(".", 1)[-1]
        before = text[:at]
        return re.search(rf"(?<![\w]){re.escape(last)}(?![\w])", before) is not None and (
            not opened or _unclosed(before[before.rfind(last):]))
    return False


def _foreign(scope: Term, package: str, names: Namespaces) -> bool:
    """Whether a module scope is another package's API, by the package its name spells
    (the docs of both may teach it)."""
    if scope.kind != TermKind.MODULE:
        return False
    owners = names.spelled(scope.text.removeprefix("use "))
    return bool(owners) and package not in owners


def _in_module(line: _Line, at: int, scope: tuple[Term, ...], names: Namespaces,
               packages: frozenset[str]) -> bool:
    """A module scope named in passing ("the `:x` option in `Phoenix.Router`") is met
    by any use of that module's package: the router's macros are called bare."""
    prose = line.text[:at].count("`") % 2 == 1  # named in a sentence, not written in code
    for term in scope:
        if term.kind == TermKind.MODULE and (prose or not term.text.startswith("use ")):
            # In code, `use M`'s option must be on `use M`; a sentence names it alone.
            owners = names.of_module(term.text.removeprefix("use ")) or frozenset()
            if any(_tied(line, at, package, names, packages) for package in owners):
                return True
    return False


def _in_child_spec(text: str, at: int, module: str) -> bool:
    spec = child_spec(text, at)
    return spec is not None and (spec == module or module.endswith(f".{spec}"))


def _without_arity(term: Term) -> Term:
    return Term(term.text.partition("/")[0], term.kind)


def _unclosed(text: str) -> bool:
    return sum(text.count(c) for c in "([{") > sum(text.count(c) for c in ")]}")


CODE_MARKS = re.compile(r"[(={}]|\|>|\w:\s")


def _in_prose(text: str, at: int) -> bool:
    """Whether offset ``at`` of a line is in a sentence: inside a code span of prose, or
    in a line with no mark of code at all."""
    return text[:at].count("`") % 2 == 1 or CODE_MARKS.search(text) is None


def _module_of(term: Term) -> str | None:
    if term.kind == TermKind.MODULE:
        return term.text
    if term.kind == TermKind.FUNCTION:
        return term.text.partition("/")[0].rpartition(".")[0] or None
    return None


def _tied(line: _Line, at: int, package: str | None, names: Namespaces,
          packages: frozenset[str], subject: str | None = None) -> bool:
    """Whether the use at ``at`` is of ``package``'s API: the line's call, else the code
    block above, else the skill's packages say so (``subject``: the module the finding
    is about, which cannot tell)."""
    if package is None:
        return True  # not a package's docs: nothing to tell apart
    owners = line_owners(line.text, at, names, subject)
    for above in reversed(line.above):
        if owners is not None:
            break
        owners = line_owners(above, len(above), names, subject)
    if owners is None:
        # The skill's watches decide, but not for another library's module written in
        # code: `doc |> Floki.find("a")` is Floki's business unless the code says more.
        return package in packages and (subject is None or _in_prose(line.text, at))
    return package in owners


# How a stale line's kind reads after the term: "Floki was replaced".
VERBS = {NoticeKind.DEPRECATED: "is deprecated",
         NoticeKind.SOFT_DEPRECATED: "is soft-deprecated",
         NoticeKind.REMOVED: "was removed", NoticeKind.RENAMED: "was renamed",
         NoticeKind.REPLACED: "was replaced", NoticeKind.CHANGED: "changed in the docs"}


def describe(stale: StaleLine) -> str:
    """What is wrong with the line, for humans: ``X was removed; use Y``,
    ``Phoenix.Controller without :formats is deprecated``."""
    verb = VERBS[stale.kind]
    advice = f"; use {stale.replacement}" if stale.replacement else ""
    usage = f" {stale.usage}" if stale.usage else ""
    return f"{stale.term}{usage} {verb}{advice}"


def usage_of(shape: Shape | None) -> str | None:
    """The retired usage a shape describes, in words: "without :formats", "with
    :target as a string", "as in put_layout(conn, :print)"."""
    if shape is None:
        return None
    if shape.example is not None:
        return f"called as ({', '.join(shape.example)})"
    if shape.option is not None:
        if shape.absent:
            return f"without :{shape.option}"
        if shape.value is not None:
            return f"with {shape.option}: {shape.value}"
        if shape.config:
            return f"with :{shape.option} set in config"
        return f"with :{shape.option}" + (f" as a {shape.arg}" if shape.arg else "")
    if shape.value is not None:
        return f"={shape.value}"  # an attribute's value: phx-update="append"
    return f"with a {shape.arg} argument" if shape.arg else None


# -- snippet drift (crawler.analysis.drift) ------------------------------------------------


def with_drift(found: tuple[StaleLine, ...], lines: Iterable[tuple[int, str]],
               docs: DocsFacts | None,
               names: Namespaces | None = None) -> tuple[StaleLine, ...]:
    """``found`` and the drift lines of ``lines`` (:func:`drift_lines`) by line; a line
    a finding names already says what is wrong with it, drift adds the others. A line
    whose code says it is another package's is not drift of this one's docs."""
    flagged = {s.line for s in found}
    names = names or Namespaces()
    drift = tuple(s for s in drift_lines(lines, docs) if s.line not in flagged
                  and _not_another_packages(s, names))
    return tuple(sorted(found + drift, key=lambda s: s.line)) if drift else found


def _not_another_packages(stale: StaleLine, names: Namespaces) -> bool:
    owners = line_owners(stale.text, 0, names)
    return stale.package is None or not owners or stale.package in owners


def drift_lines(lines: Iterable[tuple[int, str]],
                docs: DocsFacts | None) -> tuple[StaleLine, ...]:
    """The lines that still copy a code line the docs changed: kind ``changed``, the old
    line (shortened) as the term, the hunk as evidence, the new line as replacement."""
    if docs is None or not docs.snippets:
        return ()
    text = dict(lines)
    return tuple(StaleLine(number, text[number].strip(), shorten(change.old),
                           NoticeKind.CHANGED,
                           Evidence(change.url, change.section, change.hunk), change.new,
                           package_of(change.url))
                 for number, change in drifted(text.items(), docs.snippets,
                                               docs.current_code))
