"""Which lines of which skill files teach what the docs now deprecate or removed.

Each stale line cites the evidence of its finding (:mod:`crawler.analysis.findings`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crawler.analysis.drift import drifted, shorten
from crawler.analysis.facts import DocsFacts
from crawler.analysis.findings import Evidence, Finding
from crawler.analysis.skill_files import SkillFile
from crawler.types import NoticeKind


@dataclass(frozen=True)
class StaleLine:
    """A line of a skill file that teaches a deprecated, removed or replaced term."""

    line: int  # 1-based, counted in the whole file
    text: str
    term: str
    kind: NoticeKind
    evidence: Evidence
    replacement: str | None = None


def stale_lines(lines: Iterable[tuple[int, str]],
                findings: Sequence[Finding]) -> tuple[StaleLine, ...]:
    """Each (line, term) pair where a skill line uses a term the docs retired."""
    patterns = [(f, f.term.pattern()) for f in findings]
    out = []
    for number, text in lines:
        for finding, pattern in patterns:
            if pattern.search(text):
                out.append(StaleLine(number, text.strip(), finding.term.text, finding.kind,
                                     finding.evidence, finding.replacement))
    return tuple(out)


def check_skills(files: Iterable[SkillFile], findings: Sequence[Finding],
                 docs: DocsFacts | None = None) -> dict[str, tuple[StaleLine, ...]]:
    """The stale lines of every skill file (an empty tuple: the file is up to date):
    those of the ``findings``, then those that copy a code line the ``docs`` changed."""
    out = {}
    for file in files:
        found = stale_lines(file.lines, findings)
        # A line a finding names already says what is wrong with it: drift adds the rest.
        flagged = {s.line for s in found}
        drift = tuple(s for s in drift_lines(file.lines, docs) if s.line not in flagged)
        out[file.name] = tuple(sorted(found + drift, key=lambda s: s.line))
    return out


# How a stale line's kind reads after the term: "Floki was replaced".
VERBS = {NoticeKind.DEPRECATED: "is deprecated",
         NoticeKind.SOFT_DEPRECATED: "is soft-deprecated",
         NoticeKind.REMOVED: "was removed", NoticeKind.RENAMED: "was renamed",
         NoticeKind.REPLACED: "was replaced", NoticeKind.CHANGED: "changed in the docs"}


def describe(stale: StaleLine) -> str:
    """What is wrong with the line, for humans: ``X was removed; use Y``."""
    verb = VERBS[stale.kind]
    advice = f"; use {stale.replacement}" if stale.replacement else ""
    return f"{stale.term} {verb}{advice}"


# -- snippet drift (crawler.analysis.drift) ------------------------------------------------


def drift_lines(lines: Iterable[tuple[int, str]],
                docs: DocsFacts | None) -> tuple[StaleLine, ...]:
    """The lines that still copy a code line the docs changed: kind ``changed``, the old
    line (shortened) as the term, the hunk as evidence, the new line as replacement."""
    if docs is None or not docs.snippets:
        return ()
    text = dict(lines)
    return tuple(StaleLine(number, text[number].strip(), shorten(change.old),
                           NoticeKind.CHANGED,
                           Evidence(change.url, change.section, change.hunk), change.new)
                 for number, change in drifted(text.items(), docs.snippets,
                                               docs.current_code))
