"""Which lines of which skill files teach what the docs now deprecate or removed.

Evidence comes from the latest snapshots: deprecation notices (sentences and changelog
sections, see :mod:`crawler.vocab`) and HTML attributes or mix tasks that the docs used
to teach and no longer mention anywhere. Each stale line cites its evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crawler.config import Config
from crawler.diff import section_titles
from crawler.store.models import Page, Snapshot
from crawler.vocab import Notice, Term, parse_vocabulary

# Kinds whose disappearance from every page is evidence of removal: the docs list
# every binding and every task, so one that vanishes is gone from the API.
DISAPPEARING_KINDS = frozenset({"attribute", "mix_task"})
# Rows fetched at a time when scanning snapshots (their terms, or their whole texts).
TERMS_BATCH = 1000
TEXTS_BATCH = 50


@dataclass(frozen=True)
class Evidence:
    url: str
    section: str
    sentence: str


@dataclass(frozen=True)
class StaleLine:
    """A line of a skill file that teaches a deprecated, removed or replaced term."""

    line: int  # 1-based, counted in the whole file
    text: str
    term: str
    kind: str  # deprecated | removed | replaced
    evidence: Evidence
    replacement: str | None = None


@dataclass(frozen=True)
class Finding:
    term: Term
    kind: str
    evidence: Evidence
    replacement: str | None = None


def docs_findings(engine: Engine) -> list[Finding]:
    """Every deprecation/removal the stored docs announce or imply, one per term."""
    findings: dict[tuple[str, str], Finding] = {}
    current_terms: set[str] = set()
    with Session(engine) as session:
        latest = session.execute(
            select(Page.url, Snapshot.notices, Snapshot.terms)
            .join(Snapshot, Snapshot.id == Page.latest_snapshot_id)
            .where(Page.status == "active", Page.item == "page")
            .execution_options(yield_per=TERMS_BATCH))
        for url, page_notices, terms in latest:
            current_terms.update(terms or [])
            for raw in page_notices or []:
                notice = Notice.from_dict(raw)
                key = (notice.term.kind, notice.term.text)
                if key not in findings:
                    findings[key] = Finding(notice.term, notice.kind,
                                            Evidence(url, notice.section, notice.sentence),
                                            notice.replacement)
        for finding in _disappeared(session, current_terms):
            findings.setdefault((finding.term.kind, finding.term.text), finding)
    return list(findings.values())


def _disappeared(session: Session, current_terms: set[str]) -> list[Finding]:
    out = []
    for term, snapshot_id in gone_terms(session, current_terms).items():
        last = session.get_one(Snapshot, snapshot_id)
        page = session.get_one(Page, last.page_id)
        out.append(Finding(term, "removed", Evidence(
            page.url, _section_of(last.content, term),
            f"{term.text} is no longer mentioned anywhere in the docs "
            f"(last taught by {page.title or page.url})")))
    return out


def gone_terms(session: Session, current_terms: set[str] | None = None) -> dict[Term, int]:
    """Attributes and mix tasks the docs taught once and mention nowhere now, each with
    the last snapshot that taught it: the evidence ``docwatch prune`` must keep."""
    if current_terms is None:
        current_terms = set()
        for terms in session.scalars(
                select(Snapshot.terms).join(Page, Page.latest_snapshot_id == Snapshot.id)
                .where(Page.status == "active", Page.item == "page")):
            current_terms.update(terms or [])
    taught: dict[str, int] = {}
    for snapshot_id, terms in session.execute(
            select(Snapshot.id, Snapshot.terms).execution_options(yield_per=TERMS_BATCH)):
        for term in terms or []:
            if term.split(":", 1)[0] in DISAPPEARING_KINDS and term not in current_terms:
                taught[term] = max(snapshot_id, taught.get(term, 0))
    if not taught:
        return {}
    candidates = parse_vocabulary(sorted(taught))
    still_there = _still_mentioned(session, candidates)
    return {term: taught[f"{term.kind}:{term.text}"] for term in candidates
            if term not in still_there}  # still there (in code, or outside prose): not gone


def _still_mentioned(session: Session, terms: list[Term]) -> set[Term]:
    """The ``terms`` that some current page still mentions, anywhere in its text.

    Pages are read a batch at a time, and a term's pattern only runs on a page that
    holds its literal text; the scan stops once every term has been seen. Searching
    page by page finds what a search of all pages joined by newlines finds: a match
    never spans a newline, and the look-arounds of attribute and mix-task patterns
    (DISAPPEARING_KINDS) treat a newline and the end of the text alike.
    """
    unseen = {term: (term.literal(), term.pattern()) for term in terms}
    seen: set[Term] = set()
    texts = session.scalars(
        select(Snapshot.content).join(Page, Page.latest_snapshot_id == Snapshot.id)
        .where(Page.status == "active", Page.item == "page")
        .execution_options(yield_per=TEXTS_BATCH))
    try:
        for text in texts:
            found = [term for term, (literal, pattern) in unseen.items()
                     if literal in text and pattern.search(text)]
            for term in found:
                del unseen[term]
                seen.add(term)
            if not unseen:
                break
    finally:
        texts.close()
    return seen


def _section_of(text: str, term: Term) -> str:
    lines = text.splitlines()
    pattern = term.pattern()
    for line, section in zip(lines, section_titles(lines), strict=True):
        if pattern.search(line):
            return section
    return ""


def skill_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of a SKILL.md after its YAML front matter, numbered as in the file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
        start = end + 1 if end is not None else 0
    return [(i + 1, line) for i, line in enumerate(lines) if i >= start]


def stale_lines(lines: list[tuple[int, str]], findings: list[Finding]) -> list[StaleLine]:
    """Each (line, term) pair where a skill line uses a term the docs retired."""
    patterns = [(f, f.term.pattern()) for f in findings]
    out = []
    for number, text in lines:
        for finding, pattern in patterns:
            if pattern.search(text):
                out.append(StaleLine(number, text.strip(), finding.term.text, finding.kind,
                                     finding.evidence, finding.replacement))
    return out


def check_skills(engine: Engine, config: Config) -> dict[str, list[StaleLine]]:
    """Stale lines of every skill that has a file, against the latest snapshots."""
    findings = docs_findings(engine)
    result: dict[str, list[StaleLine]] = {}
    for skill in config.skills:
        path = config.skill_path(skill)
        if path is None or not path.is_file():
            continue
        result[skill.name] = stale_lines(skill_lines(path), findings)
    return result


# How a stale line's kind reads after the term: "Floki was replaced".
VERBS = {"deprecated": "is deprecated", "removed": "was removed", "replaced": "was replaced"}


def describe(stale: StaleLine) -> str:
    """What is wrong with the line, for humans: ``X was removed; use Y``."""
    verb = VERBS[stale.kind]
    advice = f"; use {stale.replacement}" if stale.replacement else ""
    return f"{stale.term} {verb}{advice}"


__all__ = ["VERBS", "Evidence", "Finding", "StaleLine", "check_skills", "describe", "docs_findings",
           "skill_lines", "stale_lines"]
