"""The HTTP client every source shares: politeness, validators, retries, limits.

One :class:`Fetcher` per run wraps an ``httpx.AsyncClient`` on httpx's stock transports
(HTTP/2 where the server offers it, proxies from the environment). It bounds concurrency
in total and per site, sends conditional requests from stored validators, follows
redirects itself (noting permanent ones), retries what is worth retrying (with backoff,
jitter and ``Retry-After``), caps the body size after decompression and reports every
failure as a :class:`FetchError` with its attempts.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import functools
import ipaddress
import logging
import random
import re
import socket
import ssl
import time
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from protego import Protego

from crawler.decoding import Decoder, DecodingError
from crawler.errors import DocwatchError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class Validators:
    """HTTP cache validators remembered from the last fetch of a URL."""

    etag: str | None = None
    last_modified: str | None = None

    def stored(self) -> list[str | None] | None:
        """The JSON form kept between runs (``[etag, last_modified]``); None if empty."""
        return [self.etag, self.last_modified] if self.etag or self.last_modified else None

    @classmethod
    def from_stored(cls, stored: Any) -> Validators | None:
        """The validators :meth:`stored` kept, None for anything else."""
        if not isinstance(stored, list) or len(stored) != 2 or not any(stored):
            return None
        return cls(stored[0], stored[1])

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


class FetchError(DocwatchError):
    """A URL that could not be fetched, after ``attempts`` tries."""

    def __init__(self, url: str, message: str, attempts: int = 1, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.message = message
        self.attempts = attempts
        self.status = status


class ConnectionFailed(FetchError):
    """No HTTP answer at all: the host name did not resolve, the connection was refused or
    dropped, or the request timed out. ``message`` says which, for a human."""


def _os_errors(exc: BaseException) -> list[OSError]:
    """The socket-level errors under an httpx/httpcore transport error, outermost first:
    the cause chain, and each attempt of a host with several addresses (anyio raises
    "All connection attempts failed" from a group of one error per address)."""
    seen: set[int] = set()
    found: list[OSError] = []
    pending: list[BaseException] = [exc]
    while pending:
        cause = pending.pop(0)
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, OSError):
            found.append(cause)
        if isinstance(cause, BaseExceptionGroup):
            pending.extend(cause.exceptions)
        chained = cause.__cause__ or cause.__context__
        if chained is not None:
            pending.append(chained)
    return found


def _os_error(exc: BaseException) -> OSError | None:
    """The socket-level error that says most: a refusal (the host was reached, even if
    another of its addresses was not), else the first with an errno, else any."""
    errors = _os_errors(exc)
    refused = [e for e in errors if _refused(e)]
    with_errno = [e for e in errors if e.errno is not None]
    best = refused or with_errno or errors
    return best[0] if best else None


def _refused(error: OSError) -> bool:
    return isinstance(error, ConnectionRefusedError) or error.errno == errno.ECONNREFUSED


def describe_connection_error(exc: BaseException, url: str | httpx.URL) -> str:
    """A transport failure in words: ``could not resolve host hexdocs.pm``, ``connection
    refused by 127.0.0.1:8080``, ``connection reset by ...``, a TLS problem..."""
    target = httpx.URL(str(url))
    host = target.host
    port = target.port or (443 if target.scheme == "https" else 80)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    cause = _os_error(exc)
    if isinstance(cause, socket.gaierror):
        return f"could not resolve host {host}"
    if cause is not None and _refused(cause):
        return f"connection refused by {address}"
    if isinstance(cause, ConnectionResetError):
        return f"connection reset by {address}"
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"TLS certificate of {host} not accepted: {cause.verify_message or cause}"
    if isinstance(cause, ssl.SSLError):
        return f"TLS error with {address}: {cause.reason or cause}"
    if cause is not None and cause.errno == errno.ENETUNREACH:
        return f"network unreachable (connecting to {address})"
    if cause is not None and cause.errno == errno.EHOSTUNREACH:
        return f"no route to host {address}"
    detail = str(cause or exc) or type(exc).__name__
    return f"connection error with {address}: {detail}"


def _proxy_for(url: httpx.URL) -> str | None:
    """The proxy the environment names for ``url`` (as httpx's client picks it), if any."""
    if urllib.request.proxy_bypass(url.host):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if proxy and "://" not in proxy:
        proxy = f"http://{proxy}"
    return proxy or None


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


_UNIX_TIME = re.compile(r"\d+(?:\.\d+)?")


def parse_rate_limit_reset(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from an ``x-ratelimit-reset`` header (hex.pm's: the absolute unix
    time, in seconds, at which the limit resets): ``reset - now``, never negative."""
    if not value or not _UNIX_TIME.fullmatch(value.strip()):
        return None
    return max(0.0, float(value) - (time.time() if now is None else now))


class _Site:
    """Politeness per site (registrable domain): concurrency slots and request spacing.

    The subdomains of one site are usually one server farm: hexdocs.pm serves each
    package from its own subdomain, and 20 packages must not mean 20 × ``per_host``
    connections to its CDN.
    """

    def __init__(self, per_host: int, delay: float):
        self.slots = asyncio.Semaphore(per_host)
        self.lock = asyncio.Lock()
        self.next_start = 0.0
        self.delay = delay


class _Host:
    """A host's robots.txt rules (read per host, RFC 9309) and the site it belongs to."""

    def __init__(self, site: _Site):
        self.site = site
        self.robots: asyncio.Task[Protego | None] | None = None


@functools.lru_cache(maxsize=1)
def _public_suffixes() -> Any:
    from publicsuffixlist import PublicSuffixList  # reads its bundled list: once, on use

    return PublicSuffixList()


@functools.lru_cache(maxsize=4096)
def site_of(netloc: str) -> str:
    """The site a ``host[:port]`` belongs to: its registrable domain (``phoenix.hexdocs.pm``
    → ``hexdocs.pm``, ``a.example.co.uk`` → ``example.co.uk``); an IP address or a name
    without a public suffix (``localhost``) is its own site, port included."""
    host = netloc.rsplit("@", 1)[-1]
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    try:
        ipaddress.ip_address(name)
        return host.lower()
    except ValueError:
        pass
    return _public_suffixes().privatesuffix(name) or host.lower()


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
        self._sites: dict[str, _Site] = {}
        self._client: httpx.AsyncClient | None = None
        self._headers = {"User-Agent": self.settings.user_agent, "Accept": "*/*",
                         "Accept-Encoding": "gzip"}
        self._timeout = httpx.Timeout(self.settings.timeout).as_dict()

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        limits = httpx.Limits(max_connections=s.concurrency,
                              max_keepalive_connections=s.concurrency)
        # The client builds httpx's stock transport for each route, with these limits:
        # direct, or through the proxy the environment names (trust_env: HTTP_PROXY,
        # HTTPS_PROXY, ALL_PROXY, NO_PROXY; passing transport= would turn that off).
        # HTTP/2 is negotiated over TLS (ALPN) where offered; plain http stays HTTP/1.1.
        # No transport-level retries: every attempt is the fetcher's, counted and backed off.
        self._client = httpx.AsyncClient(limits=limits, http2=True, trust_env=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _host(self, url: str) -> _Host:
        key = urlsplit(url).netloc
        if key not in self._hosts:
            site = site_of(key)
            if site not in self._sites:
                self._sites[site] = _Site(self.settings.per_host, self.settings.delay)
            self._hosts[key] = _Host(self._sites[site])
        return self._hosts[key]

    async def allowed(self, url: str) -> bool:
        """Whether robots.txt of ``url``'s host lets our User-Agent fetch it (no page of a
        host whose robots.txt could not be read is fetched)."""
        return await self._robots_refusal(url) is None

    async def _robots_refusal(self, url: str) -> FetchError | None:
        """The error ``url`` fails with because of its host's robots.txt; None if allowed."""
        if not self.settings.respect_robots:
            return None
        host = self._host(url)
        if host.robots is None:
            host.robots = asyncio.ensure_future(self._load_robots(url, host))
        robots = host.robots
        if not robots.done():
            await asyncio.wait([robots])  # like shield: a cancelled page leaves it running
        return self._robots_verdict(url, robots)

    def _known_robots_refusal(self, url: str) -> FetchError | None:
        """:meth:`_robots_refusal` when ``url``'s host's robots.txt is already read;
        raises :class:`_NewHost` when it is still to be read."""
        if not self.settings.respect_robots:
            return None
        robots = self._host(url).robots
        if robots is None or not robots.done():
            raise _NewHost(url)
        return self._robots_verdict(url, robots)

    def _robots_verdict(self, url: str, robots: asyncio.Task[Protego | None]
                        ) -> FetchError | None:
        failure = robots.exception()
        if isinstance(failure, _RobotsUnread):
            # attempts: those spent on the host's robots.txt, the page's own were none
            return (ConnectionFailed if failure.unreachable else FetchError)(
                url, failure.message, failure.attempts)
        rules = robots.result()
        if rules is None or rules.can_fetch(url, self.settings.user_agent):
            return None
        return FetchError(url, "disallowed by robots.txt", 0)

    async def _load_robots(self, url: str, host: _Host) -> Protego | None:
        """The host's rules, None for no rules; raises :class:`_RobotsUnread` when the
        host is not to be crawled (RFC 9309: robots.txt unreachable or answering 5xx)."""
        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        try:
            response = await self.get(robots_url, check_robots=False)
        except ConnectionFailed as exc:
            # Unreachable: RFC 9309 says assume complete disallow; each page of the host
            # fails with the connection problem itself (it would fail the same way).
            log.warning("robots.txt of %s unreachable (%s): not crawling that host",
                        parts.netloc, exc.message)
            raise _RobotsUnread(exc.message, exc.attempts, unreachable=True) from None
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return None  # RFC 9309: no robots.txt, no rules
            if exc.status is not None and exc.status >= 500:
                message = (f"robots.txt of {parts.netloc} answered HTTP {exc.status}: "
                           "not crawling that host (RFC 9309)")
            else:
                message = (f"robots.txt of {parts.netloc} could not be read ({exc.message}): "
                           "not crawling that host")
            log.warning("%s", message)
            raise _RobotsUnread(message, exc.attempts) from None
        rules = Protego.parse(response.text)
        crawl_delay = rules.crawl_delay(self.settings.user_agent)
        if crawl_delay:
            # One host's Crawl-delay spaces the requests to its whole site: the stricter wins.
            site = host.site
            site.delay = max(site.delay, min(float(crawl_delay), self.settings.max_crawl_delay))
        return rules

    async def get(self, url: str, validators: Validators | None = None,
                  accept: str | None = None, check_robots: bool = True,
                  method: str = "GET", hosts: Collection[str] | None = None) -> Response:
        """GET (or HEAD) ``url``; return a 2xx or 304 :class:`Response` or raise
        :class:`FetchError`.

        Every redirect hop is checked as the first request is: against robots.txt of
        its host (``check_robots``) and, when ``hosts`` is given, against that
        allow-list of host names.
        """
        s = self.settings
        if check_robots:
            refusal = await self._robots_refusal(url)
            if refusal is not None:
                raise refusal
        checks = _HopChecks(self, url, check_robots,
                            None if hosts is None else {h.lower() for h in hosts})
        headers = dict(validators.headers()) if validators else {}
        if accept:
            headers["Accept"] = accept
        last_error = "no attempt made"
        last_status: int | None = None
        unreachable = False
        for attempt in range(1, s.attempts + 1):
            wait: float | None = None
            wait_header = "Retry-After"
            try:
                response = await self._attempt_reading_robots(method, url, headers, attempt,
                                                              checks)
            except _Retryable as exc:
                last_error, last_status, wait = exc.message, exc.status, exc.retry_after
                wait_header = exc.wait_header
                unreachable = isinstance(exc, _Unreachable)
            else:
                return response
            if attempt == s.attempts:
                break
            if wait is not None and wait > s.max_retry_after:
                last_error += (f" ({wait_header} {wait:.0f}s exceeds the "
                               f"{s.max_retry_after:.0f}s cap)")
                break
            self.stats.retries += 1
            backoff = s.backoff * (2 ** (attempt - 1)) * (1 + random.random())
            await asyncio.sleep(max(wait or 0.0, backoff))
        raise (ConnectionFailed if unreachable else FetchError)(url, last_error, attempt,
                                                                last_status)

    async def _attempt_reading_robots(self, method: str, url: str, headers: dict[str, str],
                                      attempt: int, checks: _HopChecks) -> Response:
        """:meth:`_attempt`; a redirect to a host whose robots.txt is unread yet ends the
        attempt, the robots.txt is read (outside the attempt's slots, which the site's
        other pages may be waiting for), and the attempt starts again."""
        for _ in range(self.settings.max_redirects + 1):
            try:
                return await self._attempt(method, url, headers, attempt, checks)
            except _NewHost as new:
                refusal = await self._robots_refusal(new.url)
                if isinstance(refusal, ConnectionFailed):  # the host it names is unreachable
                    raise ConnectionFailed(url, refusal.message, attempt) from None
                if refusal is not None:
                    raise FetchError(url, f"redirected to {new.url}: {refusal.message}",
                                     attempt, refusal.status) from None
        raise FetchError(url, "redirect loop (too many redirects)", attempt)

    async def _attempt(self, method: str, url: str, headers: dict[str, str],
                       attempt: int, checks: _HopChecks | None = None) -> Response:
        s = self.settings
        site = self._host(url).site
        async with self._slots, site.slots:
            if site.delay:
                async with site.lock:
                    pause = site.next_start - time.monotonic()
                    site.next_start = max(time.monotonic(), site.next_start) + site.delay
                if pause > 0:
                    await asyncio.sleep(pause)
            self.stats.requests += 1
            try:
                # httpx's timeout is per read; a server dripping a byte at a time would
                # never trip it: the whole attempt has a deadline of twice as long.
                async with asyncio.timeout(s.timeout * 2):
                    return await self._read(method, url, headers, attempt, checks)
            except httpx.TimeoutException:
                raise _Unreachable(f"timed out after {s.timeout:g}s") from None
            except TimeoutError:
                raise _Unreachable(f"no complete answer within {s.timeout * 2:g}s "
                                   "(the server sends too slowly)") from None
            except httpx.TransportError as exc:
                try:
                    failed = exc.request.url  # the host that failed, after redirects too
                except RuntimeError:
                    failed = httpx.URL(url)
                proxy = _proxy_for(failed)
                if proxy is None:
                    raise _Unreachable(describe_connection_error(exc, failed)) from None
                # The connection was to the proxy: name it, not the host behind it.
                raise _Unreachable(f"{describe_connection_error(exc, proxy)} "
                                   f"(the proxy for {failed.host})") from None

    async def _send(self, method: str, url: str | httpx.URL, headers: dict[str, str]
                    ) -> httpx.Response:
        """One request, no redirect followed; the response's body is still to be read."""
        # send(), not build_request(): only these headers, no cookie jar, no auth.
        request = httpx.Request(method, url, headers={**self._headers, **headers},
                                extensions={"timeout": self._timeout})
        assert self._client is not None, "use Fetcher as an async context manager"
        return await self._client.send(request, stream=True, follow_redirects=False)

    async def _follow(self, method: str, url: str, headers: dict[str, str], attempt: int,
                      checks: _HopChecks | None = None) -> tuple[httpx.Response, bool]:
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
            target = r.url.join(location)
            if checks is not None:
                checks.check(str(target), attempt)
            r = await self._send(method, target, headers)
        await r.aclose()
        raise FetchError(url, "redirect loop (too many redirects)", attempt)

    async def _read(self, method: str, url: str, headers: dict[str, str],
                    attempt: int, checks: _HopChecks | None = None) -> Response:
        s = self.settings
        r, moved = await self._follow(method, url, headers, attempt, checks)
        try:
            status = r.status_code
            self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
            if status in RETRY_STATUSES:
                header = "Retry-After"
                wait = parse_retry_after(r.headers.get("retry-after"))
                if wait is None and status in (429, 503):
                    # A rate limit without Retry-After (hex.pm's API) says when it resets.
                    header = "x-ratelimit-reset"
                    wait = parse_rate_limit_reset(r.headers.get(header))
                raise _Retryable(f"HTTP {status}", status, wait, header)
            if status != 304 and not 200 <= status < 300:
                raise FetchError(url, f"HTTP {status}", attempt, status)
            declared = r.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > s.max_bytes \
                    and "gzip" not in r.headers.get("content-encoding", ""):
                raise FetchError(url, f"response too large ({declared} bytes > {s.max_bytes})",
                                 attempt, status)
            chunks: list[bytes] = []
            size = 0
            try:
                decoder = Decoder(r.headers.get("content-encoding", ""), s.max_bytes)
                async for raw in r.aiter_raw():  # decoded here, each layer capped
                    chunk = decoder.feed(raw)
                    size += len(chunk)
                    if size > s.max_bytes:
                        raise DecodingError(f"over {s.max_bytes} bytes", too_large=True)
                    chunks.append(chunk)
            except DecodingError as exc:
                problem = (f"response too large (over {s.max_bytes} bytes after "
                           "decompression)" if exc.too_large
                           else f"response undecodable ({exc.message})")
                raise FetchError(url, problem, attempt, status) from None
            self.stats.bytes_received += r.num_bytes_downloaded
            if status == 304:
                self.stats.not_modified += 1
            final = str(r.url)
            return Response(url, final, status, r.headers, b"".join(chunks), attempt,
                            moved and final != url)
        finally:
            await r.aclose()


@dataclass
class _HopChecks:
    """What every redirect hop of one ``get`` must pass: the robots.txt of its host and
    the allow-list of hosts, as the first request did."""

    fetcher: Fetcher
    url: str
    robots: bool
    hosts: set[str] | None

    def check(self, target: str, attempt: int) -> None:
        """Raise :class:`FetchError` for a hop that may not be followed, :class:`_NewHost`
        for one to a host whose robots.txt is still to be read."""
        host = (urlsplit(target).hostname or "").lower()
        if self.hosts is not None and host not in self.hosts:
            raise FetchError(self.url, f"redirected to {target}, whose host is not allowed "
                             "(allow_hosts)", attempt)
        refusal = self.fetcher._known_robots_refusal(target) if self.robots else None
        if refusal is not None:
            raise FetchError(self.url, f"redirected to {target}: {refusal.message}", attempt)


class _NewHost(Exception):
    """A redirect led to ``url`` on a host whose robots.txt has not been read yet."""

    def __init__(self, url: str):
        super().__init__(url)
        self.url = url


class _Retryable(Exception):
    """A failure worth another attempt; ``retry_after``: the seconds the server asked to
    wait, read from the header named by ``wait_header``."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None,
                 wait_header: str = "Retry-After"):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.wait_header = wait_header


class _Unreachable(_Retryable):
    """No HTTP answer (DNS, refused, reset, timeout): becomes a :class:`ConnectionFailed`."""


class _RobotsUnread(Exception):
    """Why a host's robots.txt keeps every page of that host from being fetched."""

    def __init__(self, message: str, attempts: int, unreachable: bool = False):
        super().__init__(message)
        self.message = message
        self.attempts = attempts
        self.unreachable = unreachable
