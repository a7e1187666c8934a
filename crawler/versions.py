"""Semantic versions as hex.pm gives them: parsed, and which part of one moved."""

from __future__ import annotations

import re

from crawler.types import BumpKind

VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?")


def parse_version(version: str) -> tuple[int, int, int, str] | None:
    """``(major, minor, patch, pre-release)`` of ``version``, or None if it is not one."""
    match = VERSION.match(version)
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), pre or ""


def bump_kind(old: str | None, new: str | None) -> BumpKind | None:
    """Which part moved from ``old`` up to ``new``; None for a first version, a
    downgrade, an equal version or one that does not parse."""
    a, b = parse_version(old or ""), parse_version(new or "")
    if not a or not b or b[:3] <= a[:3]:
        return None
    if b[0] != a[0]:
        return BumpKind.MAJOR
    return BumpKind.MINOR if b[1] != a[1] else BumpKind.PATCH


# A heading that opens with a version: "v1.8.0 (2025-08-05)", "[1.8.0-rc.0]".
HEADING_VERSION = re.compile(r"^\[?v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\]?(?![\w.])")


def heading_version(heading: str) -> str | None:
    """The version a changelog section's heading names, or None."""
    match = HEADING_VERSION.match(heading.strip())
    return match.group(1) if match else None
