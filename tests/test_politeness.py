"""Politeness per site: the subdomains of one registrable domain share the ``per_host``
connection slots and the request spacing (hexdocs.pm serves every package from its own
subdomain since June 2026: twenty packages must not mean twenty times the load on one
CDN), while robots.txt is still read per host (RFC 9309).

The concurrency tests go through a real HTTP proxy named in the environment
(``HTTP_PROXY``), as a crawl behind a corporate proxy does: the proxy below answers the
absolute-form requests itself, so any host name can be "crawled" without DNS, and it
records how many requests of each site were in flight together.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from conftest import QuietHandler, start_server, stop_server

from crawler.http import Fetcher, FetchError, FetchSettings, site_of

# --- site_of --------------------------------------------------------------------------------


@pytest.mark.parametrize(("netloc", "site"), [
    ("hexdocs.pm", "hexdocs.pm"),
    ("phoenix.hexdocs.pm", "hexdocs.pm"),
    ("phoenix-live-view.hexdocs.pm", "hexdocs.pm"),
    ("phoenix.hexdocs.pm:443", "hexdocs.pm"),
    ("hex.pm", "hex.pm"),
    ("repo.hex.pm", "hex.pm"),
    ("a.docs.test", "docs.test"),
    ("b.docs.test", "docs.test"),
    ("other.test", "other.test"),
    ("x.y.z.example.com", "example.com"),
    ("Docs.Example.COM", "example.com"),
    ("user@docs.example.com", "example.com"),
    ("a.example.co.uk", "example.co.uk"),
    ("b.example.co.uk", "example.co.uk"),
    ("example.co.uk", "example.co.uk"),
    ("a.example.com.au", "example.com.au"),
    # Private suffixes of the list: each project is its own site.
    ("alice.github.io", "alice.github.io"),
    ("bob.github.io", "bob.github.io"),
])
def test_subdomains_of_one_registrable_domain_are_one_site(netloc, site):
    assert site_of(netloc) == site


@pytest.mark.parametrize("netloc", [
    "127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1", "10.1.2.3:80",
    "[::1]:8000", "[::1]", "[2001:db8::1]:443",
    "localhost", "localhost:8000", "localhost:8001",
])
def test_ip_addresses_and_localhost_are_their_own_site_port_included(netloc):
    assert site_of(netloc) == netloc


def test_two_local_servers_on_two_ports_do_not_share_slots():
    assert site_of("127.0.0.1:8000") != site_of("127.0.0.1:8001")
    assert site_of("localhost:8000") != site_of("localhost:8001")


def test_a_public_suffix_itself_is_not_merged_with_its_registrants():
    assert site_of("co.uk") != site_of("example.co.uk")
    assert site_of("github.io") != site_of("alice.github.io")


# --- a recording proxy ----------------------------------------------------------------------


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Proxy

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        target = urlsplit(self.path)  # absolute form: http://host/path
        proxy = self.server
        host = target.netloc
        if target.path == "/robots.txt":
            with proxy.lock:
                proxy.robots[host] += 1
            return self._send(proxy.robots_txt.get(host, "User-agent: *\nAllow: /\n"),
                              "text/plain")
        if self.path in proxy.redirects:
            with proxy.lock:
                proxy.redirected[self.path] += 1
            self.send_response(301)
            self.send_header("Location", proxy.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        site = host.split(".", 1)[1] if host.count(".") > 1 else host
        with proxy.lock:
            proxy.arrivals.append((host, time.monotonic()))
            proxy.paths.append(self.path)
            proxy.in_flight[site] += 1
            proxy.total += 1
            proxy.max_in_flight[site] = max(proxy.max_in_flight[site], proxy.in_flight[site])
            proxy.max_total = max(proxy.max_total, proxy.total)
        try:
            time.sleep(proxy.pause)
        finally:
            with proxy.lock:
                proxy.in_flight[site] -= 1
                proxy.total -= 1
        self._send(f"<html><body><p>{self.path}</p></body></html>", "text/html")

    def _send(self, text: str, content_type: str) -> None:
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.lock = threading.Lock()
        self.pause = 0.08
        self.robots: Counter[str] = Counter()
        self.redirects: dict[str, str] = {}  # absolute URL: where it redirects (301)
        self.redirected: Counter[str] = Counter()
        self.paths: list[str] = []  # absolute URLs answered 200
        self.robots_txt: dict[str, str] = {}
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.total = self.max_total = 0
        self.arrivals: list[tuple[str, float]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def proxy(monkeypatch) -> Iterator[_Proxy]:
    server = _Proxy()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY",
                 "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    yield server
    server.shutdown()
    server.server_close()


def fetch_all(urls: list[str], **settings) -> list[int]:
    async def go() -> list[int]:
        options = {"attempts": 1, "concurrency": 16, **settings}
        async with Fetcher(FetchSettings(**options)) as fetcher:
            responses = await asyncio.gather(*(fetcher.get(u) for u in urls))
            return [r.status for r in responses]
    return asyncio.run(go())


DOCS_HOSTS = ("a.docs.test", "b.docs.test", "c.docs.test")


def test_the_subdomains_of_a_site_share_per_host_while_another_site_runs_beside(proxy):
    urls = [f"http://{host}/page-{n}.html" for n in range(6) for host in DOCS_HOSTS]
    urls += [f"http://other.test/page-{n}.html" for n in range(6)]

    assert fetch_all(urls, per_host=2) == [200] * len(urls)

    assert proxy.max_in_flight["docs.test"] == 2  # not 2 per subdomain: 6
    assert proxy.max_in_flight["other.test"] == 2
    assert proxy.max_total >= 3  # other.test was not held behind docs.test's slots
    assert len(proxy.arrivals) == len(urls)


def test_robots_txt_is_still_read_once_per_host(proxy):
    urls = [f"http://{host}/page-{n}.html" for n in range(3) for host in DOCS_HOSTS]
    urls += ["http://other.test/page.html"]

    fetch_all(urls, per_host=2)

    assert proxy.robots == {host: 1 for host in [*DOCS_HOSTS, "other.test"]}


def test_robots_txt_of_one_subdomain_rules_that_subdomain_only(proxy):
    proxy.robots_txt["a.docs.test"] = "User-agent: *\nDisallow: /private/\n"

    async def go() -> tuple[bool, bool]:
        async with Fetcher(FetchSettings(attempts=1)) as fetcher:
            return (await fetcher.allowed("http://a.docs.test/private/x.html"),
                    await fetcher.allowed("http://b.docs.test/private/x.html"))

    assert asyncio.run(go()) == (False, True)


def test_a_crawl_delay_of_one_subdomain_spaces_the_requests_to_its_whole_site(proxy):
    proxy.pause = 0.0
    proxy.robots_txt["a.docs.test"] = "User-agent: *\nCrawl-delay: 0.3\n"

    async def go() -> None:
        async with Fetcher(FetchSettings(attempts=1, per_host=4)) as fetcher:
            await fetcher.get("http://a.docs.test/first.html")  # reads a's robots.txt
            await asyncio.gather(*(fetcher.get(f"http://b.docs.test/{n}.html")
                                   for n in range(3)),
                                 *(fetcher.get(f"http://other.test/{n}.html")
                                   for n in range(3)))

    asyncio.run(go())

    def gaps(host: str) -> list[float]:
        times = sorted(t for h, t in proxy.arrivals if h == host)
        return [b - a for a, b in itertools.pairwise(times)]

    def arrivals(host: str) -> list[float]:
        return sorted(t for h, t in proxy.arrivals if h == host)

    assert len(gaps("b.docs.test")) == 2 and min(gaps("b.docs.test")) >= 0.25
    # Another site is not spaced: all of it came while docs.test was still being spaced.
    assert len(arrivals("other.test")) == 3
    assert max(arrivals("other.test")) < arrivals("b.docs.test")[-1]


# --- every redirect hop is checked like the first request -------------------------------------


def get_one(url: str, **options) -> object:
    async def go() -> object:
        async with Fetcher(FetchSettings(attempts=1)) as fetcher:
            try:
                return await fetcher.get(url, **options)
            except FetchError as exc:
                return exc
    return asyncio.run(go())


def test_a_redirect_to_another_host_obeys_that_hosts_robots_txt(proxy):
    proxy.robots_txt["other.test"] = "User-agent: *\nDisallow: /private/\n"
    proxy.redirects["http://a.docs.test/old.html"] = "http://other.test/private/x.html"

    error = get_one("http://a.docs.test/old.html")

    assert isinstance(error, FetchError)
    assert error.message == ("redirected to http://other.test/private/x.html: "
                             "disallowed by robots.txt")
    assert proxy.paths == [] and proxy.robots["other.test"] == 1



def test_a_redirect_to_another_port_obeys_the_robots_txt_of_that_port():
    # Two real servers on 127.0.0.1: another port is another origin, with its own rules.
    asked: list[str] = []

    class Guarded(QuietHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            if self.path == "/robots.txt":
                self.answer(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
            else:
                self.answer(200, b"<p>secret</p>")

    guarded, guarded_base = start_server(Guarded)

    class Redirecting(QuietHandler):
        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                self.answer(404)
            else:
                self.answer(301, headers={"Location": f"{guarded_base}/private/x.html"})

    redirecting, base = start_server(Redirecting)
    try:
        error = get_one(f"{base}/old.html")
    finally:
        stop_server(redirecting)
        stop_server(guarded)

    assert isinstance(error, FetchError)
    assert error.message == (f"redirected to {guarded_base}/private/x.html: "
                             "disallowed by robots.txt")
    assert asked == ["/robots.txt"]

def test_a_redirect_within_a_host_obeys_its_robots_txt(proxy):
    proxy.robots_txt["a.docs.test"] = "User-agent: *\nDisallow: /private/\n"
    proxy.redirects["http://a.docs.test/old.html"] = "/private/y.html"

    error = get_one("http://a.docs.test/old.html")

    assert isinstance(error, FetchError)
    assert error.message == ("redirected to http://a.docs.test/private/y.html: "
                             "disallowed by robots.txt")
    assert proxy.paths == []


def test_a_redirect_outside_the_allowed_hosts_is_not_followed(proxy):
    proxy.redirects["http://a.docs.test/post.html"] = "http://evil.test/x.html"

    error = get_one("http://a.docs.test/post.html", hosts={"a.docs.test"})

    assert isinstance(error, FetchError)
    assert error.message == ("redirected to http://evil.test/x.html, whose host is not "
                             "allowed (allow_hosts)")
    assert proxy.paths == [] and proxy.robots["evil.test"] == 0


def test_an_allowed_redirect_to_a_new_host_is_followed_once_its_robots_txt_is_read(proxy):
    proxy.redirects["http://a.docs.test/old.html"] = "http://b.docs.test/new.html"

    response = get_one("http://a.docs.test/old.html", hosts={"a.docs.test", "b.docs.test"})

    assert getattr(response, "status", None) == 200
    assert response.final_url == "http://b.docs.test/new.html"  # type: ignore[attr-defined]
    assert proxy.paths == ["http://b.docs.test/new.html"]
    assert proxy.robots["b.docs.test"] == 1
    # The attempt stopped at the hop to read b's robots.txt, then asked again.
    assert proxy.redirected["http://a.docs.test/old.html"] == 2
