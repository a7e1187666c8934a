"""What the docs announce: every term they deprecate, remove, rename or replace, with
evidence, the package whose docs say it, and where the notice narrows it, its scope and
shape.

Evidence comes from the latest snapshots (:class:`~crawler.analysis.facts.DocsFacts`):
notices (sentences and changelog sections, see :mod:`crawler.notices`), and terms the
docs used to teach and no longer mention anywhere (:mod:`crawler.analysis.gone`).

A notice's age matters: a changelog deprecation from an older minor version than the
changelog's newest, of a term the package's current guides still teach without a word
of it, is judged by the guides (the API was un-deprecated, or the notice was
superseded) and gives no finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crawler.analysis.facts import DocsFacts, PageNotice
from crawler.diff import section_titles
from crawler.hexdocs import package_of
from crawler.notices import Shape
from crawler.types import NoticeKind, TermKind
from crawler.vocab import Term, is_changelog


@dataclass(frozen=True)
class Evidence:
    """Where the docs say it: the page, its section and the sentence."""

    url: str
    section: str
    sentence: str


@dataclass(frozen=True)
class Finding:
    """A term the docs retired, how, and where they say so."""

    term: Term
    kind: NoticeKind
    evidence: Evidence
    replacement: str | None = None
    package: str | None = None  # whose docs say it (None: not a hexdocs page)
    scope: tuple[Term, ...] = ()  # the functions, components, modules it belongs to
    shape: Shape | None = None  # the retired usage of ``term``, when not all of it is


# What a finding is one of: a term, the scope it was retired in and its retired usage.
NoticeKey = tuple[Term, tuple[Term, ...], Shape | None]
# Notice kinds an older changelog section gives that current guides can overrule.
OVERRULED_KINDS = frozenset({NoticeKind.DEPRECATED, NoticeKind.SOFT_DEPRECATED})


def docs_findings(facts: DocsFacts) -> list[Finding]:
    """Every retirement the docs announce or imply, one per term, scope and shape: the
    first notice of it (``facts.notices``, see :class:`FirstNotices`), else its
    disappearance."""
    findings: dict[NoticeKey, Finding] = {}
    for found in facts.notices:
        notice = found.notice
        findings.setdefault((notice.term, notice.scope, notice.shape), Finding(
            notice.term, notice.kind, Evidence(found.url, notice.section, notice.sentence),
            notice.replacement, package_of(found.url), notice.scope, notice.shape))
    for gone in facts.gone:
        said = gone.notice
        if said is not None and (said.scope or said.shape):
            # A retired usage the docs stopped showing: still retired, as they said.
            findings.setdefault((said.term, said.scope, said.shape), Finding(
                said.term, said.kind, Evidence(
                    gone.url, said.section,
                    f"{said.sentence} (no page shows it any more; said by "
                    f"{gone.title or gone.url})"),
                said.replacement, package_of(gone.url), said.scope, said.shape))
            continue
        # Gone after a notice: what the notice said (deprecated stays deprecated: the
        # docs dropped it, they did not say it was removed).
        findings.setdefault((gone.term, (), None), Finding(
            gone.term, said.kind if said is not None else NoticeKind.REMOVED, Evidence(
                gone.url, _section_of(gone.text, gone.term),
                f"{gone.term.text} is no longer mentioned anywhere in the docs "
                f"(last taught by {gone.title or gone.url})"
                + (f"; {said.sentence}" if said is not None else "")),
            said.replacement if said is not None else None, package_of(gone.url)))
    return list(findings.values())


def _version_key(version: str | None) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")) if version else ()


def _newest_versions(notices: Iterable[PageNotice]) -> dict[str, tuple[int, ...]]:
    newest: dict[str, tuple[int, ...]] = {}
    for found in notices:
        key = _version_key(found.notice.version)
        if key > newest.get(found.url, ()):
            newest[found.url] = key
    return newest


def _overruled(found: PageNotice, newest: tuple[int, ...] | None,
               guides: frozenset[str]) -> bool:
    """An old changelog deprecation of a term its package's ``guides`` teach (and say
    nothing of: the caller checks)."""
    notice = found.notice
    if notice.kind not in OVERRULED_KINDS or not notice.version:
        return False
    if notice.shape is not None or notice.scope:
        return False  # a usage or a narrowed term: the guides teach the rest of it
    if not is_changelog(found.url, "") or _version_key(notice.version) >= (newest or ()):
        return False
    return f"{notice.term.kind}:{notice.term.text}" in guides


class FirstNotices:
    """The notices findings come from, gathered a package at a time: of each term,
    scope and shape, the first notice (in the order of the pages) that is not an old
    changelog deprecation its package's guides overrule.

    What a report keeps of the notices of every current page: as many as the docs name
    terms, however many pages repeat them.
    """

    def __init__(self) -> None:
        self._first: dict[NoticeKey, tuple[int, PageNotice]] = {}

    def add(self, notices: Iterable[tuple[int, PageNotice]],
            guides: frozenset[str] = frozenset()) -> None:
        """The notices of every page of one package, each with its place in the order
        of all the notices, and the vocabulary of the package's guides (not its
        changelogs); or notices of pages of no package (nothing overrules those)."""
        notices = list(notices)
        newest = _newest_versions(found for _, found in notices)
        # A term the guides themselves give notice of stays retired whatever they teach.
        in_guides = {found.notice.term for _, found in notices
                     if not is_changelog(found.url, "")}
        for place, found in notices:
            notice = found.notice
            if notice.term not in in_guides and _overruled(found, newest.get(found.url),
                                                           guides):
                continue
            key = (notice.term, notice.scope, notice.shape)
            held = self._first.get(key)
            if held is None or place < held[0]:
                self._first[key] = (place, found)

    def notices(self) -> tuple[PageNotice, ...]:
        """The first notices, in the order of the pages."""
        return tuple(found for _, found in sorted(self._first.values(),
                                                  key=lambda held: held[0]))


def first_notices(notices: Iterable[PageNotice],
                  guides: Mapping[str, frozenset[str]]) -> tuple[PageNotice, ...]:
    """The :class:`FirstNotices` of ``notices`` (every notice of the current pages, in
    the order of the pages), ``guides`` by package as :attr:`DocsFacts.guides`."""
    by_package: dict[str | None, list[tuple[int, PageNotice]]] = {}
    for place, found in enumerate(notices):
        by_package.setdefault(package_of(found.url), []).append((place, found))
    first = FirstNotices()
    for package, held in by_package.items():
        first.add(held, guides.get(package, frozenset()) if package else frozenset())
    return first.notices()


def _section_of(text: str, term: Term) -> str:
    """The section of ``text`` that first names ``term``; a module page names its
    functions bare (``blend/3`` for ``Glimmer.Palette.blend/3``)."""
    lines = text.splitlines()
    sections = section_titles(lines)
    patterns = [term.pattern()]
    if term.kind == TermKind.FUNCTION and "." in term.text.partition("/")[0]:
        patterns.append(Term(term.text.rpartition(".")[2], term.kind).pattern())
    for pattern in patterns:
        for line, section in zip(lines, sections, strict=True):
            if pattern.search(line):
                return section
    return ""
