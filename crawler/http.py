"""The HTTP client every source shares: politeness, validators, retries, limits.

One :class:`Fetcher` per run wraps an ``httpx.AsyncClient`` (and, without a proxy, sends
straight to its transport, :mod:`crawler.transport`). It bounds concurrency in total and
per host, sends conditional requests from stored validators, follows redirects (noting
permanent ones), retries what is worth retrying (with backoff, jitter and
``Retry-After``), caps the body size after decompression and reports every failure as a
:class:`FetchError` with its attempts.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import random
import re
import time
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from protego import Protego

from crawler.transport import AsyncioTransport

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Validators:
    """HTTP cache validators remembered from the last fetch of a URL."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out


@dataclass
class FetchSettings:
    """Limits for one run; mirrors the ``http:`` block of sources.yaml."""

    user_agent: str = "docwatch"
    concurrency: int = 16
    per_host: int = 4
    timeout: float = 30.0
    attempts: int = 3
    max_retry_after: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    delay: float = 0.0
    backoff: float = 0.5
    max_redirects: int = 10
    respect_robots: bool = True
    max_crawl_delay: float = 10.0


@dataclass
class Response:
    """A successful (2xx or 304) answer, body already read and size-checked."""

    url: str
    final_url: str
    status: int
    headers: httpx.Headers
    content: bytes
    attempts: int = 1
    moved_permanently: bool = False

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @functools.cached_property
    def text(self) -> str:
        """The body decoded (declared charset, then <meta charset>, ...), once."""
        return decode_body(self.content, self.headers.get("content-type", ""))


class FetchError(Exception):
    """A URL that could not be fetched, after ``attempts`` tries."""

    def __init__(self, url: str, message: str, attempts: int = 1, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.message = message
        self.attempts = attempts
        self.status = status


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)


def decode_body(content: bytes, content_type: str) -> str:
    """Decode by the declared charset (header, then ``<meta charset>``), else UTF-8, else
    Windows-1252, the usual mislabelled legacy encoding (never fails)."""
    charset = None
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if charset is None and content.startswith(b"\xef\xbb\xbf"):
        charset = "utf-8-sig"
    if charset is None:
        match = _META_CHARSET.search(content[:4096])
        charset = match.group(1).decode("ascii").lower() if match else None
    for encoding in (charset, "utf-8"):
        if not encoding:
            continue
        try:
            return content.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return content.decode("cp1252", errors="replace")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _Host:
    """Per-host politeness: concurrency slots, request spacing and the robots.txt rules."""

    def __init__(self, per_host: int, delay: float):
        self.slots = asyncio.Semaphore(per_host)
        self.lock = asyncio.Lock()
        self.next_start = 0.0
        self.delay = delay
        self.robots: asyncio.Task[Protego | None] | None = None


@dataclass
class FetchStats:
    requests: int = 0
    not_modified: int = 0
    bytes_received: int = 0
    retries: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class Fetcher:
    """Shared async HTTP client for one run. Use as ``async with Fetcher(settings) as f``."""

    def __init__(self, settings: FetchSettings | None = None, stats: FetchStats | None = None):
        self.settings = settings or FetchSettings()
        self.stats = stats if stats is not None else FetchStats()
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self._hosts: dict[str, _Host] = {}
        self._client: httpx.AsyncClient | None = None
        self._direct: AsyncioTransport | None = None
        self._headers = {"User-Agent": self.settings.user_agent, "Accept": "*/*",
                         "Accept-Encoding": "gzip"}
        self._timeout = httpx.Timeout(self.settings.timeout).as_dict()

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        limits = httpx.Limits(max_connections=s.concurrency,
                              max_keepalive_connections=s.concurrency)
        if urllib.request.getproxies():
            # httpx's own transports, routed to the proxies the environment names
            # (HTTP_PROXY, HTTPS_PROXY, NO_PROXY...); a custom transport would turn that off.
            self._client = httpx.AsyncClient(limits=limits)
        else:
            # Requests go straight to the transport: a client's layers (auth, cookies,
            # redirects, hooks) are unused here and cost a tenth of a 304's CPU.
            self._direct = AsyncioTransport(limits)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._direct is not None:
            await self._direct.aclose()

    def _host(self, url: str) -> _Host:
        key = urlsplit(url).netloc
        if key not in self._hosts:
            self._hosts[key] = _Host(self.settings.per_host, self.settings.delay)
        return self._hosts[key]

    async def allowed(self, url: str) -> bool:
        """Whether robots.txt of ``url``'s host lets our User-Agent fetch it."""
        if not self.settings.respect_robots:
            return True
        host = self._host(url)
        if host.robots is None:
            host.robots = asyncio.ensure_future(self._load_robots(url, host))
        robots = host.robots
        rules = robots.result() if robots.done() else await asyncio.shield(robots)
        return rules is None or rules.can_fetch(url, self.settings.user_agent)

    async def _load_robots(self, url: str, host: _Host) -> Protego | None:
        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        try:
            response = await self.get(robots_url, check_robots=False)
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return None  # RFC 9309: no robots.txt, no rules
            # Unreachable or server error: RFC 9309 says assume complete disallow.
            log.warning("robots.txt of %s unavailable (%s): not crawling that host",
                        parts.netloc, exc.message)
            return _DISALLOW_ALL
        rules = Protego.parse(response.text)
        crawl_delay = rules.crawl_delay(self.settings.user_agent)
        if crawl_delay:
            host.delay = max(host.delay, min(float(crawl_delay), self.settings.max_crawl_delay))
        return rules

    async def get(self, url: str, validators: Validators | None = None,
                  accept: str | None = None, check_robots: bool = True,
                  method: str = "GET") -> Response:
        """GET (or HEAD) ``url``; return a 2xx or 304 :class:`Response` or raise
        :class:`FetchError`."""
        s = self.settings
        if check_robots and not await self.allowed(url):
            raise FetchError(url, "disallowed by robots.txt", 0)
        headers = dict(validators.headers()) if validators else {}
        if accept:
            headers["Accept"] = accept
        last_error = "no attempt made"
        last_status: int | None = None
        for attempt in range(1, s.attempts + 1):
            wait: float | None = None
            try:
                response = await self._attempt(method, url, headers, attempt)
            except _Retryable as exc:
                last_error, last_status, wait = exc.message, exc.status, exc.retry_after
            else:
                return response
            if attempt == s.attempts:
                break
            if wait is not None and wait > s.max_retry_after:
                last_error += f" (Retry-After {wait:.0f}s exceeds the {s.max_retry_after:.0f}s cap)"
                break
            self.stats.retries += 1
            backoff = s.backoff * (2 ** (attempt - 1)) * (1 + random.random())
            await asyncio.sleep(max(wait or 0.0, backoff))
        raise FetchError(url, last_error, attempt, last_status)

    async def _attempt(self, method: str, url: str, headers: dict[str, str],
                       attempt: int) -> Response:
        s = self.settings
        host = self._host(url)
        async with self._slots, host.slots:
            if host.delay:
                async with host.lock:
                    pause = host.next_start - time.monotonic()
                    host.next_start = max(time.monotonic(), host.next_start) + host.delay
                if pause > 0:
                    await asyncio.sleep(pause)
            self.stats.requests += 1
            try:
                async with asyncio.timeout(s.timeout * 2):
                    return await self._read(method, url, headers, attempt)
            except (httpx.TimeoutException, TimeoutError):
                raise _Retryable(f"timed out after {s.timeout:g}s") from None
            except httpx.TransportError as exc:
                raise _Retryable(f"connection error: {type(exc).__name__}: {exc}".rstrip(": "))\
                    from None

    async def _send(self, method: str, url: str | httpx.URL, headers: dict[str, str]
                    ) -> httpx.Response:
        """One request, no redirect followed; the response's body is still to be read."""
        request = httpx.Request(method, url, headers={**self._headers, **headers},
                                extensions={"timeout": self._timeout})
        if self._direct is not None:
            response = await self._direct.handle_async_request(request)
            response.request = request
            return response
        assert self._client is not None, "use Fetcher as an async context manager"
        return await self._client.send(request, stream=True, follow_redirects=False)

    async def _follow(self, method: str, url: str, headers: dict[str, str], attempt: int
                      ) -> tuple[httpx.Response, bool]:
        """The answer at the end of ``url``'s redirects, and whether one was permanent."""
        r = await self._send(method, url, headers)
        moved = False
        for _ in range(self.settings.max_redirects):
            location = r.headers.get("location")
            if r.status_code not in REDIRECTS or location is None:
                return r, moved
            await r.aclose()
            moved = moved or r.status_code in PERMANENT_REDIRECTS
            if r.status_code == 303 and method != "HEAD":
                method = "GET"
            r = await self._send(method, r.url.join(location), headers)
        await r.aclose()
        raise FetchError(url, "redirect loop (too many redirects)", attempt)

    async def _read(self, method: str, url: str, headers: dict[str, str],
                    attempt: int) -> Response:
        s = self.settings
        r, moved = await self._follow(method, url, headers, attempt)
        try:
            status = r.status_code
            self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
            if status in RETRY_STATUSES:
                raise _Retryable(f"HTTP {status}", status,
                                 parse_retry_after(r.headers.get("retry-after")))
            if status != 304 and not 200 <= status < 300:
                raise FetchError(url, f"HTTP {status}", attempt, status)
            declared = r.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > s.max_bytes \
                    and "gzip" not in r.headers.get("content-encoding", ""):
                raise FetchError(url, f"response too large ({declared} bytes > {s.max_bytes})",
                                 attempt, status)
            chunks: list[bytes] = []
            size = 0
            async for chunk in r.aiter_bytes():
                size += len(chunk)
                if size > s.max_bytes:
                    raise FetchError(url, f"response too large (over {s.max_bytes} bytes "
                                     "after decompression)", attempt, status)
                chunks.append(chunk)
            self.stats.bytes_received += r.num_bytes_downloaded
            if status == 304:
                self.stats.not_modified += 1
            final = str(r.url)
            return Response(url, final, status, r.headers, b"".join(chunks), attempt,
                            moved and final != url)
        finally:
            await r.aclose()


_DISALLOW_ALL = Protego.parse("User-agent: *\nDisallow: /\n")


class _Retryable(Exception):
    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
