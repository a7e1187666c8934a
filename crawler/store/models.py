"""The database schema: runs, pages, snapshots, changes and fetch errors.

History is append-only: a snapshot is written only when a page's content hash changes
and is never updated afterwards. ``pages`` holds the current state of each page (its
latest snapshot, its validators, whether it is still listed) so a run needs no scan
of the history to decide what changed.
"""

from __future__ import annotations

import datetime as dt
import zlib
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    LargeBinary,
    SQLColumnExpression,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from crawler.notices import GRAMMAR
from crawler.types import (
    ChangeDetails,
    ChangeKind,
    GapKind,
    Item,
    ItemMeta,
    NoticeDict,
    PageStatus,
    RootMoveDict,
    RunStatus,
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class CompressedText(TypeDecorator[str]):
    """Text stored zlib-compressed: normalised pages shrink four to eight times."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> bytes | None:
        # Level 1: nearly the ratio of level 6 on prose, at a third of the CPU.
        return None if value is None else zlib.compress(value.encode("utf-8"), 1)

    def process_result_value(self, value: bytes | None, dialect: Any) -> str | None:
        return None if value is None else zlib.decompress(value).decode("utf-8")


E = TypeVar("E", bound=StrEnum)


class EnumText(TypeDecorator[E]):
    """A ``StrEnum`` stored as its string value: the column holds what it always held,
    and what is read back is the enum member."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int):
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Any) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Run(Base):
    """One invocation of ``docwatch crawl``."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_date: Mapped[dt.date] = mapped_column(index=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    status: Mapped[RunStatus] = mapped_column(EnumText(RunStatus, 16),
                                              default=RunStatus.RUNNING)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    pages_checked: Mapped[int] = mapped_column(default=0)
    pages_unchanged: Mapped[int] = mapped_column(default=0)
    pages_changed: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    requests: Mapped[int] = mapped_column(default=0)
    not_modified: Mapped[int] = mapped_column(default=0)
    bytes_received: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(Text)


class SourceState(Base):
    """Per-source bookkeeping: when its baseline was completed, and its memory."""

    __tablename__ = "sources"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    baseline_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    # Consecutive runs in which nothing of the source could be fetched, and since when.
    failing_runs: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[dt.date | None]
    # The source's own memory between runs (e.g. an ExDoc index, the hex.pm cache).
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Indexes that suddenly listed far fewer pages: runs in a row, by the index's scope.
    index_suspects: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class TargetState(Base):
    """A source's memory of one of its targets between runs (e.g. a package root's ExDoc
    index): a row each, so a run reads only the targets it crawls, one at a time."""

    __tablename__ = "target_states"

    source: Mapped[str] = mapped_column(String(200), ForeignKey("sources.name"),
                                        primary_key=True)
    # The target's identity (hexdocs.url_key), or the URL it was kept under before.
    target: Mapped[str] = mapped_column(String(2000), primary_key=True)
    state: Mapped[dict[str, Any]]


def nothing_fetched(checked: int, errors: int) -> bool:
    """A source's run in which every page checked failed: a failing streak goes on, and
    the report says no page could be fetched."""
    return errors > 0 and checked <= errors


class RunSource(Base):
    """What one run saw of one source: the figures of the report's "Sources reviewed"."""

    __tablename__ = "run_sources"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    baseline: Mapped[bool] = mapped_column(default=False)
    pages_checked: Mapped[int] = mapped_column(default=0)
    pages_unchanged: Mapped[int] = mapped_column(default=0)
    pages_changed: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    # The source's failing streak as of this run, and whether this run ended one.
    failing_runs: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[dt.date | None]
    recovered_after: Mapped[int] = mapped_column(default=0)
    # Roots this run found permanently moved: [{"from": configured, "to": where it is now}].
    moves: Mapped[list[RootMoveDict]] = mapped_column(JSON, default=list)


class Page(Base):
    """A watched page, identified by the canonical URL a reader would open."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("source", "url"),
                      # Deleting a snapshot looks for the page still pointing at it.
                      Index("ix_pages_latest_snapshot", "latest_snapshot_id"),
                      # A package root's pages, read as a range of URLs in byte order
                      # (url_bytes, memory.url_under); SQLite's unique index already is.
                      Index("ix_pages_source_url_bytes", "source",
                            text('url COLLATE "C"')).ddl_if(dialect="postgresql"))

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(Text, default="")
    group: Mapped[str] = mapped_column(Text, default="")
    item: Mapped[Item] = mapped_column(EnumText(Item, 16), default=Item.PAGE)
    # The item's facts the report shows (a crawler.types.ItemMeta), nothing else.
    meta: Mapped[ItemMeta] = mapped_column(JSON, default=dict)
    # Consecutive runs in which the page answered 404/410 (page sources remove at 2).
    missing_runs: Mapped[int] = mapped_column(default=0)
    status: Mapped[PageStatus] = mapped_column(EnumText(PageStatus, 16),
                                               default=PageStatus.ACTIVE)
    first_seen_run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    last_seen_run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    last_fetched_at: Mapped[dt.datetime | None]
    # Validators of the last answer (they change on a rebuild even when the text does not).
    fetched_url: Mapped[str | None] = mapped_column(String(2000))
    etag: Mapped[str | None] = mapped_column(String(400))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    # Validators of other URLs fetched for the page (the HTML next to a .md twin):
    # {url: [etag, last_modified]} (http.Validators.stored).
    aux_validators: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Where a permanent redirect last sent us (reported once, when it first does).
    moved_to: Mapped[str | None] = mapped_column(String(2000))
    # Text held back as a probable breakage: its hash and on how many runs in a row.
    suspect_hash: Mapped[str | None] = mapped_column(String(64))
    suspect_runs: Mapped[int] = mapped_column(default=0)
    latest_snapshot_id: Mapped[int | None] = mapped_column(
        ForeignKey("snapshots.id", use_alter=True, name="fk_pages_latest_snapshot"))

    latest: Mapped[Snapshot | None] = relationship(foreign_keys=[latest_snapshot_id],
                                                   post_update=True)


def url_bytes(dialect: str) -> SQLColumnExpression[str]:
    """A page's URL as compared byte by byte, the order SQLite always uses: PostgreSQL's
    collation may skip punctuation (``…/ecto_r10/a`` before ``…/ecto_r1/b``), which
    would part a package's pages in a scan by URL and move prefix ranges."""
    return Page.url.collate("C") if dialect == "postgresql" else Page.url


class Snapshot(Base):
    """The normalised text of a page at a point in time (written when its hash changes)."""

    __tablename__ = "snapshots"
    __table_args__ = (Index("ix_snapshots_page_run", "page_id", "run_id"),
                      Index("ix_snapshots_grammar", "grammar"))

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(CompressedText)
    size: Mapped[int] = mapped_column(default=0)
    representation: Mapped[str] = mapped_column(String(16), default="html")
    fetched_url: Mapped[str] = mapped_column(String(2000))
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    etag: Mapped[str | None] = mapped_column(String(400))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    # The API vocabulary the text teaches ("function:assign_async/3", ...) and the
    # deprecations it announces, computed once when the snapshot is written.
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    notices: Mapped[list[NoticeDict]] = mapped_column(JSON, default=list)
    # The notice grammar (crawler.notices.GRAMMAR) the notices were read with: older ones
    # are read again (crawler.store.refresh), a page need not change to be re-judged.
    grammar: Mapped[int] = mapped_column(default=GRAMMAR, server_default="0")

    page: Mapped[Page] = relationship(foreign_keys=[page_id])


class Change(Base):
    """A change a run found: added, removed or modified (with its section diff)."""

    __tablename__ = "changes"
    # The snapshot links are looked up whenever a snapshot is deleted (docwatch prune).
    __table_args__ = (Index("ix_changes_run", "run_id"), Index("ix_changes_page", "page_id"),
                      Index("ix_changes_old_snapshot", "old_snapshot_id"),
                      Index("ix_changes_new_snapshot", "new_snapshot_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    # The run whose report shows it; differs from run_id only for changes found by a
    # run that was killed before it could report them.
    report_run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"))
    kind: Mapped[ChangeKind] = mapped_column(EnumText(ChangeKind, 16))
    summary: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[ChangeDetails] = mapped_column(JSON, default=dict)
    old_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"))
    new_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    page: Mapped[Page] = relationship()
    old_snapshot: Mapped[Snapshot | None] = relationship(foreign_keys=[old_snapshot_id])
    new_snapshot: Mapped[Snapshot | None] = relationship(foreign_keys=[new_snapshot_id])


class FetchErrorRecord(Base):
    """A URL that failed in a run; its page keeps its last snapshot."""

    __tablename__ = "fetch_errors"
    __table_args__ = (Index("ix_fetch_errors_run", "run_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    source: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=1)
    status_code: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RunLock(Base):
    """A source's crawl lock (crawler.store.lock): the row exists while a run holds it."""

    __tablename__ = "run_lock"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # lock.lock_key
    holder: Mapped[str] = mapped_column(String(300))  # "host:pid"
    run_id: Mapped[int | None]  # the run it crawls, once recorded
    acquired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SkillCheck(Base):
    """What a date's report found in one skill file: the file's digest and its stale
    lines, so a later report can say what changed since (its Decisions)."""

    __tablename__ = "skill_checks"
    __table_args__ = (UniqueConstraint("run_date", "skill"),
                      Index("ix_skill_checks_skill_date", "skill", "run_date"))

    id: Mapped[int] = mapped_column(primary_key=True)
    run_date: Mapped[dt.date] = mapped_column(index=True)
    skill: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))
    # [[line, term, text], ...]: the stale lines of that day
    stale: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GapRecord(Base):
    """A skill gap a report listed, carried by the next reports until a skill covers it:
    they say which skill then covers it (Decisions) and propose new skills for the gaps
    that persist (Future considerations)."""

    __tablename__ = "skill_gaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[GapKind] = mapped_column(EnumText(GapKind, 16))
    url: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    package: Mapped[str] = mapped_column(String(200), index=True)
    group: Mapped[str] = mapped_column(Text, default="")
    page_title: Mapped[str] = mapped_column(Text, default="")
    term_kind: Mapped[str | None] = mapped_column(String(16))
    suggested_skill: Mapped[str | None] = mapped_column(String(200))
    new_skill: Mapped[str | None] = mapped_column(Text)
    # The date of the first report that listed it, and of the one that found it covered.
    first_seen: Mapped[dt.date] = mapped_column(index=True)
    covered_on: Mapped[dt.date | None] = mapped_column(index=True)
    covered_by: Mapped[str | None] = mapped_column(String(200))


class AnalysisCacheEntry(Base):
    """The latest value of one costly analysis of the stored pages (the terms the docs
    stopped teaching, the code they changed), with the digest of exactly what it was
    worked out from (:mod:`crawler.store.analysis_cache`): derived, never history."""

    __tablename__ = "analysis_cache"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    inputs: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
