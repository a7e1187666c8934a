"""Reports: gather the facts of a date and analyse them (model), format them (render),
write them out with the folder's pages (folder), send them (deliver).

Formats, folder pages and deliveries are registries found by name
(:data:`~crawler.report.render.RENDERERS`, :data:`~crawler.report.folder.FOLDER_PAGES`,
:data:`~crawler.report.deliver.DELIVERERS`), like the source kinds of
:data:`crawler.sources.SOURCE_KINDS`.
"""

from __future__ import annotations

from pathlib import Path

from crawler.config import Config
from crawler.errors import DocwatchError
from crawler.report.folder import FOLDER_PAGES
from crawler.report.model import Report, build_report
from crawler.report.render import (
    RENDERERS,
    render,
    render_json,
    render_markdown,
    write_report,
    write_report_files,
)


class ReportUnwritable(DocwatchError):
    """The report folder took no file: a full disk, a read-only file system, a file
    where the folder should be."""


def publish(report: Report, config: Config) -> list[Path]:
    """Write the report's files, then rebuild the folder's pages (index, Atom feed);
    return the report paths. Raises :class:`ReportUnwritable` when the folder takes no
    file (the files already there stay as they were: each is written whole or not)."""
    try:
        paths = write_report_files(report, config.report_dir)
        for page in FOLDER_PAGES.values():  # after the report files: they list them
            page.write(config.report_dir, config.report)
    except OSError as exc:
        raise ReportUnwritable(f"the report could not be written into {config.report_dir}: "
                               f"{exc.strerror or exc}") from exc
    return paths


__all__ = ["FOLDER_PAGES", "RENDERERS", "Report", "ReportUnwritable", "build_report",
           "publish", "render", "render_json", "render_markdown", "write_report",
           "write_report_files"]
