"""What the docs announce: every term they deprecate, remove or replace, with evidence.

Evidence comes from the latest snapshots (:class:`~crawler.analysis.facts.DocsFacts`):
deprecation notices (sentences and changelog sections, see :mod:`crawler.vocab`), and
terms that the docs used to teach and no longer mention anywhere
(:mod:`crawler.analysis.gone`).
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.analysis.facts import DocsFacts
from crawler.diff import section_titles
from crawler.types import NoticeKind, TermKind
from crawler.vocab import Term


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


def docs_findings(facts: DocsFacts) -> list[Finding]:
    """Every deprecation/removal the docs announce or imply, one per term: the first
    notice of it, else its disappearance."""
    findings: dict[tuple[TermKind, str], Finding] = {}
    for found in facts.notices:
        notice = found.notice
        findings.setdefault((notice.term.kind, notice.term.text), Finding(
            notice.term, notice.kind, Evidence(found.url, notice.section, notice.sentence),
            notice.replacement))
    for gone in facts.gone:
        findings.setdefault((gone.term.kind, gone.term.text), Finding(
            gone.term, NoticeKind.REMOVED, Evidence(
                gone.url, _section_of(gone.text, gone.term),
                f"{gone.term.text} is no longer mentioned anywhere in the docs "
                f"(last taught by {gone.title or gone.url})")))
    return list(findings.values())


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
