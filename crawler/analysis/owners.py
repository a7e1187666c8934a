"""Whose API a skill line uses: the package a notice must belong to for it to judge
the line (a notice speaks for its own package only).

A module belongs to the package its name spells (``Phoenix.LiveView.JS`` to
``phoenix_live_view``, ``Phoenix.HTML.Form`` to ``phoenix_html``, ``Ecto.Repo`` to
``ecto``), else to the packages whose docs teach it, or, for a name written through an
alias (``Repo``, ``JS``, ``MyAppWeb.Endpoint``), whose docs teach a module of that last
segment. A bare function belongs to the packages whose docs teach a function of that
name. A line's owner is that of the call around the term it uses; when the line says
nothing, the lines above it in the same code block, then the skill's watches decide.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from crawler.analysis.calls import Call, calls_in
from crawler.types import TermKind
from crawler.vocab import parse_vocabulary

# A module named on a line: dotted, or CamelCase with two capitals at least (a single
# capitalised word is as often an English one: "Plug the logger in").
MODULE_REF = re.compile(r"(?<![\w.])([A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)+|"
                        r"[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*)(?![\w])")
CONFIG_LINE = re.compile(r"^\s*config\s+:([a-z_][a-z0-9_]*)\s*,\s*(?:([A-Z][\w.]*)\s*,)?")
MODULE_PAGE = re.compile(r"^[A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)+$")
# By convention the application's own modules: MyApp, MyAppWeb, HelloWeb.
OWN_MODULE = re.compile(r"^(?:My[A-Z]\w*|\w+Web)(?:\.|$)")


@dataclass(frozen=True)
class Namespaces:
    """Which package owns which modules and function names, from what the docs teach."""

    packages: frozenset[str] = frozenset()
    modules: Mapping[str, frozenset[str]] = field(default_factory=dict)  # full name
    segments: Mapping[str, frozenset[str]] = field(default_factory=dict)  # last segment
    functions: Mapping[str, frozenset[str]] = field(default_factory=dict)  # bare name

    @classmethod
    def of(cls, taught: Mapping[str, Iterable[str]]) -> Namespaces:
        """From each package's vocabulary (stored ``kind:text`` entries)."""
        # Packages that share one vocabulary object (the docs hold equal ones once) are
        # read once, as a group: a name's owners are the union of its groups.
        groups: dict[int, tuple[Iterable[str], list[str]]] = {}
        for package, entries in taught.items():
            groups.setdefault(id(entries), (entries, []))[1].append(package)
        modules: dict[str, list[frozenset[str]]] = {}
        functions: dict[str, list[frozenset[str]]] = {}
        for entries, members in groups.values():
            owners = frozenset(members)
            for term in parse_vocabulary(entries):
                if term.kind == TermKind.MODULE:
                    _add(modules, term.text, owners)
                elif term.kind == TermKind.FUNCTION:
                    qualified, _, _ = term.text.partition("/")
                    mod, _, name = qualified.rpartition(".")
                    _add(functions, name, owners)
                    if mod:
                        _add(modules, mod, owners)
        shared: dict[frozenset[str], frozenset[str]] = {}
        by_module = _union(modules, shared)
        segments: dict[str, list[frozenset[str]]] = {}
        for module, owners in by_module.items():
            _add(segments, _segment(module), owners)
        return cls(frozenset(taught), by_module, _union(segments, shared),
                   _union(functions, shared))

    def with_pages(self, pages: Iterable[tuple[str, str]]) -> Namespaces:
        """These namespaces, knowing also the module of each (url, package) module page
        (ExDoc names a module's page after it: ``…/Phoenix.Endpoint.html``)."""
        added: dict[str, list[frozenset[str]]] = {}  # only these change: the rest is shared
        for url, package in pages:
            name = url.rsplit("/", 1)[-1].removesuffix(".html")
            if MODULE_PAGE.match(name) and package not in self.modules.get(name, ()):
                added.setdefault(name, [self.modules.get(name, frozenset())]).append(
                    frozenset({package}))
        if not added:
            return self
        shared: dict[frozenset[str], frozenset[str]] = {}
        grown = _union(added, shared)
        by_segment: dict[str, list[frozenset[str]]] = {}
        for name, owners in grown.items():
            by_segment.setdefault(_segment(name), [self.segments.get(_segment(name),
                                                                     frozenset())]).append(owners)
        modules = {**self.modules, **grown}
        segments = {**self.segments, **_union(by_segment, shared)}
        return Namespaces(self.packages, modules, segments, self.functions)

    def of_module(self, module: str) -> frozenset[str] | None:
        """The packages ``module`` belongs to; empty: another library's; None: the
        application's own module, which says nothing.

        A name spelling a package in two segments or more (``Phoenix.LiveView.JS``)
        decides; then the packages whose docs teach it (``Phoenix.LiveViewTest``); then
        one spelled by its first segment (``Phoenix.Router``); then an alias's last
        segment (``Repo``)."""
        parts = module.split(".")
        if OWN_MODULE.match(module):
            # The application's module: its last segment may still say what it is
            # (`MyApp.Repo` is an Ecto repo, `MyAppWeb.Endpoint` a Phoenix endpoint).
            return self.segments.get(parts[-1]) if len(parts) > 1 else None
        for k in range(len(parts), 1, -1):
            if owners := self._spelled(parts[:k]):
                return owners
        if module in self.modules:
            return self.modules[module]
        if owners := self._spelled(parts[:1]):
            return owners
        if parts[-1] in self.segments:
            return self.segments[parts[-1]]
        return frozenset()

    def spelled(self, module: str) -> frozenset[str]:
        """The packages the longest leading segments of ``module`` spell
        (``Phoenix.LiveView.JS``: phoenix_live_view, not phoenix); empty: none."""
        parts = module.split(".")
        for k in range(len(parts), 0, -1):
            if owners := self._spelled(parts[:k]):
                return owners
        return frozenset()

    def _spelled(self, parts: list[str]) -> frozenset[str]:
        return frozenset(p for p in self.packages if _package_key(p) == _spelling(parts))

    def of_function(self, name: str) -> frozenset[str] | None:
        """The packages teaching a function called ``name`` (None: none does)."""
        return self.functions.get(name)


def _spelling(parts: list[str]) -> str:
    return "".join(parts).lower()


def _package_key(package: str) -> str:
    return package.replace("_", "")


def spells(module: str, package: str) -> bool:
    """Whether ``module``'s name spells ``package``'s namespace in its leading segments
    (``Phoenix.LiveView.JS`` spells phoenix_live_view, and phoenix)."""
    parts = module.split(".")
    return any(_spelling(parts[:k]) == _package_key(package) for k in range(1, len(parts) + 1))


def _segment(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def _add(owners: dict[str, list[frozenset[str]]], name: str, group: frozenset[str]) -> None:
    """Add ``group`` to the owners of ``name`` (once: a group's terms come together)."""
    found = owners.setdefault(name, [])
    if not found or found[-1] is not group:
        found.append(group)


def _union(owners: dict[str, list[frozenset[str]]],
           shared: dict[frozenset[str], frozenset[str]]) -> dict[str, frozenset[str]]:
    """Each name's owners as one set, an equal set held once: with thousands of
    packages most names share their owners (every module of one package: that package)."""
    out = {}
    for name, groups in owners.items():
        union = groups[0] if len(groups) == 1 else frozenset().union(*groups)
        out[name] = shared.setdefault(union, union)
    return out


def line_owners(line: str, at: int, names: Namespaces,
                subject: str | None = None) -> frozenset[str] | None:
    """The packages whose API the code at offset ``at`` of ``line`` uses (None: the
    line does not say). ``subject`` is a module the question is about, which cannot
    answer it (`Floki` in a line judged by LiveView's notice about Floki)."""
    if config := CONFIG_LINE.match(line):
        if config.group(1) in names.packages:
            return frozenset({config.group(1)})
        if config.group(2):
            # `config :my_app, MyApp.Mailer, adapter: …` configures that module; an
            # application's module no docs teach by its last segment says nothing, and
            # the rest of the line decides (`Swoosh.Adapters.Local`), else nobody's.
            owners = names.of_module(config.group(2))
            if owners is not None:
                return owners
            rest = line[config.end():]
            return _modules_on(rest, names, subject) or frozenset()
    if (spec := child_spec(line, at)) is not None:
        # `{Registry, keys: :unique, name: …}`: a child spec's options are its module's.
        owners = names.of_module(spec)
        if owners is not None and not (subject and _names(spec, subject)):
            return owners
    # A definition (`def preload(assigns)`) is the line's own function, whose name says
    # nothing of whose API it is.
    around = [c for c in calls_in(line) if c.start <= at < max(c.end, c.start + 1)
              and not c.definition]
    for call in reversed(around):  # the innermost call first
        if subject is not None and call.module is not None and _names(call.module, subject):
            continue
        if (owners := _of_call(call, names)) is not None:
            return owners
    if subject is not None:
        # The line's other calls say what the subject works on (`Floki.parse_document(
        # render(view))` parses a LiveView's output; `Req.get!(url)`'s is a web page's).
        for call in calls_in(line):
            if call.definition or (call.module is not None and _names(call.module, subject)):
                continue
            if (owners := _of_call(call, names)) is not None:
                return owners
    return _modules_on(line, names, subject)


def _of_call(call: Call, names: Namespaces) -> frozenset[str] | None:
    """The packages of a call: its module's, or those teaching a function of its name."""
    if call.module is not None:
        return names.of_module(call.module)
    return names.of_function(call.name)


def _modules_on(line: str, names: Namespaces, subject: str | None) -> frozenset[str] | None:
    """The packages of the first module named on ``line`` that has one; empty when the
    line names only other libraries' modules (`plug Plug.Logger, log: :debug`); None
    when it names none."""
    foreign = False
    prose = "`" in line
    for match in MODULE_REF.finditer(line):
        if subject is not None and _names(match.group(1), subject):
            continue
        owners = names.of_module(match.group(1))
        if owners:
            return owners
        if owners is not None and prose and "." not in match.group(1) and \
                line[:match.start()].count("`") % 2 == 0:
            continue  # "On ClickHouse, …": a product's name in a sentence, not a module
        foreign = foreign or owners is not None
    return frozenset() if foreign else None


CHILD_SPEC = re.compile(r"\{\s*([A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)*)\s*,")


def child_spec(line: str, at: int) -> str | None:
    """The module of the ``{Module, …}`` tuple that holds offset ``at``, if any."""
    for match in CHILD_SPEC.finditer(line[:at]):
        depth = 0
        for ch in line[match.end():at]:
            depth += (ch in "([{") - (ch in ")]}")
            if depth < 0:
                break
        else:
            return match.group(1)  # still open at ``at``
    return None


def _names(written: str, module: str) -> bool:
    """Whether ``written`` is ``module`` or its last segments (an alias)."""
    return module == written or module.endswith(f".{written}") or written.startswith(
        f"{module}.")
