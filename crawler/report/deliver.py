"""Deliver a written report: e-mail (and later chat notifications).

Delivery never fails a run: the report is on disk already, and a problem here is
logged and returned so the caller can show it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from crawler.config import Config
from crawler.report.model import Report

log = logging.getLogger(__name__)


def deliver(report: Report, paths: list[Path], config: Config) -> list[str]:
    """Send ``report`` as configured; return the problems met (empty when all went well)."""
    return []
