"""What was decided in the skills since the previous report: which skill files were
added or edited, which stale lines that resolved, which remain (open since when), which
are new, and which gaps of earlier reports a skill now covers.

A report records each skill file's digest and stale lines (``skill_checks``); the next
one compares. A stale line is known by its term and its text, not its number: an edit
above it moves it without resolving it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from crawler.analysis.gaps import Gap
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
    checked_at: dt.datetime | None = None  # when it was recorded (UTC): git log --since


@dataclass(frozen=True)
class OpenLine:
    """A stale line still there, and the date it was first reported."""

    key: StaleKey
    since: dt.date


@dataclass(frozen=True)
class Decision:
    """What changed in one skill since the previous report."""

    skill: str
    previous: dt.date  # the date of the previous report that checked it (or any skill)
    edited: bool
    resolved: tuple[StaleKey, ...] = ()
    remaining: tuple[OpenLine, ...] = ()
    new: tuple[StaleKey, ...] = ()
    added: bool = False  # no earlier report checked its file
    covers: tuple[Gap, ...] = ()  # gaps of earlier reports it covers now
    commits: tuple[str, ...] = ()  # subjects of the commits to its file since then


def digest(text: str) -> str:
    """The digest of a skill file's text: equal texts, equal digests."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_checks(files: Iterable[SkillFile], stale: Mapping[str, Sequence[StaleLine]],
                   date: dt.date) -> tuple[SkillCheckFact, ...]:
    """Each skill file as this report checks it."""
    return tuple(SkillCheckFact(f.name, date, digest(f.text), tuple(
        StaleKey(s.term, s.text, s.line) for s in stale.get(f.name, ()))) for f in files)


def decisions(current: Iterable[SkillCheckFact],
              history: Mapping[str, Sequence[SkillCheckFact]],
              covers: Mapping[str, Sequence[Gap]] | None = None,
              previous: dt.date | None = None) -> tuple[Decision, ...]:
    """For each skill checked before (``history``: its earlier checks, newest first),
    what changed since the newest of them; a skill with nothing changed is left out.

    Once an earlier report exists (the latest of ``history``, or ``previous``: the date
    of the latest report that recorded anything for the next), a skill file it did not
    check is added. ``covers`` holds, by skill, the gaps of earlier reports each skill
    now covers (a skill without a file too: its watches or keywords changed).
    """
    covers = covers or {}
    previous = max([past[0].date for past in history.values() if past]
                   + ([previous] if previous else []), default=None)
    if previous is None:
        return ()  # the first report: nothing to compare with
    out = []
    for now in current:
        past = history.get(now.skill) or ()
        covered = tuple(covers.get(now.skill, ()))
        if not past:
            out.append(Decision(now.skill, previous, False, new=now.stale, added=True,
                                covers=covered))
            continue
        last = past[0]
        before, after = set(last.stale), set(now.stale)
        resolved = tuple(k for k in last.stale if k not in after)
        new = tuple(k for k in now.stale if k not in before)
        remaining = tuple(OpenLine(k, _first_seen(k, past)) for k in now.stale if k in before)
        edited = now.digest != last.digest
        if edited or resolved or new or covered:
            out.append(Decision(now.skill, last.date, edited, resolved, remaining, new,
                                covers=covered))
    checked = {d.skill for d in out} | {now.skill for now in current}
    out += [Decision(skill, previous, False, covers=tuple(gaps))
            for skill, gaps in covers.items() if gaps and skill not in checked]
    return tuple(out)


def changed_skills(current: Iterable[SkillCheckFact],
                   history: Mapping[str, Sequence[SkillCheckFact]]) -> list[str]:
    """The skills whose file is new or edited since the previous report."""
    return [now.skill for now in current
            if not history.get(now.skill) or history[now.skill][0].digest != now.digest]


def since_previous(skill: str, history: Mapping[str, Sequence[SkillCheckFact]]
                   ) -> dt.datetime | None:
    """When the previous report checked ``skill`` (for a new skill: the latest moment any
    skill was checked), in UTC; None when nothing was."""
    past = history.get(skill)
    if past:
        return past[0].checked_at
    moments = [p[0].checked_at for p in history.values() if p and p[0].checked_at]
    return max(moments, default=None)


def _first_seen(key: StaleKey, past: Sequence[SkillCheckFact]) -> dt.date:
    """The oldest date of the unbroken run of checks, newest first, that had ``key``."""
    since = past[0].date
    for check in past:
        if key not in check.stale:
            break
        since = check.date
    return since
