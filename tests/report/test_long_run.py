"""A long run stays readable: the note of a crawl that finds 2,000 changes (the first
after months) is no longer than the note of a busy night; only the appendix grows.

A local ExDoc-shaped package of about 2,000 guides is crawled at v1, then at v2, where
most guides changed, some went and others came, and dozens of functions a skill teaches
were deprecated. A package of 300 guides crawled the same way gives the busy night: it
already has more of everything than a note lists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import pytest

from crawler.config import load_config
from crawler.demo.server import DocServer
from crawler.pipeline import crawl

DAY1, DAY2 = dt.date(2025, 6, 1), dt.date(2025, 9, 1)
GROUPS = ("Basics", "Forms", "Streams", "Testing", "Deployment")
NOTE_LIMIT = 250  # lines before the appendix, as on the world's day 2


def page(title: str, body: str, sidebar: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{title} — Bulk</title>"
            f'<script src="dist/{sidebar}"></script></head><body>'
            f'<main class="content"><div id="content"><div id="top-content">{body}'
            f"</div></div></main></body></html>\n")


def guide(n: int, version: str, sidebar: str) -> str:
    group = GROUPS[n % len(GROUPS)]
    body = (f"<h1>Guide {n}</h1><h2 id='usage'>Usage</h2>"
            f"<p>Call <code class='inline'>Bulk.{group.lower()}_{n}/1</code> to handle "
            f"the {group.lower()} of step {n}.</p>")
    if version == "v2":
        body += (f"<h2 id='since-v2'>Since v2</h2><p>Step {n} now also takes "
                 f"<code class='inline'>:retry_{n}</code>.</p>")
    return page(f"Guide {n}", body, sidebar)


def changelog(version: str, deprecated: range, sidebar: str) -> str:
    items = "".join(f"<li><code class='inline'>Bulk.basics_{n}/1</code> is deprecated in "
                    f"favor of <code class='inline'>Bulk.basics_{n}/2</code>.</li>"
                    for n in deprecated)
    v2 = (f"<h2 id='v2-0-0'>v2.0.0</h2><h3 id='deprecations'>Deprecations</h3>"
          f"<ul>{items}</ul>") if version == "v2" else ""
    return page("Changelog", f"<h1>Changelog</h1>{v2}<h2 id='v1-0-0'>v1.0.0</h2>"
                             "<h3 id='enhancements'>Enhancements</h3><ul><li>First.</li></ul>",
                sidebar)


def write_package(root: Path, name: str, pages: dict[str, set[int]], deprecated: range,
                  modified: dict[str, set[int]]) -> None:
    """``pages[version]``: the guides that exist; ``modified[version]``: those in their
    v2 form."""
    for version, numbers in pages.items():
        folder = root / version / name
        (folder / "dist").mkdir(parents=True)
        extras = [{"id": "changelog", "title": "Changelog", "group": ""}]
        extras += [{"id": f"guide-{n}", "title": f"Guide {n}",
                    "group": GROUPS[n % len(GROUPS)]} for n in sorted(numbers)]
        nodes = "sidebarNodes=" + json.dumps({"extras": extras, "modules": [], "tasks": []})
        # ExDoc names the sidebar by a digest of its content: a new list, a new name.
        sidebar = f"sidebar_items-{hashlib.sha1(nodes.encode()).hexdigest()[:8].upper()}.js"
        (folder / "dist" / sidebar).write_text(nodes)
        (folder / "index.html").write_text(
            '<meta http-equiv="refresh" content="0; url=changelog.html">')
        (folder / "changelog.html").write_text(changelog(version, deprecated, sidebar))
        for n in numbers:
            form = "v2" if n in modified.get(version, set()) else "v1"
            (folder / f"guide-{n}.html").write_text(guide(n, form, sidebar))


SKILL = """---
name: bulk-basics
description: The basics of Bulk.
---
# Bulk basics

{lines}
"""


def note_of(markdown: str) -> list[str]:
    """The report's lines before the appendix of page changes."""
    return markdown.split("\n## Appendix", 1)[0].splitlines()


def crawl_twice(tmp: Path, name: str, count: int, churn: int, deprecated: int):
    """Crawl ``count`` guides at v1, then v2 where ``churn`` of them changed."""
    v1 = set(range(count))
    removed = set(range(count - churn // 5, count))
    added = set(range(count, count + churn // 5))
    modified = set(range(churn - 2 * (churn // 5)))
    write_package(tmp / "site", name, {"v1": v1, "v2": (v1 - removed) | added},
                  range(deprecated), {"v2": modified | added})
    skill = tmp / "skills" / "bulk-basics" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    skill.write_text(SKILL.format(lines="\n".join(
        f"- Step {n}: `Bulk.basics_{n}(x)`." for n in range(deprecated))))
    with DocServer(root=tmp / "site", version="v1") as site:
        (tmp / "sources.yaml").write_text(f"""
report: {{title: "Bulk Watch", dir: out}}
sources:
  - {{name: docs, kind: exdoc, urls: ["{site.base_url}/{name}/"]}}
skills:
  - name: bulk-basics
    path: skills/bulk-basics/SKILL.md
    watches: ["{site.base_url}/{name}/guide-1*"]
    keywords: [retry]
  - name: bulk-streams
    watches: ["{site.base_url}/{name}/changelog.html"]
    keywords: [streams]
""")
        config = load_config(tmp / "sources.yaml")
        database = f"sqlite:///{tmp}/db.sqlite3"
        outcomes = []
        for date, version in [(DAY1, "v1"), (DAY2, "v2")]:
            site.set_version(version)
            outcomes.append(crawl(config, date=date, database=database))
    md, js = outcomes[-1].report_paths[:2]
    return outcomes[-1], md.read_text(encoding="utf-8"), json.loads(js.read_text("utf-8"))


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    long = crawl_twice(tmp_path_factory.mktemp("long"), "bulk", 2000, 2000, 40)
    busy = crawl_twice(tmp_path_factory.mktemp("busy"), "bulk", 300, 300, 15)
    return long, busy


def test_a_run_of_2000_changes_keeps_the_note_of_a_busy_night(nights):
    (long_run, long_md, long_data), (busy_run, busy_md, _) = nights

    assert long_run.status == "completed" and long_run.errors == 0
    assert long_run.changed >= 2000 and busy_run.changed < 400
    long_note, busy_note = note_of(long_md), note_of(busy_md)
    assert len(long_note) <= NOTE_LIMIT, "\n".join(long_note)
    # Seven times the changes, the same note, give or take a line.
    assert abs(len(long_note) - len(busy_note)) <= 2, (len(long_note), len(busy_note))
    # Nothing is lost: the appendix and the JSON carry every change.
    assert len(long_md.splitlines()) > 5 * len(long_note)
    assert len(long_data["changes"]) >= 2000


def test_the_long_note_still_leads_with_the_stale_lines_and_says_how_many_more(nights):
    (_, long_md, long_data), _ = nights

    note = "\n".join(note_of(long_md))
    [skill] = [s for s in long_data["skills"] if s["name"] == "bulk-basics"]
    assert len(skill["stale_lines"]) == 40  # the JSON keeps all of them
    shown = re.findall(r"line \d+", note.split("## Skills needing updates", 1)[1])
    assert 0 < len(shown) < 40
    assert re.search(r"and \d+ more stale lines", note)
