"""The HTTP client every source shares: politeness, validators, retries, limits.

One :class:`Fetcher` per run wraps an ``httpx.AsyncClient``. It bounds concurrency in
total and per host, sends conditional requests from stored validators, retries what is
worth retrying (with backoff, jitter and ``Retry-After``), caps the body size after
decompression and reports every failure as a :class:`FetchError` with its attempts.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PERMANENT_REDIRECTS = frozenset({301, 308})


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

    @property
    def text(self) -> str:
        return decode_body(self.content, self.headers.get("content-type", ""))


class FetchError(Exception):
    """A URL that could not be fetched, after ``attempts`` tries."""

    def __init__(self, url: str, message: str, attempts: int = 1, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.message = message
        self.attempts = attempts
        self.status = status


def decode_body(content: bytes, content_type: str) -> str:
    """Decode by the declared charset, else UTF-8, else Windows-1252 (never fails)."""
    charset = None
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
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
    """Per-host politeness: a concurrency slot and the time of the last request start."""

    def __init__(self, per_host: int):
        self.slots = asyncio.Semaphore(per_host)
        self.lock = asyncio.Lock()
        self.next_start = 0.0


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

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        self._client = httpx.AsyncClient(
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip"},
            timeout=httpx.Timeout(s.timeout),
            follow_redirects=True,
            max_redirects=s.max_redirects,
            limits=httpx.Limits(max_connections=s.concurrency,
                                max_keepalive_connections=s.concurrency),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _host(self, url: str) -> _Host:
        key = urlsplit(url).netloc
        if key not in self._hosts:
            self._hosts[key] = _Host(self.settings.per_host)
        return self._hosts[key]

    async def get(self, url: str, validators: Validators | None = None,
                  accept: str | None = None) -> Response:
        """GET ``url``; return a 2xx or 304 :class:`Response` or raise :class:`FetchError`."""
        s = self.settings
        headers = dict(validators.headers()) if validators else {}
        if accept:
            headers["Accept"] = accept
        last_error = "no attempt made"
        last_status: int | None = None
        for attempt in range(1, s.attempts + 1):
            wait: float | None = None
            try:
                response = await self._attempt(url, headers, attempt)
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

    async def _attempt(self, url: str, headers: dict[str, str], attempt: int) -> Response:
        assert self._client is not None, "use Fetcher as an async context manager"
        s = self.settings
        host = self._host(url)
        async with self._slots, host.slots:
            if s.delay:
                async with host.lock:
                    pause = host.next_start - time.monotonic()
                    host.next_start = max(time.monotonic(), host.next_start) + s.delay
                if pause > 0:
                    await asyncio.sleep(pause)
            self.stats.requests += 1
            try:
                async with asyncio.timeout(s.timeout * 2):
                    return await self._read(url, headers, attempt)
            except httpx.TooManyRedirects:
                raise FetchError(url, "redirect loop (too many redirects)", attempt) from None
            except (httpx.TimeoutException, TimeoutError):
                raise _Retryable(f"timed out after {s.timeout:g}s") from None
            except httpx.TransportError as exc:
                raise _Retryable(f"connection error: {type(exc).__name__}: {exc}".rstrip(": "))\
                    from None

    async def _read(self, url: str, headers: dict[str, str], attempt: int) -> Response:
        assert self._client is not None
        s = self.settings
        async with self._client.stream("GET", url, headers=headers) as r:
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
            moved = any(h.status_code in PERMANENT_REDIRECTS for h in r.history)
            return Response(url, str(r.url), status, r.headers, b"".join(chunks), attempt,
                            moved and str(r.url) != url)


class _Retryable(Exception):
    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
