"""The API vocabulary a page teaches, and the deprecations it announces.

Terms are read from inline code (and bare ``phx-*`` attributes) in normalised text:
modules (``Phoenix.LiveView.JS``), functions (``assign_async/3``,
``Ecto.Multi.run/3``), mix tasks (``mix phx.gen.auth``), HTML attributes
(``phx-update``), components (``<.link>``) and options (``:trailing_slash``).
Notices are sentences and changelog sections that deprecate, remove or replace a term,
kept with the section they sit in so a report can cite them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from crawler.diff import section_titles
from crawler.types import NoticeDict, NoticeKind, TermKind

INLINE_CODE = re.compile(r"`([^`\n]{1,120})`")
BARE_ATTRIBUTE = re.compile(r"(?<![\w-])(phx-[a-z][a-z0-9-]*[a-z0-9])(?![\w-])")
MODULE = re.compile(r"^[A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)+$|^[A-Z][a-z]+[A-Z][A-Za-z0-9]*$")
FUNCTION = re.compile(
    r"^(?:(?P<mod>[A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)*)\.)?"
    r"(?P<name>[a-z_][a-z0-9_]*[?!]?)/(?P<arity>\d)$")
CALL = re.compile(
    r"^(?:(?P<mod>[A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)*)\.)(?P<name>[a-z_][a-z0-9_]*[?!]?)\(")
MIX_TASK = re.compile(r"^mix ([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)")
ATTRIBUTE = re.compile(r"^(phx-[a-z][a-z0-9-]*[a-z0-9])(?:=.*)?$")
COMPONENT = re.compile(r"^<\.([a-z_][a-z0-9_]*)")
OPTION = re.compile(r"^:([a-z_][a-z0-9_]*[?!]?)$")

DEPRECATED = re.compile(
    r"\b(?:is|are|was|were|has been|have been|now)\s+(?:now\s+)?(?P<how>soft[- ]deprecated|"
    r"deprecated|hard[- ]deprecated)\b", re.I)
REMOVED = re.compile(
    r"\b(?:is|are|was|were|has been|have been|have now been|has now been)\s+(?:now\s+)?"
    r"removed\b|\bis no longer (?:supported|available)\b|\bare no longer (?:supported|"
    r"available)\b", re.I)
IN_FAVOR = re.compile(r"\bin favou?r of\b", re.I)
NOTICE_HEADING = re.compile(
    r"(?i)\b(deprecations?|deprecated|backwards[- ]incompatible|breaking changes?|removals?|"
    r"removed)\b")
MOVING_HEADING = re.compile(r"(?i)^(?:moving|migrating|switching) from (.+?) to (.+)$")
IMPERATIVE = re.compile(
    r"^\s*(?:[-*]\s*)?(?:\[[^\]]*\]\s*)?(remove[sd]?|drop(?:ped|s)?|deprecate[sd]?)\b", re.I)
BARE_PARTICIPLE = re.compile(
    r"^\s*[-*]\s*(?:\[[^\]]*\]\s*)?`[^`]+`[^.;]{0,60}?\b(?:soft[- ])?(deprecated|removed)\b",
    re.I)
# A subject that starts with a gerund deprecates a usage ("Passing a list to `cast/3`"),
# not the API it names.
GERUND_SUBJECT = re.compile(r"^(?:[-*]\s*)?(?:\[[^\]]*\]\s*)?[A-Z]?[a-z]+ing\b")
CONTEXT_WORDS = re.compile(r"\s(?:on|in|of|for|to|from|with|by|when|inside)\s", re.I)
SENTENCE_BREAK = re.compile(r"(?<=[.;])\s+(?=[A-Z`\[])")
USE_INSTEAD = re.compile(r"\bUse `([^`]+)` instead of `([^`]+)`")
CAPITALISED_WORD = re.compile(r"^[A-Z]\w+$")
USE_WORD = re.compile(r"\b(?:use|using)\b", re.I)

# A line can only announce something if it holds one of these words (lower-cased):
# DEPRECATED, REMOVED and BARE_PARTICIPLE need "deprecated", "removed" or "no longer";
# in a changelog IMPERATIVE also needs "remove", "drop" or "deprecate", and USE_INSTEAD
# "instead of". None of their letters is one that re.IGNORECASE also matches outside
# ASCII (i, k, s), so ``word in line.lower()`` never misses a line the regexes match.
SENTENCE_WORDS = ("deprecated", "removed", "no longer")
CHANGELOG_WORDS = ("deprecate", "remove", "no longer", "drop", "instead of")


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
            return f"<.{self.text[2:-1]}"
        if self.kind == TermKind.MIX_TASK:
            return self.text[4:]
        return self.text


@dataclass(frozen=True)
class Notice:
    """A deprecation, removal or replacement announced by a page, citable."""

    term: Term
    kind: NoticeKind
    section: str
    sentence: str
    replacement: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The notice as a snapshot stores it (JSON)."""
        return {"term": self.term.text, "term_kind": self.term.kind, "kind": self.kind,
                "section": self.section, "sentence": self.sentence,
                "replacement": self.replacement}

    @classmethod
    def from_dict(cls, d: NoticeDict) -> Notice:
        """The notice a snapshot stored with :meth:`as_dict`."""
        return cls(Term(d["term"], TermKind(d["term_kind"])), NoticeKind(d["kind"]),
                   d["section"], d["sentence"], d.get("replacement"))


def classify(code: str) -> Term | None:
    """The API term an inline-code span names, or None for anything else."""
    return _classify(code.strip())


@lru_cache(maxsize=65536)
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
    """Every API term in ``text``, in order of first appearance, without repeats."""
    seen: dict[Term, None] = {}
    if "`" in text:
        for code in INLINE_CODE.findall(text):
            term = _classify(code.strip())
            if term:
                seen.setdefault(term)
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


def notices(text: str, changelog: bool = False) -> list[Notice]:
    """Deprecations, removals and replacements announced in ``text``.

    Sentences saying a term "is deprecated", "has been removed", "is no longer
    supported" count anywhere; in a changelog, bullets under a Deprecations or
    Backwards-incompatible heading count too, and so do "Moving from X to Y" headings
    and "in favor of" / "instead of" replacements.
    """
    words = CHANGELOG_WORDS if changelog else SENTENCE_WORDS
    if not changelog:
        # Outside a changelog only sentences count, so a page without any of the
        # words announces nothing (most pages): skip the line-by-line walk.
        lowered = text.lower()
        if not any(word in lowered for word in words):
            return []
    lines = text.splitlines()
    sections = section_titles(lines)
    found: list[Notice] = []
    in_code = False
    heading_kind: NoticeKind | None = None
    for line, section in zip(lines, sections, strict=True):
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code or not line.strip():
            continue
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            heading_kind = _heading_kind(heading) if changelog else None
            moving = MOVING_HEADING.match(heading.replace("`", ""))
            if changelog and moving:
                old, new = classify(moving.group(1)) or Term(moving.group(1), TermKind.MODULE), \
                    moving.group(2)
                found.append(Notice(old, NoticeKind.REPLACED, section, heading, new.strip()))
            continue
        lowered = line.lower()
        if not any(word in lowered for word in words):
            continue  # cannot announce anything (see SENTENCE_WORDS)
        found.extend(_sentence_notices(line, section, heading_kind, changelog))
    return _dedupe(found)


def _heading_kind(heading: str) -> NoticeKind | None:
    match = NOTICE_HEADING.search(heading)
    if not match:
        return None
    word = match.group(1).lower()
    return NoticeKind.DEPRECATED if word.startswith("deprecat") else NoticeKind.REMOVED


def _sentence_notices(line: str, section: str, heading_kind: NoticeKind | None,
                      changelog: bool) -> list[Notice]:
    out = []
    for sentence in SENTENCE_BREAK.split(line):
        kind: NoticeKind | None = None
        verb: re.Match[str] | None = None
        if match := REMOVED.search(sentence):
            kind, verb = NoticeKind.REMOVED, match
        elif match := DEPRECATED.search(sentence):
            kind, verb = NoticeKind.DEPRECATED, match
        if kind and verb:
            subject = sentence[: verb.start()]
            if GERUND_SUBJECT.match(subject.strip()):
                continue
            subject = CONTEXT_WORDS.split(subject, maxsplit=1)[0]
            replacement = _replacement(sentence[verb.end():])
            for term in terms_in(subject):
                if _is_api_term(term):
                    out.append(Notice(term, kind, section, sentence.strip(), replacement))
        elif heading_kind and (m := BARE_PARTICIPLE.match(sentence)):
            # "- `Sparkle.dim/1` deprecated in favor of ..." under "Deprecations".
            kind = NoticeKind(m.group(1).lower())  # the word is the kind
            for term in terms_in(sentence)[:1]:
                if _is_api_term(term):
                    out.append(Notice(term, kind, section, sentence.strip(),
                                      _replacement(sentence[m.end():])))
        elif heading_kind and (m := IMPERATIVE.match(sentence)):
            # "- Remove `phx-feedback-for`" under "Backwards incompatible changes".
            kind = NoticeKind.DEPRECATED if m.group(1).lower().startswith("deprecat") \
                else NoticeKind.REMOVED
            subject = CONTEXT_WORDS.split(sentence[m.end():], maxsplit=1)[0]
            for term in terms_in(subject):
                if _is_api_term(term):
                    out.append(Notice(term, kind, section, sentence.strip(),
                                      _replacement(sentence)))
        elif changelog and (m := USE_INSTEAD.search(sentence)):
            old = classify(m.group(2)) or (Term(m.group(2), TermKind.MODULE)
                                           if CAPITALISED_WORD.match(m.group(2)) else None)
            if old and _is_api_term(old):
                out.append(Notice(old, NoticeKind.REPLACED, section, sentence.strip(),
                                  m.group(1)))
    return out


def _replacement(rest: str) -> str | None:
    match = IN_FAVOR.search(rest) or USE_WORD.search(rest)
    if not match:
        return None
    code = INLINE_CODE.search(rest, match.end())
    return code.group(1) if code else None


def _is_api_term(term: Term) -> bool:
    # Plain lower-case words (`config`) are too common to judge a skill line by.
    return term.kind != TermKind.MODULE or "." in term.text or any(c.isupper() for c in term.text)


def _dedupe(found: list[Notice]) -> list[Notice]:
    seen: dict[tuple[str, NoticeKind], Notice] = {}
    for notice in found:
        seen.setdefault((notice.term.text, notice.kind), notice)
    return list(seen.values())


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
        return re.compile(rf"(?<![\w-]){re.escape(text)}(?![\w-])")
    if kind == TermKind.COMPONENT:
        return re.compile(rf"<\.{re.escape(text[2:-1])}(?![\w])")
    if kind == TermKind.MIX_TASK:
        return re.compile(rf"(?<![\w.]){re.escape(text[4:])}(?![\w.])")
    # module: whole dotted name, not a prefix of a longer one
    return re.compile(rf"(?<![\w.]){re.escape(text)}(?![\w])(?!\.[A-Z])")
