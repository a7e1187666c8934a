"""What was decided in the skills since the previous report: which skill files were
edited, which stale lines that resolved, which remain (open since when), which are new.

A report records each skill file's digest and stale lines (``skill_checks``); the next
one compares. A stale line is known by its term and its text, not its number: an edit
above it moves it without resolving it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from crawler.analysis.skill_files import SkillFile
from crawler.analysis.stale import StaleLine


@dataclass(frozen=True)
class StaleKey:
    """A stale line as a later check recognises it."""

    term: str
    text: str
    line: int = 0  # where it was (or is): shown, not compared

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StaleKey) and (self.term, self.text) == (other.term, other.text)

    def __hash__(self) -> int:
        return hash((self.term, self.text))


@dataclass(frozen=True)
class SkillCheckFact:
    """One skill file as a report checked it."""

    skill: str
    date: dt.date
    digest: str
    stale: tuple[StaleKey, ...]


@dataclass(frozen=True)
class OpenLine:
    """A stale line still there, and the date it was first reported."""

    key: StaleKey
    since: dt.date


@dataclass(frozen=True)
class Decision:
    """What changed in one skill since the previous report."""

    skill: str
    previous: dt.date  # the date of the previous report that checked it
    edited: bool
    resolved: tuple[StaleKey, ...] = ()
    remaining: tuple[OpenLine, ...] = ()
    new: tuple[StaleKey, ...] = ()


def digest(text: str) -> str:
    """The digest of a skill file's text: equal texts, equal digests."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_checks(files: Iterable[SkillFile], stale: Mapping[str, Sequence[StaleLine]],
                   date: dt.date) -> tuple[SkillCheckFact, ...]:
    """Each skill file as this report checks it."""
    return tuple(SkillCheckFact(f.name, date, digest(f.text), tuple(
        StaleKey(s.term, s.text, s.line) for s in stale.get(f.name, ()))) for f in files)


def decisions(current: Iterable[SkillCheckFact],
              history: Mapping[str, Sequence[SkillCheckFact]]) -> tuple[Decision, ...]:
    """For each skill checked before (``history``: its earlier checks, newest first),
    what changed since the newest of them; a skill with nothing changed is left out."""
    out = []
    for now in current:
        past = history.get(now.skill) or ()
        if not past:
            continue
        last = past[0]
        before, after = set(last.stale), set(now.stale)
        resolved = tuple(k for k in last.stale if k not in after)
        new = tuple(k for k in now.stale if k not in before)
        remaining = tuple(OpenLine(k, _first_seen(k, past)) for k in now.stale if k in before)
        edited = now.digest != last.digest
        if edited or resolved or new:
            out.append(Decision(now.skill, last.date, edited, resolved, remaining, new))
    return tuple(out)


def _first_seen(key: StaleKey, past: Sequence[SkillCheckFact]) -> dt.date:
    """The oldest date of the unbroken run of checks, newest first, that had ``key``."""
    since = past[0].date
    for check in past:
        if key not in check.stale:
            break
        since = check.date
    return since
