"""The pages of the whole report folder, rebuilt from the reports in it after each one:
``index.html`` and the Atom feed ``feed.xml``, found by name in :data:`FOLDER_PAGES`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crawler.config import ReportConfig
from crawler.report.atom import write_feed
from crawler.report.render import write_index


@dataclass(frozen=True)
class FolderPage:
    """A page listing the folder's reports, written from what is on disk."""

    name: str
    write: Callable[[Path, ReportConfig], Path]  # (folder, report settings) -> its path


def _index(directory: Path, settings: ReportConfig) -> Path:
    return write_index(directory)


def _feed(directory: Path, settings: ReportConfig) -> Path:
    return write_feed(directory, settings.title, settings.base_url, settings.feed_entries)


# In the order they are rebuilt, each after the report files it lists.
FOLDER_PAGES: dict[str, FolderPage] = {page.name: page for page in (
    FolderPage("index", _index),
    FolderPage("feed", _feed),
)}
