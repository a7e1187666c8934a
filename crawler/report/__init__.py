"""Reports: gather the facts of a date (model), format them (render), write them out."""

from __future__ import annotations

from pathlib import Path

from crawler.config import Config
from crawler.report.atom import write_feed
from crawler.report.model import Report, build_report
from crawler.report.render import render_json, render_markdown, write_report


def publish(report: Report, config: Config) -> list[Path]:
    """Write the report's files, then refresh the folder's Atom feed; return the report paths."""
    paths = write_report(report, config.report_dir)
    write_feed(config.report_dir, config.report.title, config.report.base_url,
               config.report.feed_entries)
    return paths


__all__ = ["Report", "build_report", "publish", "render_json", "render_markdown",
           "write_report"]
