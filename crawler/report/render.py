"""Render a :class:`Report` to Markdown, HTML (Jinja2 templates) and JSON; write the files.

Each format is a :class:`Renderer` of :data:`RENDERERS`, found by its name; a new format
is a function streaming the report into an open file and one line there.

Crawled text is hostile until proven otherwise. In Markdown every title, heading and
snippet goes through :func:`md_text`, every link through :func:`md_url`, and diffs sit
in fenced code blocks whose fence the content cannot close. In HTML the environment
autoescapes everything, every ``href`` goes through :func:`html_url` (http/https only)
and the page forbids scripts with a Content-Security-Policy. File names come from the
configured title and the date only, never from crawled content.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from crawler.analysis.gaps import Gap
from crawler.extract import without_controls
from crawler.report.model import Report
from crawler.types import ChangeKind

INDEX_NAME = "index.html"

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
    """The report in Markdown."""
    return render(report, "markdown")


def html_url(value: object) -> str | None:
    """The URL to put in an ``href``, or None unless it is an absolute http(s) URL.

    ``javascript:``, ``data:``, relative and scheme-less URLs from crawled pages
    render as text: a link in the report must only ever lead to a live web page.
    """
    return md_url(value)


def html_link(text: object, url: object) -> Markup:
    """An external link to ``url`` labelled ``text`` (or the URL), or plain text if unsafe."""
    label = str(text) if text not in (None, "") else str(url)
    href = html_url(url)
    if href is None:
        return Markup("{}").format(label)  # format() escapes its arguments
    return Markup('<a href="{}" rel="noopener noreferrer">{}</a>').format(href, label)


# Diff line kinds, by first character, as CSS classes for the coloured inline diff.
_DIFF_CLASSES = {"+": "add", "-": "del", "@": "hunk", "…": "more"}


def diff_lines(value: object) -> list[tuple[str, str]]:
    """``(css class, line)`` for each line of a unified diff: add, del, hunk, more or ctx."""
    out = []
    for line in str(value).split("\n"):
        kind = _DIFF_CLASSES.get(line[:1], "ctx")
        if kind == "hunk" and not line.startswith("@@"):
            kind = "ctx"
        out.append((kind, line))
    return out


def _html_environment() -> Environment:
    # A separate environment: the Markdown one must not escape for HTML, this one must.
    env = Environment(loader=PackageLoader("crawler.report", "templates"),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, autoescape=True)
    env.filters.update(safe_url=html_url, link=html_link, diff_lines=diff_lines,
                       plural=_plural)
    return env


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


_html_env = _html_environment()


def render_html(report: Report) -> str:
    """The report as a standalone HTML page (inline CSS, no scripts, strict CSP)."""
    return render(report, "html")


@dataclass(frozen=True)
class IndexEntry:
    """One report listed in ``index.html``; counts are None when its JSON twin is unreadable."""

    file: str
    title: str
    date: str
    since: str = ""  # the first date of a report over a period
    skills: int | None = None
    changes: int | None = None
    errors: int | None = None
    interrupted: bool = False

    @property
    def headline(self) -> list[str]:
        """The counts known from the JSON twin, e.g. ``["2 skills flagged", "7 changes"]``."""
        counts = [(self.skills, "skill", " flagged"), (self.changes, "change", ""),
                  (self.errors, "error", "")]
        return [_plural(n, word) + suffix for n, word, suffix in counts if n is not None]


# <date>-<slug>, or <since>--<date>-<slug> for a report over a period (see report_stem).
_STEM_DATES = re.compile(r"^(?:(\d{4}-\d{2}-\d{2})--)?(\d{4}-\d{2}-\d{2})-")


def index_entries(directory: Path) -> list[IndexEntry]:
    """Every HTML report in ``directory`` (not ``index.html``), newest date first."""
    entries = []
    for path in directory.glob("*.html"):
        if path.name == INDEX_NAME or path.name.startswith(".") or not path.is_file():
            continue
        match = _STEM_DATES.match(path.stem)
        since, date = (match.group(1) or "", match.group(2)) if match else ("", "")
        entry = IndexEntry(path.name, path.stem, date, since)
        entries.append(_with_twin_facts(entry, path.with_suffix(".json")))
    # Newest first; among reports of one date, by file name for a stable order.
    entries.sort(key=lambda e: e.file)
    entries.sort(key=lambda e: e.date, reverse=True)
    return entries


def _with_twin_facts(entry: IndexEntry, twin: Path) -> IndexEntry:
    # The JSON twin holds the title and counts; a missing or foreign file must not
    # break the index, the report is then listed by its file name only.
    try:
        data = json.loads(twin.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return entry
    if not isinstance(data, dict):
        return entry

    def count(key: str) -> int | None:
        value = data.get(key)
        return len(value) if isinstance(value, list) else None

    def text(key: str, default: str) -> str:
        value = data.get(key)
        return value if isinstance(value, str) and value else default

    return IndexEntry(entry.file, text("title", entry.title), text("date", entry.date),
                      text("since", entry.since), count("skills"), count("changes"),
                      count("errors"), data.get("interrupted") is True)


def render_index(entries: list[IndexEntry]) -> str:
    """``index.html``: the given reports, in the given order, each linked by file name."""
    return _html_env.get_template("index.html.j2").render(
        entries=[(quote(e.file), e) for e in entries])


def write_index(directory: Path) -> Path:
    """Rewrite ``directory/index.html`` atomically to list every HTML report there."""
    path = directory / INDEX_NAME
    atomic_write(path, render_index(index_entries(directory)))
    return path


def report_data(report: Report) -> dict[str, Any]:
    """The JSON twin: the same facts as the Markdown report, for machines."""
    return {
        "title": report.title,
        "date": report.date.isoformat(),
        "since": report.since.isoformat() if report.since else None,
        "runs": [{"id": r.id, "status": r.status,
                  "started_at": r.started_at.isoformat() + "Z",
                  "finished_at": r.finished_at.isoformat() + "Z" if r.finished_at else None}
                 for r in report.runs],
        "interrupted": report.interrupted,
        "sources": [{"name": s.name, "kind": s.kind, "pages_checked": s.pages_checked,
                     "not_modified": s.pages_unchanged, "changed": s.pages_changed,
                     "errors": s.errors, "baseline": s.baseline, "runs": s.runs,
                     "failing_runs": s.failing_runs,
                     "failing_since": s.failing_since.isoformat() if s.failing_since else None,
                     "recovered_after": s.recovered_after,
                     "moved": [{"from": m.from_url, "to": m.to} for m in s.moves]}
                    for s in report.sources],
        "changes": [{"url": c.url, "source": c.source, "package": c.package, "title": c.title,
                     "item": c.item, "change": c.change, "summary": c.summary,
                     "sections": c.sections, "lines_added": c.lines_added,
                     "lines_removed": c.lines_removed, "diff": c.diff,
                     "moved_to": c.meta.get("moved_to") if c.change == ChangeKind.MOVED
                     else None}
                    for c in report.changes],
        "decisions": [{"skill": d.skill, "previous": d.previous.isoformat(),
                       "edited": d.edited,
                       "resolved": [{"line": k.line, "term": k.term, "text": k.text}
                                    for k in d.resolved],
                       "remaining": [{"line": o.key.line, "term": o.key.term,
                                      "text": o.key.text, "since": o.since.isoformat()}
                                     for o in d.remaining],
                       "new": [{"line": k.line, "term": k.term, "text": k.text}
                               for k in d.new],
                       "added": d.added, "commits": list(d.commits),
                       "covers": [_gap_data(g) for g in d.covers]}
                      for d in report.decisions],
        "highlights": [{"package": h.package, "from": h.old, "to": h.new, **{
            kind: [{"text": x.text, "url": x.url} for x in getattr(h, kind)]
            for kind in ("topics", "breaking", "deprecations", "enhancements")}}
            for h in report.highlights],
        "prereleases": [{"package": p.package, "version": p.version, "stable": p.stable,
                         "url": p.url, "skills": list(p.skills)} for p in report.prereleases],
        "proposed_skills": [{"name": p.name, "package": p.package, "group": p.group,
                             "scope": p.scope, "pages": list(p.pages),
                             "page_count": len(p.pages), "sections": p.sections,
                             "terms": p.terms, "first_seen": p.first_seen.isoformat(),
                             "gaps": [_gap_data(g) for g in p.gaps]}
                            for p in report.proposals],
        "open_gaps": [{**_gap_data(o.gap), "first_seen": o.first_seen.isoformat()}
                      for o in report.open_gaps],
        "releases": [{"package": r.meta.get("package"), "version": r.meta.get("version"),
                      "published_at": r.meta.get("published_at"),
                      "prerelease": r.meta.get("prerelease", False), "url": r.url,
                      "docs_url": r.meta.get("docs_url"),
                      "changelog_url": r.meta.get("changelog_url"),
                      "retired": r.meta.get("retired")} for r in report.releases],
        "retired_releases": [{"package": r.meta.get("package"),
                              "version": r.meta.get("version"), "url": r.url,
                              **(r.meta.get("retired") or {})}
                             for r in report.retired_releases],
        "latest_stable": [{"package": b.package, "from": b.old, "to": b.new, "bump": b.kind,
                           "skills": b.skills} for b in report.bumps],
        "posts": [{"feed": p.meta.get("feed"), "title": p.title, "url": p.url,
                   "published_at": p.meta.get("published_at"), "author": p.meta.get("author"),
                   "updated": p.updated} for p in report.posts],
        "takeaways": [{"text": t.text, "url": t.url} for t in report.takeaways],
        "skills": [{"name": f.name, "path": f.path,
                    "reasons": [{"url": r.url, "title": r.title, "change": r.change,
                                 "why": r.why} for r in f.reasons],
                    "stale_lines": [{"line": s.line, "text": s.text, "term": s.term,
                                     "kind": s.kind, "replacement": s.replacement,
                                     "package": s.package, "usage": s.usage,
                                     "evidence": {"url": s.evidence.url,
                                                  "section": s.evidence.section,
                                                  "sentence": s.evidence.sentence}}
                                    for s in f.stale_lines],
                    "actions": f.actions} for f in report.skills],
        "gaps": [_gap_data(g) for g in report.gaps],
        "errors": [{"url": e.url, "source": e.source, "error": e.error,
                    "attempts": e.attempts, "status": e.status} for e in report.errors],
    }


def _gap_data(gap: Gap) -> dict[str, Any]:
    return {"url": gap.url, "source": gap.source, "package": gap.package, "title": gap.title,
            "kind": gap.kind, "suggested_skill": gap.suggested_skill,
            "new_skill": gap.new_skill, "group": gap.group}


def render_json(report: Report) -> str:
    """The JSON twin (:func:`report_data`), indented."""
    return render(report, "json")


def _stream_markdown(report: Report, out: TextIO) -> None:
    out.writelines(_env.get_template("report.md.j2").generate(report=report))


def _stream_json(report: Report, out: TextIO) -> None:
    json.dump(report_data(report), out, indent=2, ensure_ascii=False)
    out.write("\n")


def _stream_html(report: Report, out: TextIO) -> None:
    out.writelines(_html_env.get_template("report.html.j2").generate(report=report))


@dataclass(frozen=True)
class Renderer:
    """One file format of a report: ``<stem><suffix>``, streamed into an open file (a
    report of thousands of changes is never held as one string)."""

    name: str
    suffix: str
    stream: Callable[[Report, TextIO], None]


# In the order the files are written (and returned by write_report).
RENDERERS: dict[str, Renderer] = {renderer.name: renderer for renderer in (
    Renderer("markdown", ".md", _stream_markdown),
    Renderer("json", ".json", _stream_json),
    Renderer("html", ".html", _stream_html),
)}


class _ControlFree:
    """A text file that drops control characters on their way in: text stored before
    docwatch cleaned it, or reaching a report by another path, never carries terminal
    commands into a report file or a mail."""

    def __init__(self, out: TextIO):
        self.out = out

    def write(self, text: str) -> int:
        return self.out.write(without_controls(text))

    def writelines(self, lines: Iterable[str]) -> None:
        self.out.writelines(map(without_controls, lines))


def _stream(renderer: Renderer, report: Report, out: TextIO) -> None:
    renderer.stream(report, cast(TextIO, _ControlFree(out)))


def render(report: Report, name: str) -> str:
    """``report`` in the format registered as ``name`` in :data:`RENDERERS`."""
    out = io.StringIO()
    _stream(RENDERERS[name], report, out)
    return out.getvalue()


def report_stem(report: Report) -> str:
    """``<date>-<slug>``, or ``<since>--<date>-<slug>`` for a report over a period."""
    period = f"{report.since.isoformat()}--" if report.since else ""
    return f"{period}{report.date.isoformat()}-{slugify(report.title)}"


def write_report_files(report: Report, directory: Path) -> list[Path]:
    """Write the report's file of every format of :data:`RENDERERS`
    (``<date>-<slug>.md``, ``.json``, ``.html``), each atomically; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = report_stem(report)
    paths = []
    for renderer in RENDERERS.values():
        path = directory / f"{stem}{renderer.suffix}"
        _atomic_write_with(path, functools.partial(_stream, renderer, report))
        paths.append(path)
    return paths


def write_report(report: Report, directory: Path) -> list[Path]:
    """Write ``<date>-<slug>.md``, its ``.json`` and ``.html`` twins, and ``index.html``.

    Every file is written atomically. Returns ``[md, json, html]``.
    """
    paths = write_report_files(report, directory)
    # After the JSON twin is on disk, so the index shows this report's counts.
    write_index(directory)
    return paths


def html_report_path(report: Report, directory: Path) -> Path:
    """Where :func:`write_report` puts the HTML report of ``report``."""
    return directory / f"{report_stem(report)}.html"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a reader never sees half a file)."""
    _atomic_write_with(path, lambda out: out.write(text))


def _atomic_write_with(path: Path, write: Callable[[TextIO], object]) -> None:
    """Write ``path`` through ``write(file)`` into a temporary file, then rename it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            write(handle)
        # mkstemp makes the file private; a report is for reading (and serving).
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
