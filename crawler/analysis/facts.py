"""The facts a report is about, as typed values: what the database recorded for its
runs, and what the current docs hold. The analysers read these, never the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from crawler.notices import Notice
from crawler.store.models import nothing_fetched
from crawler.types import ChangeKind, Item, ItemMeta, NoticeDict, RunStatus
from crawler.versions import heading_version
from crawler.vocab import Term, is_changelog

# Changed lines that make an edit a rewrite worth calling out.
LARGE_REWRITE = 40


@dataclass(frozen=True)
class RunInfo:
    """One run the report covers."""

    id: int
    status: RunStatus
    started_at: dt.datetime
    finished_at: dt.datetime | None
    message: str | None


@dataclass(frozen=True)
class RootMove:
    """A configured root that now answers a permanent redirect to ``to``."""

    from_url: str
    to: str


@dataclass(frozen=True)
class SourceSummary:
    """What the report's runs saw of one source."""

    name: str
    kind: str  # the source kind of sources.yaml (exdoc, hexpm, feed, page)
    pages_checked: int
    pages_unchanged: int
    pages_changed: int
    errors: int
    baseline: bool
    runs: int = 1
    failing_runs: int = 0
    failing_since: dt.date | None = None
    recovered_after: int = 0
    moves: tuple[RootMove, ...] = ()

    @property
    def nothing_fetched(self) -> bool:
        """Every fetch failed: no page, so no baseline yet."""
        return nothing_fetched(self.pages_checked, self.errors)


@dataclass(frozen=True)
class FetchProblem:
    """A URL the latest run of its source could not fetch."""

    source: str
    url: str
    error: str
    attempts: int
    status: int | None


@dataclass(frozen=True)
class PageChange:
    """One change as the report shows it (built from a stored Change)."""

    source: str
    package: str
    url: str
    title: str
    change: ChangeKind
    summary: str = ""
    group: str = ""
    sections: tuple[str, ...] = ()
    lines_added: int = 0
    lines_removed: int = 0
    diff: str = ""
    # The text whose keywords count: changed lines, or the whole page when added/removed.
    text: str = ""
    note: str = ""
    item: Item = Item.PAGE
    meta: ItemMeta = field(default_factory=lambda: ItemMeta())
    # A modified post, release or package: its facts before the change (None: unknown,
    # a change recorded before they were kept).
    before: ItemMeta | None = None
    # What the change taught: deprecation notices, terms and h2 sections that are new.
    new_notices: tuple[NoticeDict, ...] = ()
    new_terms: tuple[str, ...] = ()
    new_sections: tuple[str, ...] = ()

    @property
    def match_urls(self) -> list[str]:
        """URLs that ``watches`` globs are matched against (a release also by its docs)."""
        docs = self.meta.get("docs_url")
        return [self.url, docs] if docs else [self.url]

    @property
    def versions_added(self) -> tuple[str, ...]:
        """The versions a changelog's edit adds (its new version sections), newest first:
        what its diff is about, rather than every section it touched."""
        if not is_changelog(self.url, self.title):
            return ()
        return tuple(v for s in self.new_sections if "›" not in s
                     and (v := heading_version(s)) is not None)

    @property
    def lines_changed(self) -> int:
        return self.lines_added + self.lines_removed

    @property
    def is_rewrite(self) -> bool:
        """An edit large enough to re-read the page (``LARGE_REWRITE`` lines or more)."""
        return self.lines_changed >= LARGE_REWRITE

    @property
    def updated(self) -> bool:
        """A post (or release) known before that changed since: shown as "updated"."""
        return self.change == ChangeKind.MODIFIED


@dataclass(frozen=True)
class PageNotice:
    """A deprecation notice of a current page's latest snapshot."""

    url: str
    notice: Notice


@dataclass(frozen=True)
class LastTaught:
    """A term the docs taught once and mention nowhere now, with the last snapshot
    that taught it (its page's URL and title, and its text); ``notice``: what an
    earlier page said became of it (its kind, replacement, and the scope or shape of a
    retired usage the docs no longer show), None when it was only taught."""

    term: Term
    url: str
    title: str
    text: str
    notice: Notice | None = None


@dataclass(frozen=True)
class SnippetChange:
    """A code line of a docs page that an edit took away (snippet drift): the old line,
    the current line that took its place (None: nothing like it), and the hunk."""

    url: str
    section: str
    old: str
    new: str | None
    hunk: str


@dataclass(frozen=True)
class DocsFacts:
    """What the current docs hold that tells a term was retired."""

    # The notices of the current pages that findings come from, in the order of the
    # pages: the first of each term, scope and shape (crawler.analysis.findings.
    # FirstNotices, first_notices for notices in memory).
    notices: tuple[PageNotice, ...] = ()
    # Terms the docs stopped teaching (crawler.analysis.gone, read by queries.gone_terms).
    gone: tuple[LastTaught, ...] = ()
    # Package -> the vocabulary (``kind:text`` entries) its current pages teach, all of
    # them and the guides alone (not changelogs): whose API a name is, and what the
    # current guides still teach as current.
    taught: Mapping[str, frozenset[str]] = field(default_factory=dict)
    guides: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Code lines the current docs changed (crawler.analysis.drift), each page's changes
    # in the order of its code, pages by URL.
    snippets: tuple[SnippetChange, ...] = ()
    # Of the snippets' old lines, the keys (crawler.analysis.drift.code_key) that some
    # current page still shows, in code or inline: a line that moved did not drift.
    current_code: frozenset[str] = frozenset()
