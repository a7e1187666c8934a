"""A notice speaks for its own package: three packages watched in one config deprecate
options of the same names (`:name`, `:timeout`, `:prefix`), and each skill line is judged
only by the notices of the package whose API it uses.

The packages are served by a local ExDoc-shaped site (as a hexdocs mirror serves them,
``/hexdocs.pm/<package>/``), crawled at v1 then v2 through the real pipeline.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from crawler.config import load_config
from crawler.demo.server import DocServer
from crawler.pipeline import crawl

SIDEBAR = ('sidebarNodes={"extras":['
           '{"id":"guide","title":"Guide","group":""},'
           '{"id":"changelog","title":"Changelog","group":""}],'
           '"modules":[],"tasks":[]}')

# package -> (its guide, its v2 changelog's deprecation); v1's changelog deprecates nothing.
PACKAGES = {
    "form_kit": ("<h1>Guide</h1><p>Build forms with <code class=\"inline\">"
                 "FormKit.Form.form_for/3</code> and <code class=\"inline\">"
                 "FormKit.Form.text_input/3</code>.</p>",
                 "<li>The <code class=\"inline\">:name</code> option of <code class=\"inline\">"
                 "FormKit.Form.form_for/3</code> is deprecated in favor of "
                 "<code class=\"inline\">:as</code></li>"),
    "data_store": ("<h1>Guide</h1><p>Query with <code class=\"inline\">DataStore.Repo.all/2"
                   "</code>.</p>",
                   "<li><code class=\"inline\">:timeout</code> is deprecated, configure "
                   "<code class=\"inline\">:pool_timeout</code> instead</li>"),
    "job_queue": ("<h1>Guide</h1><p>Enqueue with <code class=\"inline\">JobQueue.insert/2"
                  "</code>; run <code class=\"inline\">JobQueue.Worker</code> processes.</p>",
                  "<li>Deprecate the <code class=\"inline\">:prefix</code> option, set the "
                  "prefix in the queue configuration</li>"),
}

SKILL = """\
---
name: app-stack
---
# The app's stack

- `FormKit.Form.form_for(@changeset, ~p"/users", name: :user)`
- `DataStore.Repo.all(query, timeout: 5_000)`
- `JobQueue.insert(job, prefix: "jobs")`
- `DataStore.Repo.all(query, prefix: "tenant_a")`
- `JobQueue.Worker.start_link(name: MyApp.Mailer, timeout: 1_000)`
- `FormKit.Form.text_input(f, :email, name: "user[email]", prefix: "+")`
- `GenServer.start_link(__MODULE__, :ok, name: __MODULE__, timeout: 5_000)`
- Every `DataStore.Repo` call in the app passes `timeout: 15_000`.
"""
# Line numbers in the file (front matter included) and who retires what.
STALE = {(6, ":name", "form_kit"), (7, ":timeout", "data_store"),
         (8, ":prefix", "job_queue"), (13, ":timeout", "data_store")}
DAY1, DAY2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)


def page(title: str, body: str) -> str:
    """An ExDoc-shaped page: its sidebar script, and the body in its content block."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}'
            '</title><script src="dist/sidebar_items-ABC.js"></script></head><body>'
            f'<main class="content"><div id="content"><div id="top-content">{body}</div>'
            '</div></main></body></html>')


def changelog(version: str, bullet: str) -> str:
    deprecations = f"<h3>Deprecations</h3><ul>{bullet}</ul>" if version == "v2" else ""
    number = "2.0.0" if version == "v2" else "1.0.0"
    return (f"<h1>Changelog</h1><h2 id=\"v{number}\">v{number}</h2>{deprecations}"
            "<h3>Enhancements</h3><ul><li>Faster.</li></ul>")


def write_site(root: Path) -> None:
    for version in ("v1", "v2"):
        for package, (guide, bullet) in PACKAGES.items():
            folder = root / version / "hexdocs.pm" / package
            (folder / "dist").mkdir(parents=True)
            (folder / "index.html").write_text(
                '<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="refresh"'
                ' content="0; url=guide.html"></head><body></body></html>\n')
            (folder / "dist" / "sidebar_items-ABC.js").write_text(SIDEBAR)
            (folder / "guide.html").write_text(page("Guide", guide))
            (folder / "changelog.html").write_text(page("Changelog",
                                                        changelog(version, bullet)))


@pytest.fixture(scope="module")
def day2_report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("three")
    write_site(tmp / "site")
    skill = tmp / "skills" / "app-stack" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    skill.write_text(SKILL, encoding="utf-8")
    with DocServer(root=tmp / "site", version="v1") as site:
        roots = [f"{site.base_url}/hexdocs.pm/{p}/" for p in PACKAGES]
        watches = [f"{site.base_url}/hexdocs.pm/{p}/*" for p in PACKAGES]
        config_path = tmp / "sources.yaml"
        config_path.write_text(f"""
report: {{title: "Stack", dir: out}}
sources:
  - name: docs
    kind: exdoc
    urls: {json.dumps(roots)}
skills:
  - name: app-stack
    path: skills/app-stack/SKILL.md
    watches: {json.dumps(watches)}
""")
        config = load_config(config_path)
        database = f"sqlite:///{tmp}/db.sqlite3"
        for day, version in ((DAY1, "v1"), (DAY2, "v2")):
            site.set_version(version)
            outcome = crawl(config, date=day, database=database)
            assert outcome.errors == 0
        md, js = outcome.report_paths[:2]
        return md.read_text(encoding="utf-8"), json.loads(js.read_text(encoding="utf-8"))


def test_each_line_is_judged_by_the_notices_of_its_own_package(day2_report):
    _, data = day2_report
    [skill] = [s for s in data["skills"] if s["name"] == "app-stack"]

    found = {(s["line"], s["term"], s["package"]) for s in skill["stale_lines"]}
    assert found == STALE


def test_a_stale_line_says_whose_docs_retire_it(day2_report):
    md, data = day2_report
    [skill] = [s for s in data["skills"] if s["name"] == "app-stack"]

    for stale in skill["stale_lines"]:
        assert f"/hexdocs.pm/{stale['package']}/changelog.html" in stale["evidence"]["url"]
    assert "data_store docs" in md.split("## Skills needing updates", 1)[1]
