"""``REPORT_DIR/feed.xml``: an Atom 1.0 feed of the latest reports, for feed readers.

Built from the JSON twins on disk, so it always matches the reports that exist. Every
crawled string goes through ElementTree, which escapes it; entry content is HTML
(``type="html"``), escaped once more as XML text, as Atom requires.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

from crawler.report.render import atomic_write

ATOM = "http://www.w3.org/2005/Atom"
# The nightly reports: "<date>-<slug>.json", not the "<since>--<until>-<slug>" periods.
DATED_JSON = re.compile(r"^(\d{4}-\d{2}-\d{2})-(?!-)[a-z0-9-]+\.json$")
# XML 1.0 forbids most C0 control characters, which crawled text may carry.
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> str:
    return XML_INVALID.sub("", value)


def headline(data: dict) -> str:
    """The counts a subscriber wants in the entry title."""
    skills = len(data.get("skills", []))
    if skills:
        first = f"{skills} skill{'s need' if skills != 1 else ' needs'} update{'s' * (skills != 1)}"
    else:
        first = "no skill needs an update"
    changes = len(data.get("changes", []))
    parts = [first, f"{changes} change{'s' * (changes != 1)}"]
    if data.get("errors"):
        errors = len(data["errors"])
        parts.append(f"{errors} fetch problem{'s' * (errors != 1)}")
    return ", ".join(parts)


def entry_summary(data: dict) -> str:
    """The entry's summary: the report's key takeaways, else its counts."""
    takeaways = [t["text"] for t in data.get("takeaways") or []]
    return " · ".join(takeaways) if takeaways else headline(data)


def summary_html(data: dict) -> str:
    """A short HTML summary: takeaways and flagged skills, every value escaped."""
    parts = [f"<p>{html.escape(headline(data))}</p>"]
    takeaways = data.get("takeaways") or []
    if takeaways:
        items = "".join(f"<li>{html.escape(t['text'])}</li>" for t in takeaways)
        parts.append(f"<h3>Key takeaways</h3><ul>{items}</ul>")
    skills = data.get("skills") or []
    if skills:
        items = "".join(
            f"<li>{html.escape(s['name'])}: {len(s.get('reasons', []))} reason(s), "
            f"{len(s.get('stale_lines', []))} stale line(s)</li>" for s in skills)
        parts.append(f"<h3>Skills needing updates</h3><ul>{items}</ul>")
    return "".join(parts)


def write_feed(directory: Path, title: str, base_url: str | None = None,
               limit: int = 20) -> Path:
    """Write ``directory/feed.xml`` listing the newest ``limit`` dated reports."""
    base = (base_url.rstrip("/") + "/") if base_url else directory.resolve().as_uri() + "/"
    reports = sorted((p for p in directory.glob("*.json") if DATED_JSON.match(p.name)),
                     key=lambda p: p.name, reverse=True)[:limit]
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = xml_text(title)
    ET.SubElement(feed, f"{{{ATOM}}}id").text = base + "feed.xml"
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=base + "feed.xml",
                  type="application/atom+xml")
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=base + "index.html",
                  type="text/html")
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = "docwatch"
    ET.SubElement(feed, f"{{{ATOM}}}generator").text = "docwatch"
    updated_at = []
    for path in reports:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a half-written or foreign file: not a report
        stem = path.name[: -len(".json")]
        updated = _updated(data, path)
        updated_at.append(updated)
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}title").text = xml_text(
            f"{data.get('title', title)} — {data.get('date', '')}: {headline(data)}")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = base + quote(stem) + ".html"
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = updated
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html",
                      href=base + quote(stem) + ".html")
        ET.SubElement(entry, f"{{{ATOM}}}summary").text = xml_text(entry_summary(data))
        ET.SubElement(entry, f"{{{ATOM}}}content", type="html").text = \
            xml_text(summary_html(data))
    feed_updated = max(updated_at, default=_now())
    feed.insert(2, _element("updated", feed_updated))
    target = directory / "feed.xml"
    atomic_write(target, "<?xml version='1.0' encoding='utf-8'?>\n"
                 + ET.tostring(feed, encoding="unicode"))
    return target


def _element(name: str, text: str) -> ET.Element:
    element = ET.Element(f"{{{ATOM}}}{name}")
    element.text = text
    return element


def _updated(data: dict, path: Path) -> str:
    finished = [r.get("finished_at") for r in data.get("runs", []) if r.get("finished_at")]
    if finished:
        return max(finished)
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    return stamp.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
