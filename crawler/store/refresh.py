"""Stored facts brought up to the running docwatch: the notices of current pages read
again when they were read with an older notice grammar (:data:`crawler.notices.GRAMMAR`).

A page that did not change keeps its snapshot; without this, what a newer docwatch
learned to read (a phrasing, a scope, a usage shape) would reach the report only once
the page changes.
"""

from __future__ import annotations

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from crawler.notices import GRAMMAR, notices
from crawler.store import analysis_cache
from crawler.store.models import Page, Snapshot
from crawler.types import Item
from crawler.vocab import is_changelog

# Snapshots read and rewritten per transaction.
BATCH = 200


def refresh_notices(engine: Engine) -> int:
    """Read the notices of every current page again where the stored ones are older
    than the grammar; the number of snapshots rewritten."""
    with Session(engine) as session:
        outdated = list(session.scalars(
            select(Snapshot.id).join(Page, Page.latest_snapshot_id == Snapshot.id)
            .where(Page.item == Item.PAGE, Snapshot.grammar < GRAMMAR)
            .order_by(Snapshot.id)))
    for start in range(0, len(outdated), BATCH):
        with Session(engine) as session, session.begin():
            rows = session.execute(
                select(Snapshot.id, Snapshot.title, Snapshot.content, Page.url)
                .join(Page, Page.id == Snapshot.page_id)
                .where(Snapshot.id.in_(outdated[start:start + BATCH])))
            for snapshot_id, title, content, url in rows:
                found = notices(content or "", is_changelog(url, title or ""))
                session.execute(update(Snapshot).where(Snapshot.id == snapshot_id).values(
                    notices=[n.as_dict() for n in found], grammar=GRAMMAR))
            # The rewritten notices are inputs of what a report worked out before.
            analysis_cache.forget(session)
    return len(outdated)
