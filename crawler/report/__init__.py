"""Reports: gather the facts of a date (model), format them (render), write them out."""

from crawler.report.model import Report, build_report
from crawler.report.render import render_json, render_markdown, write_report

__all__ = ["Report", "build_report", "render_json", "render_markdown", "write_report"]
