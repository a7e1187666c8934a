"""What a report worked out from the stored pages, read back by the next report of the
same pages (table ``analysis_cache``).

The terms the docs stopped teaching and the code lines they changed
(:mod:`crawler.analysis.queries`) are worked out from every current page's text and from
the whole history: the cost of a report grows with the pages stored. Yet they depend
only on identifiable inputs. A snapshot never changes once written (but for the two
writers below), and every snapshot written becomes its page's latest; so the pages'
rows (:func:`pages_digest`: each page's latest snapshot, status, URL, title, source and
whether its source's latest run saw it) name the whole history, and a warm night (no
page changed) has the digest of the night before.

An entry is one value per name (the latest; an older one is replaced, so the table stays
a few rows), stored with the digest of exactly what it was worked out from: the pages'
digest, the code that worked it out (:func:`code_digest`), the notice grammar and the
caller's own parameters. A value is read back only under the same digest.

Only two writers change or delete a snapshot, and both call :func:`forget` in the
transaction that does: ``docwatch prune`` (deleted snapshots were someone's earlier
contents) and :mod:`crawler.store.refresh` (notices read again). ``docwatch db copy``
does not carry the table: the copy's first report works the values out again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from crawler.store.models import AnalysisCacheEntry, Page, SourceState
from crawler.types import Item

log = logging.getLogger("docwatch.store")

# Page rows read at a time for the digest.
ROWS_BATCH = 2000


def pages_digest(session: Session) -> str:
    """A digest of every stored page (of item kind page) as the analyses see it: its
    id, URL, source, title, status, latest snapshot, and whether its source's latest
    run saw it. Any new snapshot changes it (it becomes its page's latest)."""
    digest = hashlib.sha256()
    rows = session.execute(
        select(Page.id, Page.url, Page.source, Page.title, Page.status,
               Page.latest_snapshot_id, Page.last_seen_run_id, SourceState.last_run_id)
        .outerjoin(SourceState, SourceState.name == Page.source)
        .where(Page.item == Item.PAGE).order_by(Page.id)
        .execution_options(yield_per=ROWS_BATCH))
    for page_id, url, source, title, status, latest, seen, last in rows:
        crawled = seen is not None and seen == last
        digest.update(json.dumps([page_id, url, source, title, str(status), latest,
                                  crawled]).encode())
        digest.update(b"\n")
    return digest.hexdigest()


@lru_cache(maxsize=8)
def code_digest(modules: tuple[str, ...]) -> str:
    """A digest of the source of ``modules`` (dotted names): a docwatch whose analysis
    differs in any way never reads back what another one worked out."""
    digest = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise LookupError(f"no source for module {name}")
        digest.update(name.encode() + b"\0" + Path(spec.origin).read_bytes())
    return digest.hexdigest()


def inputs_digest(*parts: Any) -> str:
    """The digest an entry is stored under: of ``parts`` (JSON values), in order."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def read(session: Session, name: str, inputs: str) -> Any | None:
    """The value stored as ``name`` when it was worked out from ``inputs``, else None."""
    return session.scalar(select(AnalysisCacheEntry.value).where(
        AnalysisCacheEntry.name == name, AnalysisCacheEntry.inputs == inputs))


def store(engine: Engine, name: str, inputs: str, value: Any) -> bool:
    """Keep ``value`` as ``name``, worked out from ``inputs``, in place of the older
    value; whether it was stored. Its own transaction, and it never fails the caller:
    another process storing the same entry at once, or a database that refuses writes,
    only costs the next report the work."""
    try:
        with Session(engine) as session, session.begin():
            session.execute(delete(AnalysisCacheEntry)
                            .where(AnalysisCacheEntry.name == name))
            session.add(AnalysisCacheEntry(name=name, inputs=inputs, value=value))
        return True
    except DBAPIError as exc:
        log.info("analysis of %s not kept for the next report: %s", name, exc.orig)
        return False


def forget(session: Session) -> None:
    """Drop every stored value, in the caller's transaction: for a writer that changes
    or deletes snapshots."""
    session.execute(delete(AnalysisCacheEntry))

