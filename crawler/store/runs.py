"""Which killed runs a run reports for: the runs it took over when it started.

A run killed at any moment (even ``kill -9``) writes no report; the next run to start
marks it ``aborted`` and reports what it found, exactly once (``start_run``). Runs hold
the run lock one at a time and each one marks every run still ``running`` as aborted,
so the runs a run took over are the aborted runs right before it: the unbroken chain of
aborted runs that precedes it by id (a run killed in turn hands its own on with them).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.store.models import Run
from crawler.types import RunStatus


def taken_over(session: Session, run_ids: Collection[int]) -> list[int]:
    """The aborted runs whose findings ``run_ids`` report (none of them a run of
    ``run_ids``), in id order."""
    if not run_ids:
        return []
    wanted = set(run_ids)
    rows = session.execute(select(Run.id, Run.status).where(Run.id <= max(wanted))
                           .order_by(Run.id)).all()
    found: list[int] = []
    chain: list[int] = []  # the aborted runs since the last run that was not aborted
    for run_id, status in rows:
        if run_id in wanted:
            found.extend(chain)
            chain = []
        elif status == RunStatus.ABORTED:
            chain.append(run_id)
        else:
            chain = []
    return found
