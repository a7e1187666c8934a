"""Render a :class:`Report` to Markdown (Jinja2 template) and JSON, and write the files.

Crawled text is hostile until proven otherwise: every title, heading and snippet goes
through :func:`md_text`, every link through :func:`md_url`, and diffs sit in fenced
code blocks whose fence the content cannot close. File names come from the
configured title and the date only, never from crawled content.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

from crawler.report.model import Report

# Markdown/HTML metacharacters; "_" only where it could open or close emphasis, so
# names like phoenix_live_view stay readable.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def md_text(value: object) -> str:
    """Plain text for Markdown: one line, every Markdown/HTML metacharacter escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def md_url(value: object) -> str | None:
    """An http(s) URL safe inside ``<...>`` link syntax, or None for anything else."""
    url = str(value).strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe=":/?#[]@!$&'*+,;=%-._~")


def md_link(text: object, url: object) -> str:
    safe = md_url(url)
    label = md_text(text) or md_text(url)
    return f"[{label}](<{safe}>)" if safe else label


def md_code(value: object, lang: str = "") -> str:
    """A fenced code block that the content cannot break out of."""
    text = str(value).rstrip("\n")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def first_lines(value: object, count: int) -> str:
    lines = str(value).split("\n")
    if len(lines) <= count:
        return str(value)
    return "\n".join([*lines[:count], f"… {len(lines) - count} more lines in the JSON report"])


def slugify(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:80].strip("-") or "report"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("crawler.report", "templates"),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, autoescape=False)
    env.filters.update(md=md_text, md_link=md_link, md_code=md_code, first_lines=first_lines,
                       indent_block=lambda s, n=2: "\n".join((" " * n + ln) if ln else ln
                                                             for ln in str(s).split("\n")))
    return env


_env = _environment()


def render_markdown(report: Report) -> str:
    return _env.get_template("report.md.j2").render(report=report)


def report_data(report: Report) -> dict[str, Any]:
    """The JSON twin: the same facts as the Markdown report, for machines."""
    return {
        "title": report.title,
        "date": report.date.isoformat(),
        "runs": [{"id": r.id, "status": r.status,
                  "started_at": r.started_at.isoformat() + "Z",
                  "finished_at": r.finished_at.isoformat() + "Z" if r.finished_at else None}
                 for r in report.runs],
        "interrupted": report.interrupted,
        "sources": [{"name": s.name, "kind": s.kind, "pages_checked": s.pages_checked,
                     "not_modified": s.pages_unchanged, "changed": s.pages_changed,
                     "errors": s.errors, "baseline": s.baseline, "runs": s.runs}
                    for s in report.sources],
        "changes": [{"url": c.url, "source": c.source, "package": c.package, "title": c.title,
                     "item": c.item, "change": c.change, "summary": c.summary,
                     "sections": c.sections, "lines_added": c.lines_added,
                     "lines_removed": c.lines_removed, "diff": c.diff}
                    for c in report.changes],
        "releases": [{"package": r.meta.get("package"), "version": r.meta.get("version"),
                      "published_at": r.meta.get("published_at"),
                      "prerelease": r.meta.get("prerelease", False), "url": r.url,
                      "docs_url": r.meta.get("docs_url"),
                      "changelog_url": r.meta.get("changelog_url")} for r in report.releases],
        "latest_stable": [{"package": b.package, "from": b.old, "to": b.new, "bump": b.kind,
                           "skills": b.skills} for b in report.bumps],
        "posts": [{"feed": p.meta.get("feed"), "title": p.title, "url": p.url,
                   "published_at": p.meta.get("published_at"), "author": p.meta.get("author"),
                   "updated": p.change == "modified"} for p in report.posts],
        "skills": [{"name": f.name, "path": f.path,
                    "reasons": [{"url": r.url, "title": r.title, "change": r.change,
                                 "why": r.why} for r in f.reasons]} for f in report.skills],
        "gaps": [{"url": g.url, "source": g.source, "title": g.title} for g in report.gaps],
        "errors": [{"url": e.url, "source": e.source, "error": e.error,
                    "attempts": e.attempts, "status": e.status} for e in report.errors],
    }


def render_json(report: Report) -> str:
    return json.dumps(report_data(report), indent=2, ensure_ascii=False) + "\n"


def report_stem(report: Report) -> str:
    return f"{report.date.isoformat()}-{slugify(report.title)}"


def write_report(report: Report, directory: Path) -> list[Path]:
    """Write ``<date>-<slug>.md`` and its ``.json`` twin atomically; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = report_stem(report)
    outputs = [(directory / f"{stem}.md", render_markdown(report)),
               (directory / f"{stem}.json", render_json(report))]
    for path, text in outputs:
        _atomic_write(path, text)
    return [path for path, _ in outputs]


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
