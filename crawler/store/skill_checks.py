"""Each date's skill checks, recorded after its report (the next report's Decisions)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from crawler.analysis.decisions import SkillCheckFact
from crawler.store.models import SkillCheck


def record_skill_checks(engine: Engine, checks: Iterable[SkillCheckFact]) -> None:
    """Store ``checks``; a date's later run replaces what an earlier one recorded."""
    checks = list(checks)
    if not checks:
        return
    with Session(engine) as session, session.begin():
        for check in checks:
            session.execute(delete(SkillCheck).where(SkillCheck.run_date == check.date,
                                                     SkillCheck.skill == check.skill))
            session.add(SkillCheck(run_date=check.date, skill=check.skill,
                                   digest=check.digest,
                                   stale=[[k.line, k.term, k.text] for k in check.stale]))
