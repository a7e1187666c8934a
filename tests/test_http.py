"""The shared HTTP client against a local server that really misbehaves."""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import socket
import time

import pytest

from crawler.demo.server import DocServer, Fault
from crawler.http import (
    ConnectionFailed,
    Fetcher,
    FetchError,
    FetchSettings,
    Validators,
    decode_body,
    parse_rate_limit_reset,
)

PAGE = "/lumen/overview.html"


@pytest.fixture
def server():
    with DocServer(version="v1") as s:
        yield s


def fetch(url: str, **settings) -> object:
    """GET url with a fast-retrying Fetcher; return the Response or the FetchError."""
    defaults = {"attempts": 3, "backoff": 0.01, "timeout": 2.0, "max_retry_after": 5}

    async def go():
        async with Fetcher(FetchSettings(**{**defaults, **settings})) as fetcher:
            try:
                return await fetcher.get(url)
            except FetchError as exc:
                return exc

    return asyncio.run(go())


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
    started = time.monotonic()
    response = fetch(server.url(PAGE))
    assert response.status == 200
    arrivals = server.log.arrivals(PAGE)
    assert arrivals[1] - arrivals[0] >= 1.0
    assert time.monotonic() - started >= 1.0


def test_retry_after_http_date_is_honoured(server):
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    server.set_fault(PAGE, Fault(kind="status", status=503, retry_after=when, times=1))
    response = fetch(server.url(PAGE))
    assert response.status == 200
    arrivals = server.log.arrivals(PAGE)
    assert arrivals[1] - arrivals[0] >= 0.9  # the date has one-second resolution


def test_retry_after_beyond_the_cap_gives_up_instead_of_stalling(server):
    server.set_fault(PAGE, Fault(kind="status", status=503, retry_after=120))
    started = time.monotonic()
    error = fetch(server.url(PAGE), max_retry_after=5)
    assert isinstance(error, FetchError) and "Retry-After 120s exceeds" in error.message
    assert time.monotonic() - started < 2 and server.log.count(PAGE) == 1


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
    server.set_fault(PAGE, rate_limited(time.time() + 2))
    response = fetch(server.url(PAGE))
    assert response.status == 200 and response.attempts == 2
    assert server.log.statuses(PAGE) == [429, 200]
    arrivals = server.log.arrivals(PAGE)
    assert arrivals[1] - arrivals[0] >= 0.9


def test_retry_after_wins_over_rate_limit_reset(server):
    fault = rate_limited(time.time() + 120)
    fault.retry_after = 1
    server.set_fault(PAGE, fault)
    response = fetch(server.url(PAGE), max_retry_after=5)
    assert response.status == 200 and server.log.statuses(PAGE) == [429, 200]


def test_rate_limit_reset_beyond_the_cap_gives_up_instead_of_stalling(server):
    server.set_fault(PAGE, rate_limited(time.time() + 600))
    started = time.monotonic()
    error = fetch(server.url(PAGE), max_retry_after=5)
    assert isinstance(error, FetchError) and error.status == 429
    assert error.message.startswith("HTTP 429 (x-ratelimit-reset ")
    assert error.message.endswith("s exceeds the 5s cap)")
    assert time.monotonic() - started < 2 and server.log.count(PAGE) == 1


def test_connection_reset_mid_body_is_retried_and_reported(server):
    server.set_fault(PAGE, Fault(kind="reset"))
    error = fetch(server.url(PAGE), attempts=2)
    assert isinstance(error, ConnectionFailed) and error.attempts == 2
    assert error.message == f"connection reset by 127.0.0.1:{server.port}"


def test_a_hanging_server_cannot_stall_beyond_the_timeout(server):
    server.set_fault(PAGE, Fault(kind="hang", seconds=10))
    started = time.monotonic()
    error = fetch(server.url(PAGE), timeout=0.5, attempts=2)
    elapsed = time.monotonic() - started
    assert isinstance(error, FetchError) and "timed out" in error.message
    assert elapsed < 3


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
