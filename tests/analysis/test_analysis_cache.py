"""A report reads back what the last report of the same pages worked out, and works it
out again once a page changed, a prune deleted snapshots, or notices were read again.

A tiny ExDoc-shaped package, "glimmer", is served from 127.0.0.1 under a hexdocs.pm-like
path. Its guide teaches ``Glimmer.Palette.blend/3`` with a code example (v1), drops both
(v2: the function is gone, the example's line changed) and teaches them again (v3).
Every test crawls into a fresh database, SQLite then PostgreSQL, through the real
migrations, and reads what a user reads: the facts of the report and ``docwatch skills
check``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import exdoc_page, execute, query
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crawler.analysis import queries
from crawler.analysis.facts import DocsFacts
from crawler.analysis.queries import docs_facts
from crawler.cli import cli
from crawler.config import Config, load_config
from crawler.demo.server import DocServer
from crawler.pipeline import crawl
from crawler.store import analysis_cache
from crawler.store.db import open_database
from crawler.store.prune import prune
from crawler.store.refresh import refresh_notices

DAYS = [dt.date(2025, 6, 2) + dt.timedelta(days=i) for i in range(5)]

SIDEBAR = 'sidebarNodes={{"extras":[{extras}],"modules":[],"tasks":[]}}'
BLENDING_V1 = """<h1>Blending</h1>
<h2 id="colours">Colours</h2>
<p>Mix two colours with <code class="inline">Glimmer.Palette.blend/3</code>;
<code class="inline">Glimmer.Palette.blend/3</code> takes the ratio last.</p>
<pre><code class="makeup elixir">halo = Glimmer.Palette.blend(from, to, 0.5)</code></pre>"""
BLENDING_V2 = """<h1>Blending</h1>
<h2 id="colours">Colours</h2>
<p>Pick one colour for the halo, from <code class="inline">Glimmer.Palette</code>.</p>
<pre><code class="makeup elixir">halo = Glimmer.Palette.pick(from)</code></pre>"""
OVERVIEW = """<h1>Overview</h1>
<p>Glimmer lights up server-rendered pages.</p>"""
VERSIONS = {"v1": BLENDING_V1, "v2": BLENDING_V2, "v3": BLENDING_V1,
            "v4": BLENDING_V2.replace("Pick one colour", "Pick a single colour"),
            "v5": BLENDING_V2.replace("Glimmer.Palette.pick(from)",
                                      "Glimmer.Palette.tint(from)")}

SKILL = """---
name: glimmer-effects
description: Effects with Glimmer.
---
# Glimmer effects

Mix the halo with `Glimmer.Palette.blend(from, to, 0.5)`.

```elixir
halo = Glimmer.Palette.blend(from, to, 0.5)
```
"""
GONE = "Glimmer.Palette.blend/3"


def write_site(root: Path) -> None:
    for version, blending in VERSIONS.items():
        folder = root / version / "hexdocs.pm" / "glimmer"
        (folder / "dist").mkdir(parents=True)
        pages = {"overview": OVERVIEW, "blending": blending}
        (folder / "index.html").write_text(
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta http-equiv="refresh" content="0; url=overview.html"></head>'
            "<body></body></html>\n")
        extras = ",".join(f'{{"id":"{p}","title":"{p.title()}","group":""}}' for p in pages)
        (folder / "dist" / "sidebar_items-ABC.js").write_text(SIDEBAR.format(extras=extras))
        for page_id, body in pages.items():
            (folder / f"{page_id}.html").write_text(exdoc_page(page_id.title(), body))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[DocServer]:
    root = tmp_path_factory.mktemp("glimmer-site")
    write_site(root)
    with DocServer(root=root, version="v1") as server:
        yield server


class Project:
    """A config watching the site, its skill, and a fresh database."""

    def __init__(self, folder: Path, site: DocServer, database: str):
        self.folder, self.site, self.database = folder, site, database
        skill = folder / "skills" / "glimmer-effects" / "SKILL.md"
        skill.parent.mkdir(parents=True)
        skill.write_text(SKILL, encoding="utf-8")
        self.path = folder / "sources.yaml"
        self.path.write_text(f"""
report:
  title: "Glimmer Watch"
  dir: out
http: {{attempts: 1}}
history: {{keep: 1}}
sources:
  - name: docs
    kind: exdoc
    urls: [{site.base_url}/hexdocs.pm/glimmer/]
skills:
  - name: glimmer-effects
    path: skills/glimmer-effects/SKILL.md
    keywords: [Glimmer.Palette]
""")
        self.config: Config = load_config(self.path)
        self.engine: Engine = open_database(database)

    def crawl(self, day: int, version: str) -> None:
        self.site.set_version(version)
        outcome = crawl(self.config, date=DAYS[day], engine=self.engine)
        assert outcome.status == "completed" and outcome.errors == 0

    def facts(self) -> DocsFacts:
        return docs_facts(self.engine, ["docs"])

    def worked_out_afresh(self) -> DocsFacts:
        """The facts with nothing kept: what the report must read back."""
        with Session(self.engine) as session, session.begin():
            analysis_cache.forget(session)
        return self.facts()

    def stale(self) -> set[tuple[str, str]]:
        result = CliRunner().invoke(cli, ["skills", "check", "--config", str(self.path),
                                          "--db", self.database, "--json"])
        assert result.exit_code in (0, 1), result.output
        return {(line["term"], line["kind"]) for line in
                json.loads(result.output)["glimmer-effects"]}

    def kept(self) -> dict[str, str]:
        return dict(query(self.database, "SELECT name, computed_at FROM analysis_cache"))


@pytest.fixture
def project(site: DocServer, database_url: str, tmp_path: Path) -> Iterator[Project]:
    project = Project(tmp_path, site, database_url)
    yield project
    project.engine.dispose()


def gone_terms(facts: DocsFacts) -> set[str]:
    return {t.term.text for t in facts.gone}


def test_a_second_report_of_the_same_pages_reads_back_the_first(project, monkeypatch):
    project.crawl(0, "v1")
    project.crawl(1, "v2")
    first = project.stale()
    assert (GONE, "removed") in first
    assert [c.old for c in project.facts().snippets] == [
        "halo = Glimmer.Palette.blend(from, to, 0.5)"]
    kept = project.kept()
    assert set(kept) == {"gone", "snippets"}

    def no_work(*args, **kwargs):
        raise AssertionError("worked out again though no page changed")

    monkeypatch.setattr(queries, "_gone", no_work)
    monkeypatch.setattr(queries, "snippet_facts", no_work)
    assert project.stale() == first
    project.crawl(2, "v2")  # a warm night: nothing changed
    assert project.stale() == first
    assert project.kept() == kept  # read back, not written again
    monkeypatch.undo()
    assert project.facts() == project.worked_out_afresh()


def test_a_page_that_changes_is_worked_out_again(project):
    project.crawl(0, "v1")
    assert GONE not in gone_terms(project.facts())
    project.crawl(1, "v2")
    assert GONE in gone_terms(project.facts())
    assert (GONE, "removed") in project.stale()
    project.crawl(2, "v3")  # the guide teaches it again
    facts = project.facts()
    assert GONE not in gone_terms(facts)
    assert (GONE, "removed") not in project.stale()
    assert facts == project.worked_out_afresh()
    project.crawl(3, "v2")  # and drops it again
    facts = project.facts()
    assert GONE in gone_terms(facts)
    assert facts == project.worked_out_afresh()


def test_prune_leaves_nothing_worked_out_from_the_deleted_snapshots(project):
    for day, version in enumerate(["v1", "v5", "v3", "v4"]):
        project.crawl(day, version)
    before = project.facts()
    assert {c.old for c in before.snippets} == {"halo = Glimmer.Palette.blend(from, to, 0.5)",
                                                "halo = Glimmer.Palette.tint(from)"}
    assert project.kept()
    result = prune(project.engine, project.config, today=DAYS[3])
    assert result.total_deleted > 0
    assert project.kept() == {}
    after = project.facts()
    # The deleted snapshot (v5) was an earlier content of the guide: the code it changed
    # is worked out from what is left, as if nothing had ever been kept.
    assert {c.old for c in after.snippets} == {"halo = Glimmer.Palette.blend(from, to, 0.5)"}
    assert after == project.worked_out_afresh()


def test_notices_read_again_are_not_answered_from_before(project):
    project.crawl(0, "v1")
    project.crawl(1, "v2")
    assert project.kept()
    # As a database whose notices an older docwatch read: they are read again, and
    # what was worked out from them is dropped.
    execute(project.database, "UPDATE snapshots SET grammar = 0")
    assert refresh_notices(project.engine) > 0
    assert project.kept() == {}
    assert (GONE, "removed") in project.stale()
    assert project.facts() == project.worked_out_afresh()
