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


# Notice kinds an older changelog section gives that current guides can overrule.
OVERRULED_KINDS = frozenset({NoticeKind.DEPRECATED, NoticeKind.SOFT_DEPRECATED})


def docs_findings(facts: DocsFacts) -> list[Finding]:
    """Every retirement the docs announce or imply, one per term, scope and shape: the
    first notice of it, else its disappearance."""
    findings: dict[tuple[Term, tuple[Term, ...], Shape | None], Finding] = {}
    newest = _newest_versions(facts.notices)
    in_guides = {(package_of(f.url), f.notice.term) for f in facts.notices
                 if not is_changelog(f.url, "")}
    for found in facts.notices:
        notice = found.notice
        package = package_of(found.url)
        if (package, notice.term) not in in_guides and _overruled(
                found, newest.get(found.url), package, facts):
            continue
        findings.setdefault((notice.term, notice.scope, notice.shape), Finding(
            notice.term, notice.kind, Evidence(found.url, notice.section, notice.sentence),
            notice.replacement, package, notice.scope, notice.shape))
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


def _newest_versions(notices: tuple[PageNotice, ...]) -> dict[str, tuple[int, ...]]:
    newest: dict[str, tuple[int, ...]] = {}
    for found in notices:
        key = _version_key(found.notice.version)
        if key > newest.get(found.url, ()):
            newest[found.url] = key
    return newest


def _overruled(found: PageNotice, newest: tuple[int, ...] | None, package: str | None,
               facts: DocsFacts) -> bool:
    """An old changelog deprecation of a term the package's guides teach (and say
    nothing of: the caller checks)."""
    notice = found.notice
    if notice.kind not in OVERRULED_KINDS or not notice.version or package is None:
        return False
    if notice.shape is not None or notice.scope:
        return False  # a usage or a narrowed term: the guides teach the rest of it
    if not is_changelog(found.url, "") or _version_key(notice.version) >= (newest or ()):
        return False
    entry = f"{notice.term.kind}:{notice.term.text}"
    return entry in facts.guides.get(package, frozenset())


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
