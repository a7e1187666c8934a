"""Which API terms the docs stopped teaching: the rule, on facts any store can give.

A term is gone when a package taught it (in prose: a page's vocabulary, see
:func:`crawler.vocab.vocabulary`; or by announcing its retirement, a stored notice), no
current page holds it in its vocabulary, no current page mentions it anywhere in its
text (prose or code), and the evidence is strong enough for its kind. The view is the
whole package, never one page:

- The package that taught it (:func:`package_key`: the hexdocs package of the page, in
  either URL form, else the page's source) must still have current pages. Teaching by
  a package with none (its pages all dropped from the index) tells nothing: it is
  ignored. Unless ``crawled_only`` is off (as ``docwatch prune`` asks, to keep
  evidence), the package must also have been crawled by its source's latest run: a
  package whose pages all failed, or that was dropped from the config, retires nothing.
- A changelog teaches nothing: it names what a release touched, and it gets split and
  trimmed of old releases whose entries name APIs that still exist.
- But a term an earlier snapshot deprecated, removed, renamed or replaced outright (a
  notice with no usage shape and no scope), changelogs included, and that no page
  mentions any more was removed since: the docs said it was on its way out
  (:func:`announced`).
- HTML attributes and mix tasks (:data:`LISTED_KINDS`): the docs list every binding and
  every task, so one that vanishes from every page is gone.
- Components: written ``<.name`` wherever a template uses them, so one that no page
  shows any more, in prose or in a code example, left the docs.
- For these, a page still listed must have taught it, or a module page (the task's own,
  gone from the index with it): a guide that left the index may have moved out of the
  crawl with what it taught (Phoenix's Mix tasks guide and its ``mix hello.greeting``).
- Modules, functions, options and every other kind are named in passing by guides all
  the time (an app's own ``MyAppWeb.Cart``, ``Logger.info/1``, an option of another
  library), and a rewritten guide drops them while the API stays. A module counts only
  in the namespace of the package that taught it (:func:`owns`); a function only
  through its module (its qualifier, or the module page that names it bare). Then one
  of:

  - it was named by a module page of the package (API reference, not an example);
  - the pages that named it are still listed and named it at least
    :data:`MIN_MENTIONS` times between them: they taught it, and were edited to drop it
    (a page that left the index may have moved out of the crawl, as guides merged into
    a module's docs do);
  - for a function, its module is gone too (by this rule).

A module is taught by a page that names one of its functions
(``Phoenix.LiveView.Helpers`` by ``Phoenix.LiveView.Helpers.live_component/3``), and is
still mentioned while any text names it, as itself or as the prefix of a call.

Of the pages of the latest run that taught a term, the evidence is the one that
teaches it best: a guide rather than a changelog, the one that mentions it most, then
the first by URL.

The functions here work on plain values: :mod:`crawler.analysis.queries` feeds them from
the database a batch at a time, the evaluation set (``tests/eval``) from pages in memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from urllib.parse import urlsplit

from crawler.hexdocs import URL_CACHE, package_of
from crawler.types import NoticeDict, NoticeKind, TermKind
from crawler.vocab import MODULE, Term, is_changelog, parse_vocabulary, terms_in

# Kinds the docs list exhaustively: gone from every page is gone from the API.
LISTED_KINDS = frozenset({TermKind.ATTRIBUTE, TermKind.MIX_TASK})
# Kinds gone once no page shows them: every other kind needs strong evidence (see the
# module docstring).
MARKUP_KINDS = frozenset({TermKind.COMPONENT})
# What a notice says that retires its term.
RETIRING = frozenset({NoticeKind.DEPRECATED, NoticeKind.SOFT_DEPRECATED, NoticeKind.REMOVED,
                      NoticeKind.RENAMED, NoticeKind.REPLACED,
                      NoticeKind.CHANGED})  # "`close/1` … is now `close/2`"
# Mentions by still-listed pages that make them the term's teachers, not passers-by.
MIN_MENTIONS = 2

# An ExDoc module page is named after its module: Phoenix.Component.html, Ecto.md.
PAGE_MODULE = re.compile(r"^[A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)*$")
WORD = re.compile(r"\w+")
# Up to this many distinct words, a text is searched for each (see still_mentioned).
FEW_WORDS = 200
_KINDS = frozenset(TermKind)


@lru_cache(maxsize=URL_CACHE)
def package_key(url: str, source: str) -> str:
    """The package a page belongs to: its hexdocs package (either URL form), else its
    source (a source that is not hexdocs is one body of docs)."""
    return package_of(url) or f"source:{source}"


@lru_cache(maxsize=URL_CACHE)
def page_module(url: str) -> str | None:
    """The module an ExDoc module page documents (``.../Phoenix.Component.html``), else
    None (a guide: ``overview.html``; ``README.html`` is all capitals)."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    for suffix in (".html", ".md"):
        name = name.removesuffix(suffix)
    if PAGE_MODULE.match(name) and any(c.islower() for c in name):
        return name
    return None


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def owns(package: str, module: str, documented: frozenset[str] = frozenset()) -> bool:
    """Whether ``module`` is in the namespace of ``package``: the module or one of its
    parents spells the package's name (``Phoenix.LiveView.JS`` of ``phoenix_live_view``,
    ``Phoenix.HTML.Form`` of ``phoenix_html``), or has a module page of the package
    (``documented``)."""
    name = _squash(package.removeprefix("source:"))
    parts = module.split(".")
    for end in range(1, len(parts) + 1):
        prefix = ".".join(parts[:end])
        if prefix in documented or _squash(prefix) == name:
            return True
    return False


def _qualifier(function: str) -> str | None:
    """``Ecto.Multi`` of ``Ecto.Multi.run/5``; None for a bare ``run/5``."""
    qualified = function.partition("/")[0]
    return qualified.rpartition(".")[0] or None


def expand(entries: Iterable[str], url: str) -> set[str]:
    """The stored vocabulary ``entries`` of the page at ``url``, with what they imply: on
    a module page, a bare function is that module's (``blend/3`` on
    ``Glimmer.Palette.html`` is ``Glimmer.Palette.blend/3``), and a qualified function
    names its module (``Ecto.Multi.run/5`` teaches ``Ecto.Multi``)."""
    out = set(entries)
    own = page_module(url)
    prefix = f"{TermKind.FUNCTION}:"
    for entry in list(out):
        if not entry.startswith(prefix):
            continue
        function = entry[len(prefix):]
        module = _qualifier(function)
        if module is None and own:
            out.add(f"{prefix}{own}.{function}")
            module = own
        if module and (MODULE.match(module) or module == own):
            out.add(f"{TermKind.MODULE}:{module}")
    return out


def announced(notices: Iterable[NoticeDict]) -> dict[str, NoticeDict]:
    """The entries (``kind:text``) that stored notices retire outright, each with the
    first notice that does (a changelog's newest): a usage (a shape) or a use in some
    functions only (a scope) is not the term, nor is an option whose notice names a
    function (``Deprecate passing `:dom_id` to `stream/4```: the option of one function,
    which another may still take)."""
    out: dict[str, NoticeDict] = {}
    for n in notices:
        if n["kind"] in RETIRING and not n.get("shape") and not n.get("scope") and not (
                n["term_kind"] == TermKind.OPTION and any(
                    t.kind == TermKind.FUNCTION for t in terms_in(n["sentence"]))):
            out.setdefault(f"{n['term_kind']}:{n['term']}", n)
    return out


def retired_usages(notices: Iterable[NoticeDict]) -> list[NoticeDict]:
    """The stored notices that retire a term only in some places (a scope: `fl-contains`
    in `element/3`) or one value of an attribute (`phx-update="append"`): what
    :func:`carried` can tell is still retired once the docs stop showing it."""
    return [n for n in notices if n["kind"] in RETIRING and (
        (n.get("scope") and not n.get("shape")) or _attribute_value(n) is not None)]


def _attribute_value(notice: NoticeDict) -> str | None:
    shape = notice.get("shape") or {}
    if notice["term_kind"] != TermKind.ATTRIBUTE or not shape.get("value") or any(
            shape.get(k) for k in ("arg", "option", "example", "absent")):
        return None
    return str(shape["value"])


def usage_probe(notice: NoticeDict) -> Term:
    """What a text must show to still show a retired usage: the attribute given that
    value (`phx-update="append"`), else the term."""
    value = _attribute_value(notice)
    if value is not None:
        return Term(f"{notice['term']}={value}", TermKind.ATTRIBUTE)
    return Term(notice["term"], TermKind(notice["term_kind"]))


def needs_strength(kind: str) -> bool:
    """Whether a term of ``kind`` no page mentions needs more evidence to be gone."""
    return kind not in LISTED_KINDS and kind not in MARKUP_KINDS


@dataclass(frozen=True)
class Teacher:
    """A snapshot that taught a term in prose: ``snapshot`` is whatever names it to
    the caller (a snapshot id), ``run`` orders the snapshots, ``listed`` says whether
    its page is still current."""

    snapshot: int
    run: int
    url: str
    title: str
    package: str
    listed: bool

    @cached_property
    def changelog(self) -> bool:
        return is_changelog(self.url, self.title)

    @cached_property
    def module(self) -> str | None:
        """The module of a module page, else None."""
        return page_module(self.url)


@dataclass(frozen=True)
class CurrentDocs:
    """What the rule needs of the current pages: every entry of their vocabularies
    (with :func:`expand`), the packages they belong to (True: crawled by its
    source's latest run) and the modules each package has a page for (current or not)."""

    vocabulary: frozenset[str]
    packages: Mapping[str, bool]
    documented: Mapping[str, frozenset[str]] = field(default_factory=dict)


class Taught:
    """The teachers of the terms no current vocabulary holds, fed one snapshot at a
    time: per term, the snapshots of the latest run that taught it and count (see the
    module docstring)."""

    def __init__(self, current: CurrentDocs):
        self.current = current
        self._latest: dict[str, tuple[int, list[Teacher]]] = {}
        self.announced: set[str] = set()  # entries some snapshot retired (a notice)
        # The newest notice retiring each announced entry (by run).
        self._notices: dict[str, tuple[int, NoticeDict]] = {}
        # The newest notice of each retired usage (retired_usages), with its teacher.
        self._usages: dict[str, tuple[int, Teacher, NoticeDict]] = {}

    def add(self, entries: Iterable[str], teacher: Teacher,
            retired: Iterable[str] | Mapping[str, NoticeDict] = (),
            usages: Iterable[NoticeDict] = ()) -> None:
        """The vocabulary ``entries`` of the snapshot ``teacher``, the entries its
        notices retire (:func:`announced`, with their notices when a mapping) and the
        usages they retire (:func:`retired_usages`)."""
        if teacher.package not in self.current.packages:
            return  # the package has no current page: its teaching tells nothing
        for notice in usages:
            key = json.dumps([notice["term_kind"], notice["term"], notice.get("scope"),
                              notice.get("shape")], sort_keys=True)
            if key not in self._usages or teacher.run > self._usages[key][0]:
                self._usages[key] = (teacher.run, teacher, notice)
        if isinstance(retired, Mapping):
            for entry, notice in retired.items():
                if entry not in self._notices or teacher.run > self._notices[entry][0]:
                    self._notices[entry] = (teacher.run, notice)
        retired = set(retired) - self.current.vocabulary
        self.announced |= retired
        for entry in expand(entries, teacher.url) | retired:
            if entry in self.current.vocabulary or (
                    entry not in retired and not self._counts(entry, teacher)):
                continue
            last = self._latest.get(entry)
            if last is None or teacher.run > last[0]:
                self._latest[entry] = (teacher.run, [teacher])
            elif teacher.run == last[0]:
                last[1].append(teacher)

    def _counts(self, entry: str, teacher: Teacher) -> bool:
        """Whether ``teacher`` teaching ``entry`` is evidence for its kind."""
        kind, _, text = entry.partition(":")
        if teacher.changelog or kind not in _KINDS:
            # A changelog names what a release touched and is trimmed of old releases:
            # it teaches nothing (what it retires counts, see announced()).
            return False
        if kind in LISTED_KINDS:
            return True
        if kind == TermKind.FUNCTION:
            # A bare name is anyone's (an app's own ``refresh_cart/1`` as well): on a
            # module page, expand() has qualified it.
            module = _qualifier(text)
            return module is not None and self._owns(teacher, module)
        if kind == TermKind.MODULE:
            return self._owns(teacher, text)
        return True

    def _owns(self, teacher: Teacher, module: str) -> bool:
        return owns(teacher.package, module,
                    self.current.documented.get(teacher.package, frozenset()))

    def notice_of(self, term: Term) -> NoticeDict | None:
        """The newest notice that retired ``term`` (None: it was only taught)."""
        found = self._notices.get(f"{term.kind}:{term.text}")
        return found[1] if found else None

    def usages(self) -> list[tuple[Teacher, NoticeDict]]:
        """Every retired usage of a package that still has current pages, with the
        snapshot whose notice retired it."""
        return [(teacher, notice) for _, teacher, notice in self._usages.values()]

    def candidates(self) -> dict[Term, list[Teacher]]:
        """Every term taught and held by no current vocabulary, with its teachers."""
        terms = parse_vocabulary(sorted(self._latest))
        return {term: self._latest[f"{term.kind}:{term.text}"][1] for term in terms}


def _key(term: Term) -> str:
    """The longest word of the text every match of ``term`` holds: a text whose words
    lack it cannot mention the term (every pattern of :meth:`Term.pattern` bounds its
    literal by characters outside ``\\w``)."""
    return max(WORD.findall(term.literal()) or [""], key=len)


def mentions_term(term: Term, text: str) -> int:
    """How often ``text`` mentions ``term``; a function named with another arity
    (``live_component/1`` for ``live_component/2``) is another function."""
    if term.literal() not in text:
        return 0
    arity = term.text.rpartition("/")[2] if term.kind == TermKind.FUNCTION else ""
    if not arity:
        return len(term.pattern().findall(text))
    return sum(1 for m in term.pattern().finditer(text)
               if not (other := OTHER_ARITY.match(text, m.end())) or other.group(1) == arity)


OTHER_ARITY = re.compile(r"[\w?!]*/(\d+)")


def still_mentioned(texts: Iterable[tuple[str | None, str] | tuple[str | None, str, bool]],
                    terms: Iterable[Term], retired: Collection[Term] = ()) -> set[Term]:
    """The ``terms`` that some of ``texts`` mentions, anywhere; ``texts`` are (module,
    text) pairs, or (module, text, changelog) triples: the module of a module page
    (:func:`page_module`) or None, and whether the page is a changelog. A module page
    lists its functions bare (``blend(a, b, ratio)``): there, a bare mention of one of
    them mentions the qualified function (``Glimmer.Palette.blend/3``, also
    ``Palette.blend/3``). A function named with another arity is not mentioned; a term
    ``retired`` by a notice is not kept by a changelog's mention (history: what a release
    did with it once).

    A text's words are read once; a term's pattern only runs on a text that holds its
    longest word and its literal text. The scan stops once every term has been seen.
    """
    retired = frozenset(retired)
    by_key: dict[str, list[Term]] = {}
    bare: dict[str, list[tuple[str, Term, Term]]] = {}  # last part of the module: ...
    for term in terms:
        by_key.setdefault(_key(term), []).append(term)
        module = _qualifier(term.text) if term.kind == TermKind.FUNCTION else None
        if module:
            name = term.text.rpartition(".")[2]
            bare.setdefault(module.rpartition(".")[2], []).append(
                (module, term, Term(name, TermKind.FUNCTION)))
    seen: set[Term] = set()
    for item in texts:
        page, text, changelog = (*item, False)[:3]
        if not by_key:
            break
        # While the words are few, a substring test each is cheaper than reading the
        # text's words (a word found inside a longer one is only a wasted pattern run).
        words = [w for w in by_key if w in text] if len(by_key) <= FEW_WORDS \
            else set(WORD.findall(text)) & by_key.keys()
        found = {t for word in words for t in by_key[word]
                 if not (changelog and t in retired) and mentions_term(t, text)}
        if page:
            found.update(t for module, t, name in bare.get(page.rpartition(".")[2], ())
                         if t not in seen and (page == module or page.endswith(f".{module}"))
                         and mentions_term(name, text))
        for term in found - seen:
            seen.add(term)
            words_of = by_key[_key(term)]
            words_of.remove(term)
            if not words_of:
                del by_key[_key(term)]
    return seen


def mentions(texts: Iterable[tuple[int, str]], wanted: Mapping[int, Iterable[Term]]
             ) -> dict[tuple[int, Term], int]:
    """How often each snapshot of ``texts`` ((snapshot, text) pairs) mentions each term
    ``wanted`` of it."""
    counts: dict[tuple[int, Term], int] = {}
    for snapshot, text in texts:
        for term in wanted.get(snapshot, ()):
            counts[snapshot, term] = mentions_term(term, text)
    return counts


def _module_of(term: Term) -> Term | None:
    """The module of a qualified function."""
    qualifier = _qualifier(term.text) if term.kind == TermKind.FUNCTION else None
    return Term(qualifier, TermKind.MODULE) if qualifier else None


def gone_terms(taught: Taught, mentioned: Callable[[list[Term], frozenset[Term]], set[Term]],
               texts: Callable[[list[int]], Iterator[tuple[int, str]]],
               crawled_only: bool = True) -> dict[Term, Teacher]:
    """The terms the docs stopped teaching, each with the snapshot that is its evidence.

    ``mentioned`` tells which of some terms a current text still mentions, given those
    a notice retired (see :func:`still_mentioned`); ``texts`` gives the texts of some
    snapshots. The strength
    of the evidence is weighed first, from the texts of the listed pages that taught a
    term that needs counting: the current texts are then searched for the few terms
    that could be gone, and the best teacher is picked among the pages of those.
    """
    candidates = taught.candidates()

    def proven(term: Term, teachers: list[Teacher]) -> bool:
        """Strong without counting: announced, named by a module page, or of a kind
        that needs nothing more and taught by a page still listed."""
        return f"{term.kind}:{term.text}" in taught.announced or any(
            t.module for t in teachers) or (not needs_strength(term.kind)
                                            and any(t.listed for t in teachers))

    needy: dict[int, list[Term]] = {}
    for term, teachers in candidates.items():
        if not proven(term, teachers):
            for teacher in teachers:
                if teacher.listed:
                    needy.setdefault(teacher.snapshot, []).append(term)
    counts = mentions(texts(sorted(needy)), needy)

    def strong(term: Term, teachers: list[Teacher]) -> bool:
        if proven(term, teachers):
            return True
        by_package: dict[str, int] = {}
        for teacher in teachers:
            if teacher.listed:
                by_package[teacher.package] = by_package.get(teacher.package, 0) \
                    + counts.get((teacher.snapshot, term), 0)
        return max(by_package.values(), default=0) >= MIN_MENTIONS

    strong_terms = {term for term, teachers in candidates.items() if strong(term, teachers)}
    modules = {term for term in strong_terms if term.kind == TermKind.MODULE}
    possible = {term: teachers for term, teachers in candidates.items()
                if term in strong_terms or _module_of(term) in modules}
    if not possible:
        return {}
    still = mentioned(list(possible), frozenset(
        t for t in possible if f"{t.kind}:{t.text}" in taught.announced))
    gone_modules = modules - still
    found = {term: teachers for term, teachers in possible.items() if term not in still
             and (term in strong_terms or _module_of(term) in gone_modules)}
    # The best teacher: a guide rather than a changelog, then the most mentions.
    found = {term: [t for t in teachers if not t.changelog] or teachers
             for term, teachers in found.items()}
    more: dict[int, list[Term]] = {}
    for term, teachers in found.items():
        for teacher in teachers if len(teachers) > 1 else ():
            if (teacher.snapshot, term) not in counts:
                more.setdefault(teacher.snapshot, []).append(term)
    counts.update(mentions(texts(sorted(more)), more))
    out: dict[Term, Teacher] = {}
    for term, teachers in found.items():
        best = min(teachers, key=lambda t: (-counts.get((t.snapshot, term), 0), t.url))
        if crawled_only and not taught.current.packages[best.package]:
            continue  # not crawled this time (failed, or no longer configured)
        out[term] = best
    return out


def carried(taught: Taught, mentioned: Callable[[list[Term], frozenset[Term]], set[Term]],
            crawled_only: bool = True) -> list[tuple[Teacher, NoticeDict]]:
    """The retired usages (:func:`retired_usages`) of earlier snapshots that no current
    text shows any more (a changelog's mention is history): the docs said they were on
    their way out and stopped showing them, so they stay retired. Each with the
    snapshot whose notice said so; a package not crawled this time carries nothing."""
    usages = [(teacher, notice) for teacher, notice in taught.usages()
              if not crawled_only or taught.current.packages[teacher.package]]
    if not usages:
        return []
    probes = {usage_probe(notice) for _, notice in usages}
    still = mentioned(sorted(probes, key=lambda t: (t.kind, t.text)), frozenset(probes))
    return [(teacher, notice) for teacher, notice in usages
            if usage_probe(notice) not in still]
