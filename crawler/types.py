"""The vocabulary the steps after the crawl share: kinds and statuses as enums, and the
shapes of what is still stored as JSON as ``TypedDict``\\ s.

Every module compares against these members, never against string literals: a kind
that is renamed or added is then found by the type checker, not by a user. The values
are what the database and the JSON report have always held, so a member compares and
serialises as its old string (``ChangeKind.ADDED == "added"``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import NotRequired, TypedDict


class ChangeKind(StrEnum):
    """What happened to a page, post, release or package between two runs."""

    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"
    MOVED = "moved"  # a permanent redirect: the page lives on at another URL


class Item(StrEnum):
    """What a reader sees a stored page as."""

    PAGE = "page"  # a guide or module page of the docs
    POST = "post"  # a blog post (from a feed)
    RELEASE = "release"  # one release of a hex package
    PACKAGE = "package"  # a hex package's summary (its latest versions)
    FEED = "feed"  # the feed document itself, kept for its validators only


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # crashed: recorded, then re-raised
    INTERRUPTED = "interrupted"  # stopped between pages; what it saw is reported
    ABORTED = "aborted"  # killed; found (and its changes reported) by a later run


class PageStatus(StrEnum):
    ACTIVE = "active"
    REMOVED = "removed"


class NoticeKind(StrEnum):
    """What the docs say became of a term."""

    DEPRECATED = "deprecated"
    SOFT_DEPRECATED = "soft-deprecated"  # still works, no warning: the docs prefer another
    REMOVED = "removed"
    RENAMED = "renamed"
    REPLACED = "replaced"
    CHANGED = "changed"  # the docs' own example of it changed (snippet drift)


class TermKind(StrEnum):
    """What kind of API element a term of the vocabulary is."""

    MODULE = "module"
    FUNCTION = "function"
    MIX_TASK = "mix_task"
    ATTRIBUTE = "attribute"  # a phx-* binding
    COMPONENT = "component"
    OPTION = "option"  # a keyword option, a config key, an atom value, a HEEx :special
    MODULE_ATTRIBUTE = "module_attribute"  # @schema_prefix
    FLAG = "flag"  # a command-line switch: --no-tailwind
    COMMAND = "command"  # a shell command: npm run deploy
    NAME = "name"  # a bare name the docs call an option, attribute or package: longPollFallback
    TUPLE = "tuple"  # a tagged tuple shape: {:one_of, …}
    SIGIL = "sigil"  # a sigil: ~L
    EXTENSION = "extension"  # a template file's extension: .leex
    VARIABLE = "variable"  # a variable a macro provides: the `config` variable
    TYPE = "type"  # a remote type of a module: Ecto.Query.dynamic()
    FIELD = "field"  # a struct's field read directly: changeset.validations


class BumpKind(StrEnum):
    """Which part of a semantic version moved."""

    MAJOR = "major"
    MINOR = "minor"
    PATCH = "patch"


class GapKind(StrEnum):
    """What a skill gap is: a new page, a new section of a page, a newly taught term."""

    PAGE = "page"
    SECTION = "section"
    TERM = "term"


class Representation(StrEnum):
    """The form a page's text was fetched in (``snapshots.representation``)."""

    HTML = "html"
    MARKDOWN = "md"  # an ExDoc page's ``.md`` twin
    JSON = "json"  # a hex.pm API answer
    FEED = "feed"  # a post read from its feed entry


class Retirement(TypedDict):
    """Why a hex release was retired (hex.pm's ``retirement`` object)."""

    reason: str
    message: str


class ItemMeta(TypedDict, total=False):
    """Facts the report shows next to a post, release or package (``Page.meta``)."""

    # every item
    link: str  # the URL a reader opens, when not the stored URL
    published_at: str | None
    summary: str
    # posts
    author: str | None
    feed: str
    article: str
    article_skipped: str  # why the post's page was not fetched (its host is not allowed)
    article_error: str  # why fetching the post's page failed
    article_deferred: bool  # the post's page is left for a later run (max_entries_per_run)
    # releases and packages
    package: str
    version: str
    prerelease: bool
    docs_url: str | None
    changelog_url: str | None
    retired: Retirement | None
    latest_stable_version: str | None
    latest_version: str | None
    # a page that answers a permanent redirect: where it lives now
    moved_to: str | None


class NoticeDict(TypedDict):
    """A deprecation notice as a snapshot stores it (``crawler.vocab.Notice``)."""

    term: str
    term_kind: str
    kind: str
    section: str
    sentence: str
    replacement: str | None
    # [[term_kind, text], ...]: what the term belongs to ("the :x option of f/2").
    scope: NotRequired[list[list[str]]]
    # The retired way of calling the term (crawler.notices.Shape.as_dict).
    shape: NotRequired[dict[str, object]]
    version: NotRequired[str]


RootMoveDict = TypedDict("RootMoveDict", {"from": str, "to": str})
"""A configured root found permanently moved (``run_sources.moves``)."""


ChangeDetails = TypedDict("ChangeDetails", {
    # modified: the section diff
    "sections": list[str],
    "lines_added": int,
    "lines_removed": int,
    # at most crawler.diff.MAX_DIFF_LINES lines; the changed lines up to MAX_CHANGED_TEXT
    # characters a side; long lines folded around their changes (crawler.diff)
    "diff": str,
    "added_text": str,
    "removed_text": str,
    "representation": str,  # "html → markdown" when the fetched form changed
    # a modified post, release or package: its facts before the change
    "before": ItemMeta,
    # moved
    "from": str,
    "to": str,
}, total=False)
"""What a change records besides its kind and summary (``changes.details``)."""
