"""``kind: exdoc``: when ExDoc's own index cannot be read, the fallbacks it leaves.

The sites are copies of the bundled demo site (``crawler/demo/site``) altered the way
real builds go wrong or differ: a truncated or old-format ``sidebar_items`` file, an
``llms.txt`` whose extras section has another name or lists an external link, a
``.md`` twin answered as a login page. All are served over HTTP by ``DocServer``.
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
from crawler.sources.base import CrawlContext, Document, Failure, Listing, Result
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
            return [r async for r in source.crawl(ctx)]
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
