"""The shared HTTP client against local servers that really misbehave: faults, connections
the server closes, TLS, HTTP/2, proxies named in the environment."""

from __future__ import annotations

import asyncio
import email.utils
import errno
import itertools
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest

from crawler.demo.server import DocServer, Fault
from crawler.http import (
    ConnectionFailed,
    Fetcher,
    FetchError,
    FetchSettings,
    FetchStats,
    Validators,
    decode_body,
    describe_connection_error,
    parse_rate_limit_reset,
)

PAGE = "/lumen/overview.html"


@pytest.fixture
def server():
    with DocServer(version="v1") as s:
        yield s


def fetch_with_stats(url: str, **settings) -> tuple[object, FetchStats]:
    """GET url with a fast-retrying Fetcher; the Response or the FetchError, and the
    run's :class:`FetchStats`."""
    stats = FetchStats()
    defaults = {"attempts": 3, "backoff": 0.01, "timeout": 2.0, "max_retry_after": 5}

    async def go():
        async with Fetcher(FetchSettings(**{**defaults, **settings}), stats) as fetcher:
            try:
                return await fetcher.get(url)
            except FetchError as exc:
                return exc

    return asyncio.run(go()), stats


def fetch(url: str, **settings) -> object:
    """GET url with a fast-retrying Fetcher; return the Response or the FetchError."""
    return fetch_with_stats(url, **settings)[0]


def test_a_good_page_comes_back_with_its_validators(server):
    response = fetch(server.url(PAGE))
    assert response.status == 200 and b"top-content" in response.content
    assert response.validators.etag and response.validators.last_modified


def test_conditional_request_gets_304(server):
    first = fetch(server.url(PAGE))

    async def again():
        async with Fetcher(FetchSettings()) as fetcher:
            return await fetcher.get(server.url(PAGE), first.validators)

    assert asyncio.run(again()).not_modified
    assert server.log.not_modified(PAGE) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_transient_statuses_are_retried_then_succeed(server, status):
    server.set_fault(PAGE, Fault(kind="status", status=status, times=2))
    response = fetch(server.url(PAGE))
    assert response.status == 200 and response.attempts == 3
    assert server.log.statuses(PAGE) == [status, status, 200]


def test_persistent_500_fails_after_the_bounded_attempts(server):
    server.set_fault(PAGE, Fault(kind="status", status=500))
    error = fetch(server.url(PAGE))
    assert isinstance(error, FetchError)
    assert (error.message, error.attempts, error.status) == ("HTTP 500", 3, 500)
    assert server.log.count(PAGE) == 3


def test_404_is_not_retried(server):
    error = fetch(server.url("/lumen/nope.html"))
    assert isinstance(error, FetchError) and error.status == 404 and error.attempts == 1


def test_retry_after_seconds_is_honoured(server):
    server.set_fault(PAGE, Fault(kind="status", status=429, retry_after=1, times=1))
    response = fetch(server.url(PAGE))
    assert response.status == 200 and response.attempts == 2
    arrivals = server.log.arrivals(PAGE)
    assert arrivals[1] - arrivals[0] >= 1.0


def test_retry_after_http_date_is_honoured(server):
    when = int(time.time()) + 2  # the date has one-second resolution
    retry_after = email.utils.formatdate(when, usegmt=True)
    server.set_fault(PAGE, Fault(kind="status", status=503, retry_after=retry_after, times=1))
    response = fetch(server.url(PAGE))
    assert response.status == 200 and response.attempts == 2
    _, retried = server.log.arrivals(PAGE)
    unix = time.time() - time.monotonic()  # the log's clock to unix time
    assert retried + unix >= when - 0.05  # the retry came at the date, not before


def test_retry_after_beyond_the_cap_gives_up_instead_of_stalling(server):
    server.set_fault(PAGE, Fault(kind="status", status=503, retry_after=120))
    error, stats = fetch_with_stats(server.url(PAGE), max_retry_after=5)
    assert isinstance(error, FetchError)
    assert error.message == "HTTP 503 (Retry-After 120s exceeds the 5s cap)"
    # Given up at once: one request, no retry (so no wait) scheduled.
    assert error.attempts == 1 and stats.retries == 0 and server.log.count(PAGE) == 1


def rate_limited(reset: float) -> Fault:
    """hex.pm's API over its limit: 429 with x-ratelimit-* headers and no Retry-After."""
    return Fault(kind="status", status=429, times=1, body='{"message": "API rate limit exceeded"}',
                 content_type="application/json",
                 headers={"x-ratelimit-limit": "100", "x-ratelimit-remaining": "0",
                          "x-ratelimit-reset": str(int(reset))})


@pytest.mark.parametrize(("value", "expected"), [
    ("1700000030", 30.0), (" 1700000030 ", 30.0), ("1700000000.5", 0.5),
    ("1699999990", 0.0),  # already past: no wait
    (None, None), ("", None), ("soon", None), ("-5", None), ("nan", None), ("1e9", None),
])
def test_rate_limit_reset_is_seconds_until_that_unix_time(value, expected):
    assert parse_rate_limit_reset(value, now=1_700_000_000.0) == expected


def test_rate_limit_reset_without_retry_after_is_waited_for(server):
    # Two seconds ahead, whole seconds: at least one second of real wait.
    reset = int(time.time()) + 2
    server.set_fault(PAGE, rate_limited(reset))
    response = fetch(server.url(PAGE))
    assert response.status == 200 and response.attempts == 2
    assert server.log.statuses(PAGE) == [429, 200]
    _, retried = server.log.arrivals(PAGE)
    unix = time.time() - time.monotonic()  # the log's clock to unix time
    assert retried + unix >= reset - 0.05  # the retry came once the limit had reset


def test_retry_after_wins_over_rate_limit_reset(server):
    fault = rate_limited(time.time() + 120)
    fault.retry_after = 1
    server.set_fault(PAGE, fault)
    response = fetch(server.url(PAGE), max_retry_after=5)
    assert response.status == 200 and server.log.statuses(PAGE) == [429, 200]


def test_rate_limit_reset_beyond_the_cap_gives_up_instead_of_stalling(server):
    server.set_fault(PAGE, rate_limited(time.time() + 600))
    error, stats = fetch_with_stats(server.url(PAGE), max_retry_after=5)
    assert isinstance(error, FetchError) and error.status == 429
    assert error.message.startswith("HTTP 429 (x-ratelimit-reset ")
    assert error.message.endswith("s exceeds the 5s cap)")
    assert error.attempts == 1 and stats.retries == 0 and server.log.count(PAGE) == 1


def test_connection_reset_mid_body_is_retried_and_reported(server):
    server.set_fault(PAGE, Fault(kind="reset"))
    error = fetch(server.url(PAGE), attempts=2)
    assert isinstance(error, ConnectionFailed) and error.attempts == 2
    assert error.message == f"connection reset by 127.0.0.1:{server.port}"


def test_a_hanging_server_cannot_stall_beyond_the_timeout(server):
    server.set_fault(PAGE, Fault(kind="hang", seconds=10))
    error = fetch(server.url(PAGE), timeout=1.0, attempts=2, respect_robots=False)
    assert isinstance(error, ConnectionFailed) and error.message == "timed out after 1s"
    # The server's thread may log the second request a moment after the fetcher gave up.
    deadline = time.monotonic() + 5
    while server.log.count(PAGE) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert error.attempts == 2 and server.log.count(PAGE) == 2
    # The second attempt arrived while the server still sat on the first: the fetcher
    # gave up on it at its timeout, not when the server let go.
    assert server.log.max_inflight_per_host == 2


def test_redirect_loop_is_an_error(server):
    server.set_fault("/a.html", Fault(kind="redirect", status=302, location="/b.html"))
    server.set_fault("/b.html", Fault(kind="redirect", status=302, location="/a.html"))
    error = fetch(server.url("/a.html"))
    assert isinstance(error, FetchError) and "redirect loop" in error.message


def test_permanent_redirect_is_followed_and_flagged(server):
    server.set_fault("/old.html", Fault(kind="redirect", status=301, location=PAGE))
    response = fetch(server.url("/old.html"))
    assert response.status == 200 and response.moved_permanently
    assert response.final_url == server.url(PAGE)


def test_oversize_body_is_refused(server):
    big = b"<html><body>" + b"x" * 300_000 + b"</body></html>"
    server.set_fault(PAGE, Fault(kind="body", body=big, content_type="text/html"))
    error = fetch(server.url(PAGE), max_bytes=100_000)
    assert isinstance(error, FetchError) and "too large" in error.message


def test_gzip_bomb_is_refused_after_decompression(server):
    bomb = b"<html><body>" + b"\0" * 20_000_000 + b"</body></html>"  # ~20 KB gzipped
    server.set_fault(PAGE, Fault(kind="body", body=bomb, content_type="text/html"))
    error = fetch(server.url(PAGE), max_bytes=1_000_000)
    assert isinstance(error, FetchError) and "after decompression" in error.message


def test_per_host_concurrency_holds_under_retries(server):
    server.set_fault("*", Fault(kind="delay", seconds=0.05))
    server.set_fault("/flaky.html", Fault(kind="status", status=503, times=4))

    async def go():
        async with Fetcher(FetchSettings(per_host=2, concurrency=16, backoff=0.01)) as f:
            urls = [server.url(PAGE)] * 12 + [server.url("/flaky.html")] * 2
            return await asyncio.gather(*(f.get(u) for u in urls), return_exceptions=True)

    asyncio.run(go())
    assert server.log.max_inflight_per_host <= 2


def test_per_host_delay_spaces_requests(server):
    async def go():
        async with Fetcher(FetchSettings(delay=0.2)) as f:
            await asyncio.gather(*(f.get(server.url(PAGE)) for _ in range(4)))

    asyncio.run(go())
    arrivals = sorted(server.log.arrivals(PAGE))
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.15


def test_robots_txt_is_obeyed(server):
    # The demo site's robots.txt disallows /private/.
    async def go():
        async with Fetcher(FetchSettings()) as fetcher:
            with pytest.raises(FetchError, match=r"disallowed by robots\.txt"):
                await fetcher.get(server.url("/private/notes.html"))
            return await asyncio.gather(*(fetcher.get(server.url(PAGE)) for _ in range(3)))

    assert [r.status for r in asyncio.run(go())] == [200, 200, 200]
    assert server.log.count("/private/notes.html") == 0
    assert server.log.count("/robots.txt") == 1  # fetched once per host, then cached


def test_robots_can_be_switched_off(server):
    response = fetch(server.url("/private/notes.html"), respect_robots=False)
    assert response.status == 200


def test_robots_server_error_means_disallow_all(server):
    server.set_fault("/robots.txt", Fault(kind="status", status=500))
    error = fetch(server.url(PAGE), attempts=1)
    assert isinstance(error, FetchError) and not isinstance(error, ConnectionFailed)
    assert error.message == (f"robots.txt of 127.0.0.1:{server.port} answered HTTP 500: "
                             "not crawling that host (RFC 9309)")
    assert server.log.count(PAGE) == 0


def test_robots_503_after_retries_names_the_status_for_every_page(server):
    server.set_fault("/robots.txt", Fault(kind="status", status=503))

    async def go():
        settings = FetchSettings(attempts=2, backoff=0.01)
        async with Fetcher(settings) as fetcher:
            urls = [server.url(PAGE), server.url("/lumen/routing.html")]
            return await asyncio.gather(*(fetcher.get(u) for u in urls), return_exceptions=True)

    errors = asyncio.run(go())
    assert {e.message for e in errors} == {
        f"robots.txt of 127.0.0.1:{server.port} answered HTTP 503: not crawling that host "
        "(RFC 9309)"}
    assert server.log.count("/robots.txt") == 2 and server.log.count(PAGE) == 0


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on (the socket is closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Names under .invalid never resolve (RFC 2606): a DNS failure without any network.
@pytest.mark.parametrize("robots", [True, False])
def test_a_host_that_does_not_resolve_says_so(robots):
    error = fetch("http://docs.example.invalid/guide.html", respect_robots=robots)
    assert isinstance(error, ConnectionFailed)
    assert error.message == "could not resolve host docs.example.invalid"
    assert error.attempts == 3  # of robots.txt (then no page is tried), or of the page


@pytest.mark.parametrize("robots", [True, False])
def test_a_refused_connection_says_so(robots):
    port = free_port()
    error = fetch(f"http://127.0.0.1:{port}/guide.html", respect_robots=robots)
    assert isinstance(error, ConnectionFailed)
    assert error.message == f"connection refused by 127.0.0.1:{port}"


def test_every_page_of_an_unreachable_host_gets_the_connection_problem():
    async def go():
        async with Fetcher(FetchSettings(attempts=2, backoff=0.01)) as fetcher:
            urls = [f"http://docs.example.invalid/{n}.html" for n in range(3)]
            errors = await asyncio.gather(*(fetcher.get(u) for u in urls),
                                          return_exceptions=True)
            return errors, await fetcher.allowed(urls[0]), fetcher.stats.requests

    errors, allowed, requests = asyncio.run(go())
    assert [e.message for e in errors] == ["could not resolve host docs.example.invalid"] * 3
    assert not allowed  # RFC 9309: an unreachable robots.txt means complete disallow
    assert requests == 2  # robots.txt once per host (two attempts), no page tried


def test_a_robots_txt_that_times_out_is_a_timeout_not_a_disallow(server):
    server.set_fault("/robots.txt", Fault(kind="hang", seconds=5))
    error = fetch(server.url(PAGE), timeout=0.3, attempts=1)
    assert isinstance(error, ConnectionFailed) and error.message == "timed out after 0.3s"
    assert server.log.count(PAGE) == 0


def test_a_redirect_to_a_host_that_does_not_resolve_names_that_host(server):
    server.set_fault("/old.html", Fault(kind="redirect", status=301,
                                        location="http://moved.example.invalid/new.html"))
    error = fetch(server.url("/old.html"), attempts=1)
    assert isinstance(error, ConnectionFailed)
    assert error.message == "could not resolve host moved.example.invalid"


def test_user_agent_is_descriptive(server):
    fetch(server.url(PAGE), user_agent="docwatch-test/1.0 (+https://example.invalid)")
    agents = {e.headers.get("User-Agent") for e in server.log.requests(PAGE)}
    assert agents == {"docwatch-test/1.0 (+https://example.invalid)"}


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    ("café".encode("latin-1"), "text/html; charset=iso-8859-1", "café"),
    ("café".encode(), "text/html", "café"),
    ('<meta charset="windows-1252"><p>caf\xe9</p>'.encode("cp1252"), "text/html",
     "<p>café</p>"),
    ("caf\xe9".encode("cp1252"), "text/html", "café"),  # mislabelled: detected
])
def test_bodies_are_decoded_by_declared_charset_then_detection(body, content_type, expected):
    assert expected in decode_body(body, content_type)


def test_validators_make_conditional_headers():
    assert Validators('"abc"', "Mon, 01 Jan 2024 00:00:00 GMT").headers() == {
        "If-None-Match": '"abc"', "If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}
    assert Validators().headers() == {}


# --- connections: keep-alive, servers that close, TLS, HTTP/2 ---------------------------------


class _PlainHandler(BaseHTTPRequestHandler):
    """``hello from PATH`` with an ETag (304 to a matching If-None-Match); the path is the
    request target as sent, so a request through a proxy shows its absolute form."""

    protocol_version = "HTTP/1.1"
    server: _PlainServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def handle(self) -> None:
        # BaseHTTPRequestHandler.handle, plus a keep-alive limit: a connection idle for
        # `idle_408` seconds is answered 408 and closed, as nginx or a CDN does.
        self.close_connection = True
        self.handle_one_request()
        idle = self.server.idle_408
        while not self.close_connection:
            if idle is not None and not select.select([self.connection], [], [], idle)[0]:
                self.send_response(408)
                self.send_header("Connection", "close")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.handle_one_request()

    def do_GET(self) -> None:
        server = self.server
        with server.lock:
            server.requests.append((self.path, self.request_version))
        body = f"hello from {self.path}".encode()
        etag = f'"{len(body)}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)
        if server.close_after_reply:
            # No "Connection: close" header: the client learns it only from the socket.
            self.close_connection = True

    def log_message(self, *_args: object) -> None:
        pass


class _PlainServer(ThreadingHTTPServer):
    """A small HTTP/1.1 server (TLS with `context`) that records the requests and
    connections it gets and sets `closed` each time it closes a connection."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext | None = None, close_after_reply: bool = False,
                 idle_408: float | None = None):
        super().__init__(("127.0.0.1", 0), _PlainHandler)
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.lock = threading.Lock()
        self.close_after_reply = close_after_reply
        self.idle_408 = idle_408
        self.connections = 0
        self.requests: list[tuple[str, str]] = []  # (target, HTTP version)
        self.closed = threading.Event()
        self.base = f"{'https' if context else 'http'}://127.0.0.1:{self.server_address[1]}"

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed.set()

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]

    def __enter__(self) -> _PlainServer:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture
def plain() -> Iterator[_PlainServer]:
    with _PlainServer() as server:
        yield server


def fetch_pages(urls: list[str], between: Callable[[], object] | None = None,
                **settings: Any) -> list[object]:
    """GET each URL in turn through one Fetcher (calling `between` in a thread between
    two pages); the Responses or FetchErrors."""
    options = {"attempts": 3, "backoff": 0.01, "timeout": 5.0, "respect_robots": False,
               **settings}

    async def go() -> list[object]:
        out: list[object] = []
        async with Fetcher(FetchSettings(**options)) as fetcher:
            for n, url in enumerate(urls):
                if n and between is not None:
                    await asyncio.to_thread(between)
                try:
                    out.append(await fetcher.get(url))
                except FetchError as exc:
                    out.append(exc)
        return out

    return asyncio.run(go())


def test_pages_of_one_host_share_a_keep_alive_connection(plain):
    responses = fetch_pages([f"{plain.base}/a", f"{plain.base}/b"])
    assert [r.text for r in responses] == ["hello from /a", "hello from /b"]
    assert plain.connections == 1


def test_fetch_stats_count_requests_304s_and_body_bytes_exactly(plain):
    first = fetch(f"{plain.base}/page", respect_robots=False)
    stats = FetchStats()

    async def go() -> list[int]:
        settings = FetchSettings(attempts=1, respect_robots=False)
        async with Fetcher(settings, stats) as fetcher:
            fresh = await fetcher.get(f"{plain.base}/page")
            again = [await fetcher.get(f"{plain.base}/page", first.validators)
                     for _ in range(2)]
            return [r.status for r in (fresh, *again)]

    assert asyncio.run(go()) == [200, 304, 304]
    assert (stats.requests, stats.not_modified, stats.retries) == (3, 2, 0)
    assert stats.bytes_received == len(b"hello from /page")
    assert stats.statuses == {200: 1, 304: 2}


def _wait_for_the_server_to_close(server: _PlainServer) -> Callable[[], None]:
    def wait() -> None:
        assert server.closed.wait(10), "the server did not close the connection"
        server.closed.clear()

    return wait


def test_a_connection_the_server_closed_is_not_reused():
    with _PlainServer(close_after_reply=True) as server:
        responses = fetch_pages([f"{server.base}/one", f"{server.base}/two"],
                                between=_wait_for_the_server_to_close(server))
    assert [(r.status, r.attempts) for r in responses] == [(200, 1), (200, 1)]
    assert server.connections == 2 and server.paths() == ["/one", "/two"]


def test_an_idle_connection_the_server_answered_408_and_closed_is_not_reused():
    # The 408 sits unread on the idle connection: the next page must open a new one,
    # not take that 408 as its answer.
    with _PlainServer(idle_408=0.05) as server:
        responses = fetch_pages([f"{server.base}/one", f"{server.base}/two"],
                                between=_wait_for_the_server_to_close(server))
    assert [(r.status, r.attempts) for r in responses] == [(200, 1), (200, 1)]
    assert [r.text for r in responses] == ["hello from /one", "hello from /two"]
    assert server.connections == 2 and server.paths() == ["/one", "/two"]


def test_a_refused_connection_to_a_host_name_names_the_host():
    port = free_port()
    error = fetch(f"http://localhost:{port}/guide.html", attempts=1, respect_robots=False)
    assert isinstance(error, ConnectionFailed)
    assert error.message == f"connection refused by localhost:{port}"


def test_the_fetcher_reports_a_refused_connection_as_a_fetch_problem():
    port = free_port()
    error = fetch(f"http://127.0.0.1:{port}/page.html", attempts=2, respect_robots=False)
    assert isinstance(error, FetchError)
    assert error.message == f"connection refused by 127.0.0.1:{port}" and error.attempts == 2


def test_a_host_refusing_on_every_address_is_a_refusal():
    # A name with several addresses fails as anyio raises it: one error per address.
    attempts = [ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
                OSError(errno.ENETUNREACH, "Network is unreachable")]
    try:
        try:
            raise ExceptionGroup("multiple connection attempts failed", attempts)
        except ExceptionGroup as group:
            raise OSError("All connection attempts failed") from group
    except OSError as failure:
        error = failure
    assert describe_connection_error(error, "http://docs.example.com/") == \
        "connection refused by docs.example.com:80"
    unreachable = OSError("All connection attempts failed")
    unreachable.__cause__ = ExceptionGroup("multiple connection attempts failed",
                                           [OSError(errno.ENETUNREACH, "unreachable")] * 2)
    assert describe_connection_error(unreachable, "https://docs.example.com/") == \
        "network unreachable (connecting to docs.example.com:443)"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True)
    return folder


def _server_context(certificate: Path, alpn: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


@pytest.fixture
def tls(certificate) -> Iterator[_PlainServer]:
    """HTTPS offering no HTTP/2 (no ALPN): the fetcher speaks HTTP/1.1 to it."""
    with _PlainServer(_server_context(certificate)) as server:
        yield server


def test_https_with_a_certificate_trusted_through_ssl_cert_file(tls, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate / "cert.pem"))
    responses = fetch_pages([f"{tls.base}/secure", f"{tls.base}/again"])
    assert [r.text for r in responses] == ["hello from /secure", "hello from /again"]
    assert tls.requests == [("/secure", "HTTP/1.1"), ("/again", "HTTP/1.1")]
    assert tls.connections == 1


def test_https_with_an_untrusted_certificate_is_refused(tls):
    error = fetch(f"{tls.base}/secure", attempts=2, respect_robots=False)
    assert isinstance(error, ConnectionFailed) and error.attempts == 2
    assert tls.requests == []  # the handshake failed: no request was sent


def test_the_fetcher_words_an_untrusted_certificate_for_a_human(tls):
    error = fetch(f"{tls.base}/secure", attempts=1, respect_robots=False)
    assert isinstance(error, FetchError)
    assert error.message.startswith("TLS certificate of 127.0.0.1 not accepted: ")
    assert "self-signed" in error.message or "self signed" in error.message


class _H2Server:
    """HTTPS speaking only HTTP/2 (ALPN ``h2``, the h2 library): ``/page`` with an ETag,
    304 to a matching If-None-Match. Records the protocol of each connection."""

    BODY = b"<html><body>" + b"h2 " * 1500 + b"</body></html>"
    ETAG = '"h2-page"'

    def __init__(self, context: ssl.SSLContext):
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"https://127.0.0.1:{self.listener.getsockname()[1]}"
        self.protocols: list[str | None] = []
        self.requests: list[tuple[str, str | None]] = []  # (path, If-None-Match)

    def __enter__(self) -> _H2Server:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            with self.context.wrap_socket(raw, server_side=True) as tls:
                self.protocols.append(tls.selected_alpn_protocol())
                config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
                connection = h2.connection.H2Connection(config)
                connection.initiate_connection()
                tls.sendall(connection.data_to_send())
                while data := tls.recv(65536):
                    for event in connection.receive_data(data):
                        if isinstance(event, h2.events.RequestReceived):
                            headers = {str(k): str(v) for k, v in event.headers or ()}
                            self._answer(connection, event.stream_id, headers)
                    tls.sendall(connection.data_to_send())
        except (OSError, h2.exceptions.ProtocolError):
            return

    def _answer(self, connection: h2.connection.H2Connection, stream: int,
                headers: dict[str, str]) -> None:
        validator = headers.get("if-none-match")
        self.requests.append((headers[":path"], validator))
        if validator == self.ETAG:
            connection.send_headers(stream, [(":status", "304"), ("etag", self.ETAG)],
                                    end_stream=True)
            return
        connection.send_headers(stream, [
            (":status", "200"), ("content-type", "text/html"),
            ("content-length", str(len(self.BODY))), ("etag", self.ETAG)])
        connection.send_data(stream, self.BODY, end_stream=True)


def test_https_offering_http2_is_spoken_to_in_http2(certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate / "cert.pem"))
    stats = FetchStats()

    async def go(base: str) -> list[object]:
        async with Fetcher(FetchSettings(attempts=1, respect_robots=False), stats) as fetcher:
            fresh = await fetcher.get(f"{base}/page")
            again = await fetcher.get(f"{base}/page", fresh.validators)
            return [fresh, again]

    with _H2Server(_server_context(certificate, ["h2"])) as server:
        fresh, again = asyncio.run(go(server.base))
    assert (fresh.status, again.status) == (200, 304)
    assert fresh.content == _H2Server.BODY and fresh.validators.etag == _H2Server.ETAG
    assert server.protocols == ["h2"]  # one connection, both requests on it
    assert server.requests == [("/page", None), ("/page", _H2Server.ETAG)]
    assert (stats.requests, stats.not_modified) == (2, 1)
    assert stats.bytes_received == len(_H2Server.BODY)


# --- proxies from the environment -----------------------------------------------------------

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                   "all_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture
def no_proxies(monkeypatch) -> pytest.MonkeyPatch:
    """An environment naming no proxy at all; the test sets what it needs."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("name", ["NO_PROXY", "no_proxy"])
def test_no_proxy_alone_in_the_environment_changes_nothing(server, no_proxies, name):
    no_proxies.setenv(name, "example.invalid,10.0.0.0/8")
    response = fetch(server.url(PAGE))
    assert response.status == 200 and b"top-content" in response.content
    assert server.log.count(PAGE) == 1


@pytest.mark.parametrize("name", ["HTTP_PROXY", "http_proxy"])
def test_a_proxy_named_in_the_environment_is_used(plain, no_proxies, name):
    # The proxy (this server) answers the absolute-form request itself.
    no_proxies.setenv(name, plain.base)
    response = fetch("http://docs.example.invalid/guide.html", attempts=1,
                     respect_robots=False)
    assert response.text == "hello from http://docs.example.invalid/guide.html"
    assert plain.paths() == ["http://docs.example.invalid/guide.html"]


@pytest.mark.parametrize("name", ["HTTP_PROXY", "http_proxy"])
def test_a_host_listed_in_no_proxy_is_fetched_directly(server, plain, no_proxies, name):
    target = server.url(PAGE)
    no_proxies.setenv(name, plain.base)
    through_proxy = fetch(target, attempts=1)
    assert through_proxy.text == f"hello from {target}"
    assert plain.paths() == [server.url("/robots.txt"), target] and server.log.count() == 0

    no_proxies.setenv("NO_PROXY", "127.0.0.1")
    direct = fetch(target, attempts=1)
    assert direct.status == 200 and b"top-content" in direct.content
    assert server.log.paths() == ["/robots.txt", PAGE]
    assert len(plain.paths()) == 2  # nothing more through the proxy


def test_a_proxy_that_refuses_is_named_not_the_host_behind_it(no_proxies):
    port = free_port()
    no_proxies.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    error = fetch("http://docs.example.invalid/guide.html", attempts=1)
    assert isinstance(error, ConnectionFailed)
    assert error.message == (
        f"connection refused by 127.0.0.1:{port} (the proxy for docs.example.invalid)")


def test_a_server_that_drips_its_answer_is_given_up_on_at_the_deadline_and_says_so():
    # Every byte comes before the read timeout, so only the attempt's deadline (twice
    # the timeout) ends it, and the error says which limit it was.
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            while not stop.wait(0.05):
                try:
                    connection.sendall(b"x")
                except OSError:
                    return

    threading.Thread(target=drip, daemon=True).start()
    try:
        error = fetch(f"http://127.0.0.1:{listener.getsockname()[1]}/slow", timeout=0.4,
                      attempts=1, respect_robots=False)
    finally:
        stop.set()
        listener.close()

    assert isinstance(error, ConnectionFailed)
    assert error.message == "no complete answer within 0.8s (the server sends too slowly)"
