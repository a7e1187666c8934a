"""``kind: feed``: blog posts from RSS and Atom feeds, as a user reads them in the report.

Each pipeline test serves a tiny site with DocServer, crawls it once for the baseline,
switches the site to its next version and crawls again, then reads the JSON and
Markdown reports. The feeds are in ``tests/fixtures/sources/feed``; ``@BASE@`` there
stands for the test server's address.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler.config import Config, load_config
from crawler.demo.server import DocServer, Fault
from crawler.http import Fetcher, FetchSettings
from crawler.pipeline import RunOutcome, crawl
from crawler.sources.base import CrawlContext, Document, Failure, Result, TargetDone
from crawler.sources.feed import FeedConfig, FeedSource

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "feed"
RSS_PATH, ATOM_PATH = "/blog/feed.xml", "/ember/atom.xml"


# --- helpers -----------------------------------------------------------------------------


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def publish(server: DocServer, files: dict[str, str], **hosts: str) -> None:
    """Write ``files`` (``"v1/blog/feed.xml": text``) under the server's site root."""
    for rel, text in files.items():
        text = text.replace("@BASE@", server.base_url)
        for marker, url in hosts.items():
            text = text.replace(f"@{marker.upper()}@", url)
        target = server.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def rss(*items: str, title: str = "Lantern Notes") -> str:
    """A small RSS 2.0 document around ``items``."""
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{title}</title><link>@BASE@/blog/</link>"
            "<description>Test feed</description>\n" + "\n".join(items)
            + "\n</channel></rss>\n")


def item(guid: str, title: str, link: str, date: str, text: str) -> str:
    return (f'<item><title>{title}</title><link>{link}</link>'
            f'<guid isPermaLink="false">{guid}</guid><pubDate>{date}</pubDate>'
            f"<description>{text}</description></item>")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DocServer]:
    (tmp_path / "site" / "v1").mkdir(parents=True)
    with DocServer(tmp_path / "site", "v1") as srv:
        yield srv


def write_config(folder: Path, sources: str, skills: str = "[]") -> Config:
    path = folder / "sources.yaml"
    path.write_text(f"report:\n  dir: reports\nhttp:\n  attempts: 1\n"
                    f"sources:\n{sources}\nskills: {skills}\n", encoding="utf-8")
    return load_config(path)


@dataclass
class Run:
    outcome: RunOutcome
    data: dict
    markdown: str

    @property
    def posts(self) -> list[dict]:
        return self.data["posts"]

    def post(self, title: str) -> dict:
        found = [p for p in self.posts if p["title"] == title]
        assert len(found) == 1, (title, self.posts)
        return found[0]

    def section(self, heading: str) -> str:
        """The Markdown under ``heading`` up to the next heading of any level."""
        _, found, rest = self.markdown.partition(heading + "\n")
        assert found, f"no {heading!r} in:\n{self.markdown}"
        lines = []
        for line in rest.splitlines():
            if line.startswith("#"):
                break
            lines.append(line)
        return "\n".join(lines)


def run(config: Config, folder: Path, day: int) -> Run:
    outcome = crawl(config, date=dt.date(2024, 3, day),
                    database=f"sqlite:///{folder}/db.sqlite3")
    md_path, json_path = outcome.report_paths[:2]
    assert (md_path.suffix, json_path.suffix) == (".md", ".json")
    return Run(outcome, json.loads(json_path.read_text(encoding="utf-8")),
               md_path.read_text(encoding="utf-8"))


def crawl_feed(url: str) -> list[Result]:
    """Source level: what FeedSource yields for ``url`` with nothing stored yet."""
    async def go() -> list[Result]:
        settings = FetchSettings(attempts=2, backoff=0.01, max_retry_after=5)
        async with Fetcher(settings) as fetcher:
            ctx = CrawlContext(fetcher, validators_for=lambda u: None, has_page=lambda u: False)
            return [r async for r in FeedSource(FeedConfig(name="f", urls=[url])).crawl(ctx)
                    if not isinstance(r, TargetDone)]
    return asyncio.run(go())


# --- RSS 2.0 and Atom 1.0: baseline, then what changed -----------------------------------


@dataclass
class FeedRuns:
    server: DocServer
    baseline: Run
    second: Run


@pytest.fixture(scope="module")
def feed_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeedRuns]:
    """Crawl an RSS and an Atom feed at v1 (baseline), then at v2."""
    folder = tmp_path_factory.mktemp("feeds")
    (folder / "site" / "v1").mkdir(parents=True)
    with DocServer(folder / "site", "v1") as srv:
        publish(srv, {
            f"v1{RSS_PATH}": fixture("lantern-rss-v1.xml"),
            f"v1{ATOM_PATH}": fixture("ember-atom-v1.xml"),
            f"v2{RSS_PATH}": fixture("lantern-rss-v2.xml"),
            f"v2{ATOM_PATH}": fixture("ember-atom-v2.xml"),
        })
        config = write_config(folder, f"""\
  - name: lantern-blog
    kind: feed
    urls: [{srv.url(RSS_PATH)}]
  - name: ember-changelog
    kind: feed
    urls: [{srv.url(ATOM_PATH)}]""")
        baseline = run(config, folder, 1)
        srv.set_version("v2")
        second = run(config, folder, 2)
        yield FeedRuns(srv, baseline, second)


def test_first_run_is_a_baseline_that_lists_no_posts(feed_runs: FeedRuns):
    first = feed_runs.baseline
    assert first.posts == []
    assert first.data["changes"] == []
    assert "### New posts" not in first.markdown
    assert "**lantern-blog**: first crawl, baseline" in first.markdown
    assert "**ember-changelog**: first crawl, baseline" in first.markdown


def test_new_rss_entry_is_listed_with_feed_title_url_and_date(feed_runs: FeedRuns):
    base = feed_runs.server.base_url
    post = feed_runs.second.post("Lantern 3.2 beta: the glow API")
    assert post["feed"] == "Lantern Notes"
    assert post["url"] == f"{base}/blog/lantern-3-2-beta.html"
    assert post["published_at"] == "2024-03-12T08:30:00Z"
    assert post["updated"] is False


def test_new_atom_entry_is_listed_with_feed_title_url_date_and_author(feed_runs: FeedRuns):
    base = feed_runs.server.base_url
    post = feed_runs.second.post("Ember 0.10 released")
    assert post == {"feed": "Ember Changelog", "title": "Ember 0.10 released",
                    "url": f"{base}/ember/changelog/0.10.html",
                    "published_at": "2024-03-14T16:00:00Z", "author": "Noor",
                    "updated": False}


def test_new_posts_are_listed_under_new_posts_in_the_markdown(feed_runs: FeedRuns):
    base = feed_runs.server.base_url
    section = feed_runs.second.section("### New posts")
    assert (f"- [Lantern 3.2 beta: the glow API](<{base}/blog/lantern-3-2-beta.html>): "
            "Lantern Notes, 2024-03-12") in section
    assert (f"- [Ember 0.10 released](<{base}/ember/changelog/0.10.html>): "
            "Ember Changelog, by Noor, 2024-03-14") in section
    assert "> Bellows support and a new draft/2 function." in section
    # Newest first.
    assert section.index("Ember 0.10") < section.index("Lantern 3.2 beta")


def test_entry_whose_link_moved_but_id_stayed_is_not_a_new_post(feed_runs: FeedRuns):
    titles = [p["title"] for p in feed_runs.second.posts]
    assert "Lantern 3.1 is out" not in titles  # RSS guid unchanged, link moved
    assert "Ember 0.9 released" not in titles  # Atom id unchanged, link moved
    assert "Lantern 3.1 is out" not in feed_runs.second.markdown
    assert "Ember 0.9 released" not in feed_runs.second.markdown


def test_entry_without_guid_is_known_by_its_link(feed_runs: FeedRuns):
    # Same link, amended title and text: the same post, updated; not a second one.
    february = feed_runs.second.post("Community call: February (recording posted)")
    assert february["updated"] is True
    # A new link without a guid is a new post.
    assert feed_runs.second.post("Community call: March")["updated"] is False


def test_entry_whose_text_changed_is_reported_as_updated(feed_runs: FeedRuns):
    base = feed_runs.server.base_url
    post = feed_runs.second.post("Why we rewrote the flame scheduler")
    assert post["updated"] is True
    assert post["url"] == f"{base}/blog/flame-scheduler.html"
    section = feed_runs.second.section("### New posts")
    assert (f"- [Why we rewrote the flame scheduler](<{base}/blog/flame-scheduler.html>) "
            "(updated): Lantern Notes") in section


def test_exactly_the_new_and_updated_entries_are_listed(feed_runs: FeedRuns):
    listed = {(p["title"], p["updated"]) for p in feed_runs.second.posts}
    assert listed == {
        ("Lantern 3.2 beta: the glow API", False),
        ("Community call: March", False),
        ("Ember 0.10 released", False),
        ("Why we rewrote the flame scheduler", True),
        ("Community call: February (recording posted)", True),
    }


def test_entry_that_dropped_off_the_feed_is_not_removed(feed_runs: FeedRuns):
    second = feed_runs.second
    assert [c for c in second.data["changes"] if c["change"] == "removed"] == []
    assert "Lantern 3.0 migration notes" not in second.markdown
    assert second.data["errors"] == []


# --- conditional requests ------------------------------------------------------------------


def test_unchanged_feed_is_asked_for_conditionally_and_answers_304(server: DocServer,
                                                                     tmp_path: Path):
    publish(server, {f"v1{RSS_PATH}": fixture("lantern-rss-v1.xml")})
    config = write_config(tmp_path, f"""\
  - name: lantern-blog
    kind: feed
    urls: [{server.url(RSS_PATH)}]""")
    run(config, tmp_path, 1)
    assert server.log.conditional(RSS_PATH) == 0

    second = run(config, tmp_path, 2)

    assert server.log.count(RSS_PATH) == 2
    assert server.log.conditional(RSS_PATH) == 1
    assert server.log.not_modified(RSS_PATH) == 1
    assert second.posts == []
    assert second.data["errors"] == []
    assert second.data["sources"][0]["not_modified"] == 1


# --- broken feeds --------------------------------------------------------------------------

HTML_ERROR_PAGE = ("<!DOCTYPE html><html><head><title>Maintenance</title></head><body>"
                   "<h1>We will be right back</h1><p>The blog is being upgraded.</p>"
                   "</body></html>")

OLD_ITEMS = [
    item("note-2", "Second note", "@BASE@/blog/second.html", "Sat, 02 Mar 2024 10:00:00 GMT",
         "Wicks come in three sizes now."),
    item("note-1", "First note", "@BASE@/blog/first.html", "Fri, 01 Mar 2024 10:00:00 GMT",
         "Hello from the lantern team."),
]
NEW_ITEM = item("note-3", "Third note", "@BASE@/blog/third.html",
                "Mon, 04 Mar 2024 10:00:00 GMT", "The glow API is stable.")


def test_truncated_feed_yields_a_failure_and_no_posts(server: DocServer):
    whole = rss(NEW_ITEM, *OLD_ITEMS)
    publish(server, {f"v1{RSS_PATH}": whole[: len(whole) // 2]})

    results = crawl_feed(server.url(RSS_PATH))

    assert [type(r) for r in results] == [Failure]
    assert results[0].url == server.url(RSS_PATH)
    assert "does not parse" in results[0].error
    assert results[0].page is False  # a feed is not a page checked


def test_html_page_served_as_200_is_not_a_feed(server: DocServer):
    publish(server, {f"v1{RSS_PATH}": rss(*OLD_ITEMS)})
    server.set_fault(RSS_PATH, Fault(kind="body", body=HTML_ERROR_PAGE,
                                     content_type="text/html; charset=utf-8"))

    results = crawl_feed(server.url(RSS_PATH))

    assert [type(r) for r in results] == [Failure]
    assert results[0].error == "not an RSS or Atom feed (a text/html document)"


def test_feed_served_as_application_rss_xml_is_read(server: DocServer):
    server.set_fault(RSS_PATH, Fault(kind="body", body=rss(*OLD_ITEMS).replace(
        "@BASE@", server.base_url), content_type="application/rss+xml"))

    results = crawl_feed(server.url(RSS_PATH))

    posts = [r for r in results if isinstance(r, Document) and r.item == "post"]
    assert [p.title for p in posts] == ["Second note", "First note"]
    assert [p.meta["link"] for p in posts] == [server.url("/blog/second.html"),
                                               server.url("/blog/first.html")]


def test_broken_feed_is_a_fetch_problem_and_the_next_good_run_lists_only_new_entries(
        server: DocServer, tmp_path: Path):
    whole_v4 = rss(NEW_ITEM, OLD_ITEMS[0])  # "First note" dropped off, "Third note" is new
    publish(server, {
        f"v1{RSS_PATH}": rss(*OLD_ITEMS),
        f"v1{ATOM_PATH}": fixture("ember-atom-v1.xml"),
        f"v2{RSS_PATH}": whole_v4[: len(whole_v4) // 2],  # cut in the middle of an item
        f"v2{ATOM_PATH}": fixture("ember-atom-v1.xml"),
        f"v4{RSS_PATH}": whole_v4,
        f"v4{ATOM_PATH}": fixture("ember-atom-v1.xml"),
    })
    config = write_config(tmp_path, f"""\
  - name: lantern-blog
    kind: feed
    urls: [{server.url(RSS_PATH)}]
  - name: ember-changelog
    kind: feed
    urls: [{server.url(ATOM_PATH)}]""")
    feed_url = server.url(RSS_PATH)
    run(config, tmp_path, 1)

    # Run 2: the feed is cut off in the middle.
    server.set_version("v2")
    truncated = run(config, tmp_path, 2)
    assert [(e["url"], e["source"]) for e in truncated.data["errors"]] == [
        (feed_url, "lantern-blog")]
    assert "does not parse" in truncated.data["errors"][0]["error"]
    assert truncated.outcome.errors == 1
    assert not truncated.outcome.all_failed  # the Atom feed was fine
    assert truncated.posts == []
    assert truncated.data["changes"] == []
    assert f"- [{feed_url}](<{feed_url}>) (lantern-blog): feed does not parse" in \
        truncated.section("## Fetch problems")

    # Run 3: an HTML maintenance page answered with 200.
    server.set_fault(RSS_PATH, Fault(kind="body", body=HTML_ERROR_PAGE, times=1))
    html_page = run(config, tmp_path, 3)
    assert [e["error"] for e in html_page.data["errors"]] == [
        "not an RSS or Atom feed (a text/html document)"]
    assert not html_page.outcome.all_failed
    assert html_page.posts == []
    assert html_page.data["changes"] == []

    # Run 4: the feed is whole again.
    server.set_version("v4")
    good = run(config, tmp_path, 4)
    assert good.data["errors"] == []
    assert [(p["title"], p["updated"]) for p in good.posts] == [("Third note", False)]
    assert [c["change"] for c in good.data["changes"]] == ["added"]
    assert "First note" not in good.markdown


def test_broken_feed_as_the_only_source_is_an_all_failed_run(server: DocServer,
                                                              tmp_path: Path):
    whole = rss(*OLD_ITEMS)
    publish(server, {f"v1{RSS_PATH}": whole[: len(whole) // 2]})
    config = write_config(tmp_path, f"""\
  - name: lantern-blog
    kind: feed
    urls: [{server.url(RSS_PATH)}]""")

    only = run(config, tmp_path, 1)

    assert only.outcome.all_failed
    assert len(only.data["errors"]) == 1


# --- fetch_entries and allow_hosts ---------------------------------------------------------


def article(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
            f"<nav>Blog home · Archive</nav><article><h1>{title}</h1><p>{body}</p></article>"
            "<footer>© Lantern</footer></body></html>")


@pytest.fixture
def other_host(tmp_path: Path) -> Iterator[DocServer]:
    """A second server, reached as ``localhost`` while the feed is on ``127.0.0.1``."""
    (tmp_path / "other" / "v1" / "posts").mkdir(parents=True)
    (tmp_path / "other" / "v1" / "posts" / "wicks.html").write_text(
        article("Wicks, elsewhere", "A guest writes about the glowworm pattern."),
        encoding="utf-8")
    with DocServer(tmp_path / "other", "v1") as srv:
        yield srv


def crawl_with_articles(server: DocServer, other_host: DocServer, tmp_path: Path,
                        allow_hosts: str) -> Run:
    other = f"http://localhost:{other_host.port}"
    old = item("old", "Old news", "@BASE@/blog/old.html", "Fri, 01 Mar 2024 10:00:00 GMT",
               "Nothing to see.")
    glow = item("glow", "Glow API deep dive", "@BASE@/blog/glow.html",
                "Tue, 05 Mar 2024 10:00:00 GMT", "A tour of the new API.")
    guest = item("guest", "Guest post: wicks", "@OTHER@/posts/wicks.html",
                 "Wed, 06 Mar 2024 10:00:00 GMT", "A guest post on another site.")
    publish(server, {
        f"v1{RSS_PATH}": rss(old),
        "v1/blog/old.html": article("Old news", "Nothing to see."),
        f"v2{RSS_PATH}": rss(guest, glow, old),
        "v2/blog/old.html": article("Old news", "Nothing to see."),
        "v2/blog/glow.html": article("Glow API deep dive",
                                     "Under the hood it is the glowworm pattern."),
    }, other=other)
    config = write_config(tmp_path, f"""\
  - name: lantern-blog
    kind: feed
    fetch_entries: true
    allow_hosts: {allow_hosts}
    urls: [{server.url(RSS_PATH)}]""",
                          skills="[{name: lantern-glow, keywords: [glowworm]}]")
    run(config, tmp_path, 1)
    server.set_version("v2")
    return run(config, tmp_path, 2)


def reasons(report: Run, skill: str) -> list[dict]:
    return next((s["reasons"] for s in report.data["skills"] if s["name"] == skill), [])


def test_fetch_entries_reads_new_articles_on_the_feed_host_only(
        server: DocServer, other_host: DocServer, tmp_path: Path):
    second = crawl_with_articles(server, other_host, tmp_path, allow_hosts="[]")

    other_url = f"http://localhost:{other_host.port}/posts/wicks.html"
    # The keyword is only in the article body, so the skill is flagged from the article.
    assert [(r["url"], r["why"]) for r in reasons(second, "lantern-glow")] == [
        (server.url("/blog/glow.html"), "mentions glowworm")]
    # The entry on another host is listed, but its page is never requested.
    assert second.post("Guest post: wicks")["url"] == other_url
    assert other_host.log.count() == 0
    # Articles are fetched once, for entries the store does not know yet.
    assert server.log.count("/blog/glow.html") == 1
    assert server.log.count("/blog/old.html") == 1


def test_allow_hosts_lets_articles_on_another_host_be_fetched(
        server: DocServer, other_host: DocServer, tmp_path: Path):
    second = crawl_with_articles(server, other_host, tmp_path, allow_hosts="[localhost]")

    other_url = f"http://localhost:{other_host.port}/posts/wicks.html"
    assert other_host.log.count("/posts/wicks.html") == 1
    assert {r["url"] for r in reasons(second, "lantern-glow")} == {
        server.url("/blog/glow.html"), other_url}



def test_an_article_redirected_outside_the_allowed_hosts_is_not_fetched(
        server: DocServer, other_host: DocServer, tmp_path: Path):
    # The feed's own link to the article answers 301 to the other host, which the feed may
    # not fetch from (allow_hosts: []): the hop is refused like a direct link would be.
    server.set_fault("/blog/glow.html", Fault(
        kind="redirect", status=301,
        location=f"http://localhost:{other_host.port}/posts/wicks.html"))

    second = crawl_with_articles(server, other_host, tmp_path, allow_hosts="[]")

    assert second.post("Glow API deep dive")["url"] == server.url("/blog/glow.html")
    assert other_host.log.count() == 0
    # The guest article's words ("glowworm") never reached the report.
    assert reasons(second, "lantern-glow") == []

# --- max_entries_per_run: a big feed's articles, a few per run ------------------------------

BIG_FEED_ENTRIES = 500
ARTICLES = "/blog/posts/"


def numbered_item(number: int) -> str:
    """Entry ``number`` of the big feed: a higher number is a newer post (one a day)."""
    day = dt.datetime(2020, 1, 1, 10, tzinfo=dt.UTC) + dt.timedelta(days=number)
    return item(f"post-{number}", f"Post {number}", f"@BASE@{ARTICLES}{number}.html",
                day.strftime("%a, %d %b %Y %H:%M:%S GMT"), f"Summary of post {number}.")


def articles_asked(server: DocServer) -> list[int]:
    """The numbers of the articles asked for since the log was last reset, sorted."""
    return sorted(int(e.path.removeprefix(ARTICLES).removesuffix(".html"))
                  for e in server.log.entries if e.path.startswith(ARTICLES))


def test_a_big_feed_fetches_the_newest_articles_once_and_then_only_new_ones(
        server: DocServer, tmp_path: Path, caplog: pytest.LogCaptureFixture):
    files = {}
    # v2: three new posts; v3: a busy day of 25 more, past the cap of 20.
    for version, entries in (("v1", BIG_FEED_ENTRIES), ("v2", BIG_FEED_ENTRIES + 3),
                             ("v3", BIG_FEED_ENTRIES + 28)):
        # Oldest first in the file: the newest are picked by date, not by position.
        files[f"{version}{RSS_PATH}"] = rss(*map(numbered_item, range(entries)))
        files.update({f"{version}{ARTICLES}{n}.html": article(f"Post {n}", f"Body {n}.")
                      for n in range(entries)})
    publish(server, files)
    config = write_config(tmp_path, f"""\
  - name: big-blog
    kind: feed
    fetch_entries: true
    urls: [{server.url(RSS_PATH)}]""")
    newest = BIG_FEED_ENTRIES - 1

    baseline = run(config, tmp_path, 1)
    # The first crawl records every entry but asks for the newest 20 articles only: the
    # back catalogue is nobody's news, and is never fetched.
    assert articles_asked(server) == list(range(newest - 19, newest + 1))
    assert baseline.data["sources"][0]["pages_checked"] == BIG_FEED_ENTRIES + 1  # + the feed

    server.set_version("v2")  # three new posts
    server.reset_log()
    second = run(config, tmp_path, 2)
    assert articles_asked(server) == [newest + 1, newest + 2, newest + 3]
    assert sorted(p["title"] for p in second.posts) == [
        f"Post {n}" for n in range(newest + 1, newest + 4)]

    server.reset_log()
    run(config, tmp_path, 3)  # the feed did not change
    assert server.log.conditional(RSS_PATH) == 1 and articles_asked(server) == []

    server.set_version("v3")
    server.reset_log()
    with caplog.at_level("INFO", logger="crawler.sources.feed"):
        busy = run(config, tmp_path, 4)
    # The 20 newest of the 25 new posts now, the other 5 on the next run.
    assert articles_asked(server) == list(range(newest + 9, newest + 29))
    assert "5 articles deferred to later runs" in caplog.text
    assert len(busy.posts) == 25
    server.reset_log()
    run(config, tmp_path, 5)
    assert server.log.conditional(RSS_PATH) == 0  # asked in full while articles wait
    assert articles_asked(server) == list(range(newest + 4, newest + 9))
    server.reset_log()
    run(config, tmp_path, 6)
    assert server.log.conditional(RSS_PATH) == 1 and articles_asked(server) == []
