"""``kind: exdoc``: when ExDoc's own index cannot be read, the fallbacks it leaves.

The sites are copies of the bundled demo site (``crawler/demo/site``) altered the way
real builds go wrong or differ: a truncated or old-format ``sidebar_items`` file, an
``llms.txt`` whose extras section has another name or lists an external link, a
``.md`` twin answered as a login page. All are served over HTTP by ``DocServer``.

And what discovery remembers between runs: the requests cold, warm and changed runs
make, an index remembered by an earlier docwatch, one that cannot be read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.config import load_config
from crawler.demo.server import SITE_ROOT, DocServer, Fault
from crawler.http import Fetcher, FetchSettings
from crawler.pipeline import crawl
from crawler.sources.base import CrawlContext, Document, Failure, Listing, Result, TargetDone
from crawler.sources.exdoc import ExdocConfig, ExdocSource

LIVE_SIDEBAR = "lumen_live/dist/sidebar_items-4DBABCC85C.js"  # v2
LUMEN_SIDEBAR = "lumen/dist/sidebar_items-552CB215CB.js"  # v1
LIVE_GUIDES = ["welcome", "bindings", "uploads", "async"]
TRUNCATED = 'sidebarNodes={"extras":[{"group":"Introduction","id":"welc'


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(SITE_ROOT, tmp_path / "site")
    return tmp_path / "site"


@pytest.fixture
def server(site: Path) -> Iterator[DocServer]:
    with DocServer(site, "v2") as srv:
        yield srv


def crawl_root(url: str, known: frozenset[str] = frozenset()) -> list[Result]:
    """Source level: what ExdocSource yields for the root ``url``."""
    async def go() -> list[Result]:
        async with Fetcher(FetchSettings(attempts=1, backoff=0.01)) as fetcher:
            ctx = CrawlContext(fetcher, validators_for=lambda u: None,
                               has_page=lambda u: u in known)
            source = ExdocSource(ExdocConfig(name="docs", urls=[url]))
            return [r async for r in source.crawl(ctx) if not isinstance(r, TargetDone)]
    return asyncio.run(go())


def listing(results: list[Result]) -> Listing:
    [found] = [r for r in results if isinstance(r, Listing)]
    return found


def ids(urls) -> list[str]:
    return sorted(u.rsplit("/", 1)[1].removesuffix(".html") for u in urls)


def llms_txt(heading: str, extras: str = "") -> str:
    """An llms.txt as ExDoc writes it (llms_txt_template.eex), extras under ``heading``."""
    return f"""# Lumen Live v2.0.0 - Table of Contents

> Server-rendered interactive pages for Lumen applications.

## {heading}

- Introduction
  - [Welcome](welcome.md)
- Client &amp; browser
  - [Bindings](bindings.md)
  - [Uploads](uploads.md)
{extras}- [Async operations](async.md)

## Modules

- [LumenLive.Socket](LumenLive.Socket.md): The state of a live view process,
held between events.

## Mix Tasks

- [mix lumen.gen.live](Mix.Tasks.Lumen.Gen.Live.md): Generates a live view
"""


def break_sidebar(site: Path, path: str, text: str = TRUNCATED) -> None:
    for version in ("v1", "v2"):
        file = site / version / path
        if file.exists():
            file.write_text(text)


# --- llms.txt: the extras section, whatever its name --------------------------------------


@pytest.mark.parametrize("heading", ["Pages", "Guides", "GUIDES", "Tutorials & how-tos"])
def test_llms_txt_extras_are_read_whatever_the_section_is_named(site, server, heading):
    break_sidebar(site, LIVE_SIDEBAR)
    (site / "v2/lumen_live/llms.txt").write_text(llms_txt(heading))

    results = crawl_root(server.url("/lumen_live/"))

    assert ids(listing(results).urls) == sorted(LIVE_GUIDES)
    docs = {ids([r.url])[0]: r for r in results if isinstance(r, Document)}
    assert sorted(docs) == sorted(LIVE_GUIDES)  # no module or task page
    assert docs["bindings"].group == "Client & browser"  # unescaped, as the sidebar has it
    assert docs["welcome"].group == "Introduction"
    assert docs["async"].group == ""  # not indented under a group line
    assert {r.representation for r in docs.values()} == {"md"}


def test_llms_txt_extras_section_named_like_modules_is_the_first_of_the_two(site, server):
    break_sidebar(site, LIVE_SIDEBAR)
    (site / "v2/lumen_live/llms.txt").write_text(llms_txt("Modules"))

    assert ids(listing(crawl_root(server.url("/lumen_live/"))).urls) == sorted(LIVE_GUIDES)


def test_llms_txt_without_extras_lists_no_guide(site, server):
    break_sidebar(site, LIVE_SIDEBAR)
    text = llms_txt("Pages")
    start, end = text.index("## Pages"), text.index("## Modules")
    (site / "v2/lumen_live/llms.txt").write_text(text[:start] + text[end:])

    results = crawl_root(server.url("/lumen_live/"))

    assert listing(results).urls == frozenset()
    assert [r for r in results if not isinstance(r, Listing)] == []


def test_an_external_link_extra_in_llms_txt_is_not_a_guide_nor_a_failure(site, server):
    # ExDoc writes a `url` extra as "[JS Documentation](js-documentation.md)" but no
    # js-documentation.md or .html: both answer 404.
    break_sidebar(site, LIVE_SIDEBAR)
    (site / "v2/lumen_live/llms.txt").write_text(
        llms_txt("Pages", "- [JS Documentation](js-documentation.md)\n"))

    results = crawl_root(server.url("/lumen_live/"))

    assert ids(listing(results).urls) == sorted(LIVE_GUIDES)
    assert [r for r in results if isinstance(r, Failure)] == []
    assert server.log.count("/lumen_live/js-documentation.html") == 1  # a HEAD, then no GET


def test_a_watched_page_missing_from_disk_is_still_a_failure(site, server):
    break_sidebar(site, LIVE_SIDEBAR)
    (site / "v2/lumen_live/llms.txt").write_text(
        llms_txt("Pages", "- [Old guide](old-guide.md)\n"))
    old = server.url("/lumen_live/old-guide.html")

    results = crawl_root(server.url("/lumen_live/"), known=frozenset({old}))

    assert old in listing(results).urls
    assert [(r.url, r.status) for r in results if isinstance(r, Failure)] == [(old, 404)]


# --- .md twins answered with another type ---------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8",
                                          "application/octet-stream"])
def test_a_md_twin_of_another_content_type_falls_back_to_the_html(server, content_type):
    server.set_fault("/lumen_live/bindings.md", Fault(
        kind="body", body="<html><body><form>Sign in</form></body></html>",
        content_type=content_type))

    results = crawl_root(server.url("/lumen_live/"))

    assert [r for r in results if isinstance(r, Failure)] == []
    docs = {ids([r.url])[0]: r for r in results if isinstance(r, Document)}
    assert docs["bindings"].representation == "html"
    assert "Event bindings" in docs["bindings"].text
    assert docs["uploads"].representation == "md"


# --- an unreadable sidebar ------------------------------------------------------------------


@pytest.mark.parametrize("broken", [
    TRUNCATED,
    # ExDoc before it wrote JSON with "extras" (e.g. "sidebarNodes = {modules: [...]}").
    "sidebarNodes = {modules: [{id: 'LumenLive.Socket', title: 'LumenLive.Socket'}]};",
    "",
])
def test_an_unreadable_sidebar_falls_back_to_llms_txt(site, server, broken):
    break_sidebar(site, LIVE_SIDEBAR, broken)

    results = crawl_root(server.url("/lumen_live/"))

    assert ids(listing(results).urls) == sorted(LIVE_GUIDES)  # the demo's "## GUIDES"


def test_a_missing_sidebar_and_llms_txt_fall_back_to_the_main_page_links(site, server):
    (site / "v2" / LIVE_SIDEBAR).unlink()
    (site / "v2/lumen_live/llms.txt").unlink()

    results = crawl_root(server.url("/lumen_live/"))

    # welcome.html (the main page) links to bindings.html and LumenLive.Socket.html.
    assert [r for r in results if isinstance(r, Listing)] == []
    docs = [r for r in results if isinstance(r, Document)]
    assert ids(d.url for d in docs) == ["bindings", "welcome"]
    assert [r for r in results if isinstance(r, Failure)] == []


def test_a_page_that_is_not_exdoc_is_still_an_index_failure(server):
    server.set_fault("/lumen_live/welcome.html",
                     Fault(kind="body", body="<html><body><p>Hello</p></body></html>"))

    [failure] = crawl_root(server.url("/lumen_live/"))

    assert isinstance(failure, Failure) and not failure.page
    assert "is this an ExDoc root?" in failure.error


# --- end to end: a partial list removes nothing ---------------------------------------------


def test_a_guide_list_read_from_page_links_removes_no_page(site, tmp_path):
    config_path = tmp_path / "sources.yaml"
    with DocServer(site, "v1") as srv:
        config_path.write_text(f"""
report:
  dir: out
http:
  attempts: 1
sources:
  - name: docs
    kind: exdoc
    urls: [{srv.url("/lumen/")}]
""")
        config = load_config(config_path)
        db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        crawl(config, date=dt.date(2024, 1, 2), database=db)
        # The next build's sidebar file (a new digest) is truncated; v1 has no llms.txt.
        rebuilt = LUMEN_SIDEBAR.replace("552CB215CB", "0BAD0BAD00")
        (site / "v1" / rebuilt).write_text(TRUNCATED)
        main = site / "v1/lumen/overview.html"
        main.write_text(main.read_text().replace(LUMEN_SIDEBAR.split("/", 1)[1],
                                                 rebuilt.split("/", 1)[1]))
        outcome = crawl(config, date=dt.date(2024, 1, 3), database=db)
        data = json.loads(outcome.report_paths[1].read_text())
        # overview.html links to installation.html and routing.html only.
        assert data["changes"] == [] and data["errors"] == []
        pages = dict(sqlite3.connect(tmp_path / "db.sqlite3").execute(
            "select url, status from pages"))
        assert ids(pages) == ["changelog", "channels", "installation", "overview", "routing"]
        assert set(pages.values()) == {"active"}

        # Not remembered as the build's index: read again on the next run.
        srv.reset_log()
        crawl(config, date=dt.date(2024, 1, 4), database=db)
        assert srv.log.count("/" + rebuilt) == 1


# --- the remembered index: the requests of cold, warm and changed runs ----------------------

# What every run asks of the demo site (v1, then v2 from day 3), robots.txt aside: the
# requests discovery made before its index memory was typed (ExdocIndexCache).
COLD = ["GET /lumen/ 200", "GET /lumen/changelog.html 200", "GET /lumen/channels.html 200",
        "GET /lumen/dist/sidebar_items-552CB215CB.js 200", "GET /lumen/installation.html 200",
        "GET /lumen/overview.html 200", "GET /lumen/routing.html 200",
        "GET /lumen_live/ 200", "GET /lumen_live/bindings.html 200",
        "GET /lumen_live/dist/sidebar_items-6D6AEB4D29.js 200",
        "GET /lumen_live/uploads.html 200", "GET /lumen_live/welcome.html 200"]
# Unchanged: the main pages answer 304, so neither stub nor sidebar file is asked.
WARM = ["GET /lumen/changelog.html 304", "GET /lumen/channels.html 304",
        "GET /lumen/installation.html 304", "GET /lumen/overview.html 304",
        "GET /lumen/routing.html 304", "GET /lumen_live/bindings.html 304",
        "GET /lumen_live/uploads.html 304", "GET /lumen_live/welcome.html 304"]
CHANGED = ["GET /lumen/ 200", "GET /lumen/changelog.html 200",
           "GET /lumen/dist/sidebar_items-2C0C1C3700.js 200", "GET /lumen/installation.html 200",
           "GET /lumen/json_apis.html 200", "GET /lumen/overview.html 200",
           "GET /lumen/routing.html 200", "GET /lumen_live/ 200", "GET /lumen_live/async.md 200",
           "GET /lumen_live/bindings.md 200",
           "GET /lumen_live/dist/sidebar_items-4DBABCC85C.js 200",
           "GET /lumen_live/uploads.md 200", "GET /lumen_live/welcome.html 200",
           "GET /lumen_live/welcome.md 200", "HEAD /lumen_live/async.html 200",
           "HEAD /lumen_live/bindings.html 200", "HEAD /lumen_live/uploads.html 200"]
WARM_V2 = ["GET /lumen/changelog.html 304", "GET /lumen/installation.html 304",
           "GET /lumen/json_apis.html 304", "GET /lumen/overview.html 304",
           "GET /lumen/routing.html 304", "GET /lumen_live/async.md 304",
           "GET /lumen_live/bindings.md 304", "GET /lumen_live/uploads.md 304",
           "GET /lumen_live/welcome.html 304", "GET /lumen_live/welcome.md 304",
           "HEAD /lumen_live/async.html 304", "HEAD /lumen_live/bindings.html 304",
           "HEAD /lumen_live/uploads.html 304"]
# Nothing remembered but the pages' own validators: stubs and sidebar files read again,
# each main page asked with its page's validators, then afresh for the index.
REDISCOVERED = ["GET /lumen/ 200", "GET /lumen/changelog.html 304",
                "GET /lumen/channels.html 304",
                "GET /lumen/dist/sidebar_items-552CB215CB.js 200",
                "GET /lumen/installation.html 304", "GET /lumen/overview.html 200",
                "GET /lumen/overview.html 304", "GET /lumen/routing.html 304",
                "GET /lumen_live/ 200", "GET /lumen_live/bindings.html 304",
                "GET /lumen_live/dist/sidebar_items-6D6AEB4D29.js 200",
                "GET /lumen_live/uploads.html 304", "GET /lumen_live/welcome.html 200",
                "GET /lumen_live/welcome.html 304"]

# ``ctx.state`` as docwatch has long written it for the demo's v1 (``{base}`` the server):
# validators as [etag, last_modified], pages as [id, title, group]; lumen_live's in the
# form before roots could move (no "moved_to").
OLD_STATE = """{"exdoc": {
 "{base}/lumen/": {
  "moved_to": null,
  "root": ["\\"46d4c4e96ad75ba588d74bd7502b37b6\\"", "Mon, 01 Jan 2024 00:00:00 GMT"],
  "main_url": "{base}/lumen/overview.html",
  "main": ["\\"612229a577ca4f69479f3f4e394738a2\\"", "Mon, 01 Jan 2024 00:00:00 GMT"],
  "sidebar": "{base}/lumen/dist/sidebar_items-552CB215CB.js",
  "markdown": false,
  "pages": [["overview", "Overview", "Introduction"],
            ["installation", "Installation", "Introduction"],
            ["routing", "Routing", "Guides"], ["channels", "Channels", "Guides"],
            ["changelog", "Changelog", "References"]]},
 "{base}/lumen_live/": {
  "root": ["\\"17b03d591852ccc026ba5424a4c0440e\\"", "Mon, 01 Jan 2024 00:00:00 GMT"],
  "main_url": "{base}/lumen_live/welcome.html",
  "main": ["\\"2cce713769207f1f0cbf690d9d363c51\\"", "Mon, 01 Jan 2024 00:00:00 GMT"],
  "sidebar": "{base}/lumen_live/dist/sidebar_items-6D6AEB4D29.js",
  "markdown": false,
  "pages": [["welcome", "Welcome", "Introduction"], ["bindings", "Bindings", "Client"],
            ["uploads", "Uploads", "Client"]]}}}"""


class DemoProject:
    """Both demo packages crawled into real SQLite, a day at a time."""

    def __init__(self, folder: Path, server: DocServer):
        self.server = server
        self.db_path = folder / "db.sqlite3"
        config_path = folder / "sources.yaml"
        config_path.write_text(f"""
report:
  dir: out
http:
  attempts: 1
sources:
  - name: docs
    kind: exdoc
    urls: [{server.url("/lumen/")}, {server.url("/lumen_live/")}]
""")
        self.config = load_config(config_path)

    def crawl(self, version: str, day: int) -> tuple[list[str], dict]:
        """The requests the run made (robots.txt aside) and its JSON report."""
        self.server.set_version(version)
        self.server.reset_log()
        outcome = crawl(self.config, date=dt.date(2024, 1, day),
                        database=f"sqlite:///{self.db_path}")
        asked = sorted(f"{e.method} {e.path} {e.status}" for e in self.server.log.requests()
                       if e.path != "/robots.txt")
        return asked, json.loads(outcome.report_paths[1].read_text())

    def state(self) -> dict:
        """What the source remembers of its roots, in the form ``sources.state`` held
        before each root had a row: ``{"exdoc": {root: index}}``."""
        with sqlite3.connect(self.db_path) as conn:
            rows = conn.execute("SELECT target, state FROM target_states "
                                "WHERE source = 'docs'").fetchall()
        return {"exdoc": {target: json.loads(state) for target, state in rows}}

    def set_state(self, state: dict) -> None:
        """Remember ``{"exdoc": {root: index}}``, each root in its row."""
        with sqlite3.connect(self.db_path) as conn:
            conn.execute("DELETE FROM target_states WHERE source = 'docs'")
            if isinstance(state["exdoc"], dict):
                conn.executemany("INSERT INTO target_states VALUES ('docs', ?, ?)",
                                 [(target, json.dumps(index))
                                  for target, index in state["exdoc"].items()])

    def old_state(self) -> dict:
        return json.loads(OLD_STATE.replace("{base}", self.server.base_url))


@pytest.fixture
def project(site: Path, tmp_path: Path) -> Iterator[DemoProject]:
    with DocServer(site, "v1") as srv:
        yield DemoProject(tmp_path, srv)


def test_cold_warm_and_changed_runs_ask_what_discovery_always_asked(project):
    asked, _ = project.crawl("v1", 2)
    assert asked == COLD
    written = project.state()["exdoc"]
    old = project.old_state()["exdoc"]
    old[project.server.url("/lumen_live/")] = {"moved_to": None,
                                                **old[project.server.url("/lumen_live/")]}
    assert written == old  # the JSON form databases already hold, key for key
    assert project.crawl("v1", 2)[0] == WARM
    asked, data = project.crawl("v2", 3)
    assert asked == CHANGED and len(data["changes"]) == 7
    assert project.crawl("v2", 3)[0] == WARM_V2
    assert project.crawl("v2", 4)[0] == WARM_V2


def test_an_index_remembered_by_an_earlier_docwatch_serves_the_warm_run(project):
    project.crawl("v1", 2)  # the pages and their validators
    project.set_state(project.old_state())

    asked, data = project.crawl("v1", 3)

    assert asked == WARM  # all 304, neither stub nor sidebar file asked
    assert data["changes"] == [] and data["errors"] == []
    assert project.state() == project.old_state()  # an unchanged build rewrites nothing
    asked, data = project.crawl("v2", 4)
    assert asked == CHANGED and len(data["changes"]) == 7


@pytest.mark.parametrize("broken", [
    {"{base}/lumen/": None, "{base}/lumen_live/": 7},
    {"{base}/lumen/": "junk", "{base}/lumen_live/": []},
    {"{base}/lumen/": {"pages": "junk"}, "{base}/lumen_live/": {"main_url": 3}},
    {"{base}/lumen/": {"main_url": "{base}/lumen/overview.html", "markdown": "no"},
     "{base}/lumen_live/": {"main_url": "{base}/lumen_live/welcome.html", "markdown": False,
                            "pages": [["welcome", "Welcome"]]}},
])
def test_an_unreadable_remembered_index_means_a_full_discovery(project, broken):
    project.crawl("v1", 2)
    written = project.state()
    broken = json.loads(json.dumps(broken).replace("{base}", project.server.base_url))
    project.set_state({"exdoc": broken})

    asked, data = project.crawl("v1", 3)

    assert asked == REDISCOVERED
    assert data["changes"] == [] and data["errors"] == []
    assert project.state() == written  # remembered afresh
    assert project.crawl("v1", 4)[0] == WARM
