"""A small, controllable static documentation server for tests and demos.

`DocServer` serves the files of one *version* folder of a site tree
(``root/<version>/...``) over HTTP/1.1 with keep-alive.  It behaves like a
well-mannered static host (ETag, Last-Modified, conditional requests, gzip,
HEAD, trailing-slash redirects) and can be told to misbehave on a per-path
basis through `Fault` objects, so crawler code can be exercised against
errors, hangs, connection resets and redirects without touching the network.

Every request is recorded in a thread-safe `RequestLog`, which also tracks how
many requests were being handled at the same time (overall and per ``Host``).

Run it standalone with::

    python -m crawler.demo.server ROOT --version v1 --port 0

which prints ``READY http://127.0.0.1:PORT`` once listening and serves until
SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gzip
import hashlib
import html
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "SITE_ROOT",
    "DocServer",
    "Fault",
    "LogEntry",
    "RequestLog",
    "last_modified_for",
    "main",
]

#: The fictional documentation site shipped next to this module.
SITE_ROOT = Path(__file__).resolve().parent / "site"

_UTC = _dt.UTC

# Fixed, reproducible modification times per served version.
_LAST_MODIFIED = {
    "v1": _dt.datetime(2024, 1, 1, tzinfo=_UTC),
    "v2": _dt.datetime(2024, 2, 1, tzinfo=_UTC),
}
_LAST_MODIFIED_OTHER = _dt.datetime(2024, 3, 1, tzinfo=_UTC)

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_DEFAULT_CONTENT_TYPE = "application/octet-stream"
_HTML = "text/html; charset=utf-8"

_FAULT_KINDS = frozenset({"status", "hang", "reset", "redirect", "body", "delay"})


def last_modified_for(version: str) -> _dt.datetime:
    """The (deterministic) Last-Modified time used for every file of `version`."""
    return _LAST_MODIFIED.get(version, _LAST_MODIFIED_OTHER)


def content_type_for(path: str | Path) -> str:
    """Content-Type header value for a file name, based on its extension."""
    return _CONTENT_TYPES.get(Path(path).suffix.lower(), _DEFAULT_CONTENT_TYPE)


# --------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------


@dataclass
class Fault:
    """How the server should misbehave for one path.

    kinds:
      * ``"status"``   answer `status` (default 503) with an optional
        ``Retry-After: retry_after`` header, any other `headers` and optional
        `body`/`content_type`.
      * ``"hang"``     wait `seconds` (default 30) without sending a byte, then
        close the connection.
      * ``"reset"``    send a 200 with the full Content-Length but only half of
        the body, then abort the connection (RST via SO_LINGER 0).  The body is
        `body` if given, else the file that would normally be served.
      * ``"redirect"`` answer `status` (default 302) with ``Location: location``.
      * ``"body"``     answer 200 with `body` (and `content_type`, default HTML)
        instead of the file; ETag/conditional/gzip handling still applies.
      * ``"delay"``    wait `seconds`, then serve the path normally (handy for
        observing concurrency).

    `times`, if set, limits the fault to the first `times` matching requests;
    later requests are served normally.
    """

    kind: str
    status: int | None = None
    retry_after: int | str | None = None
    times: int | None = None
    seconds: float | None = None
    location: str | None = None
    body: bytes | str | None = None
    content_type: str | None = None
    headers: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}; expected one of {sorted(_FAULT_KINDS)}"
            )
        if self.kind == "redirect" and not self.location:
            raise ValueError("a redirect fault needs a location")

    def body_bytes(self) -> bytes | None:
        if self.body is None:
            return None
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return bytes(self.body)


# --------------------------------------------------------------------------
# Request log
# --------------------------------------------------------------------------


class _Headers(dict):
    """A plain dict of request headers whose lookups ignore case."""

    def __init__(self, items=()) -> None:
        super().__init__()
        for key, value in items:
            self[key] = value

    def _find(self, key: str) -> str | None:
        lowered = key.lower()
        for existing in dict.keys(self):
            if existing.lower() == lowered:
                return existing
        return None

    def __getitem__(self, key: str) -> str:
        found = self._find(key)
        if found is None:
            raise KeyError(key)
        return dict.__getitem__(self, found)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) is not None

    def get(self, key: str, default=None):
        found = self._find(key)
        return default if found is None else dict.__getitem__(self, found)


class LogEntry(NamedTuple):
    """One handled request: ``(method, path, status, headers)``.

    `path` is the request target as sent (including any query string).
    `status` is the status code sent, or 0 when nothing was sent (hang).
    `headers` holds the request headers; lookups are case-insensitive.
    """

    method: str
    path: str
    status: int
    headers: dict


class RequestLog:
    """Thread-safe record of the requests a `DocServer` handled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LogEntry] = []
        self._arrivals: list[float] = []
        self._connections = 0
        self._inflight = 0
        self._max_inflight = 0
        self._inflight_by_host: dict[str, int] = {}
        self._max_by_host: dict[str, int] = {}

    # -- recording (used by the handler) --------------------------------
    def _enter(self, host: str) -> float:
        with self._lock:
            self._inflight += 1
            self._max_inflight = max(self._max_inflight, self._inflight)
            current = self._inflight_by_host.get(host, 0) + 1
            self._inflight_by_host[host] = current
            self._max_by_host[host] = max(self._max_by_host.get(host, 0), current)
        return time.monotonic()

    def _connection_opened(self) -> None:
        with self._lock:
            self._connections += 1

    def _exit(self, host: str) -> None:
        with self._lock:
            self._inflight -= 1
            self._inflight_by_host[host] -= 1

    def _add(self, entry: LogEntry, arrived: float) -> None:
        with self._lock:
            self._entries.append(entry)
            self._arrivals.append(arrived)

    def clear(self) -> None:
        """Forget all entries and reset the concurrency maxima."""
        with self._lock:
            self._entries.clear()
            self._arrivals.clear()
            self._connections = 0
            self._max_inflight = self._inflight
            self._max_by_host = {h: n for h, n in self._inflight_by_host.items() if n}

    # -- reading ---------------------------------------------------------
    @property
    def entries(self) -> list[LogEntry]:
        """A snapshot copy of all entries, in the order responses were started."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self.entries)

    def __getitem__(self, index):
        with self._lock:
            return self._entries[index]

    @staticmethod
    def _matches(entry_path: str, path: str | None) -> bool:
        if path is None:
            return True
        return entry_path == path or entry_path.split("?", 1)[0] == path

    def requests(self, path: str | None = None) -> list[LogEntry]:
        """Entries for `path` (exact target, or same path ignoring the query); all if None."""
        return [e for e in self.entries if self._matches(e.path, path)]

    def paths(self) -> list[str]:
        """Request targets in log order."""
        return [e.path for e in self.entries]

    def statuses(self, path: str | None = None) -> list[int]:
        return [e.status for e in self.requests(path)]

    def count(self, path: str | None = None) -> int:
        """Number of requests for `path` (all requests if None)."""
        return len(self.requests(path))

    def conditional(self, path: str | None = None) -> int:
        """Number of requests for `path` that carried If-None-Match or If-Modified-Since."""
        return sum(
            1
            for e in self.requests(path)
            if "If-None-Match" in e.headers or "If-Modified-Since" in e.headers
        )

    def not_modified(self, path: str | None = None) -> int:
        """Number of 304 answers for `path`."""
        return sum(1 for e in self.requests(path) if e.status == 304)

    def arrivals(self, path: str | None = None) -> list[float]:
        """`time.monotonic()` values at which the matching requests arrived."""
        with self._lock:
            pairs = list(zip(self._entries, self._arrivals, strict=True))
        return [t for e, t in pairs if self._matches(e.path, path)]

    @property
    def connections(self) -> int:
        """TCP connections accepted (keep-alive reuse keeps this below the request count)."""
        with self._lock:
            return self._connections

    @property
    def inflight(self) -> int:
        """Requests being handled right now."""
        with self._lock:
            return self._inflight

    @property
    def max_inflight(self) -> int:
        """Highest number of simultaneously handled requests overall."""
        with self._lock:
            return self._max_inflight

    @property
    def max_inflight_per_host(self) -> int:
        """Highest number of simultaneously handled requests for any single Host header."""
        with self._lock:
            return max(self._max_by_host.values(), default=0)

    @property
    def max_inflight_by_host(self) -> dict[str, int]:
        """Per Host header value, the highest number of simultaneous requests."""
        with self._lock:
            return dict(self._max_by_host)


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    docserver: DocServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn), which can
        # be slow in sandboxes; we only ever need the numeric address.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if exc is None or isinstance(exc, OSError):
            return  # client went away, reset, timeout...: expected, stay quiet
        self.docserver.errors.append(exc)


def _wants_gzip(accept_encoding: str | None) -> bool:
    if not accept_encoding:
        return False
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() not in ("gzip", "x-gzip"):
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        return quality > 0
    return False


def _simple_page(title: str, message: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>\n"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DocServer/1.0"
    sys_version = ""
    timeout = 30  # idle keep-alive connections are dropped after this long
    server: _HTTPServer

    # -- lifecycle ---------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        self.server.docserver._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.docserver._track(self.connection, add=False)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args) -> None:
        pass  # keep test output clean

    # -- entry points --------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def _dispatch(self, head: bool) -> None:
        ds = self.server.docserver
        self._head = head
        self._url_path = urllib.parse.urlsplit(self.path).path or "/"
        self._req_headers = _Headers(self.headers.items())
        host = self.headers.get("Host") or self.client_address[0]
        self._arrived = ds.log._enter(host)
        try:
            fault = ds._take_fault(self.path, self._url_path)
            if fault is None or fault.kind == "delay":
                if fault is not None:
                    ds._sleep(fault.seconds or 0.0)
                self._serve_file()
            else:
                self._apply_fault(fault)
        finally:
            ds.log._exit(host)

    def _record(self, status: int) -> None:
        entry = LogEntry(self.command, self.path, status, self._req_headers)
        self.server.docserver.log._add(entry, self._arrived)

    # -- normal serving ------------------------------------------------------
    def _resolve(self) -> tuple[str, Path | None]:
        """Map the URL path to ("file", path) / ("redirect", None) / ("missing", None)."""
        ds = self.server.docserver
        decoded = urllib.parse.unquote(self._url_path)
        parts = [p for p in decoded.split("/") if p not in ("", ".")]
        if "\x00" in decoded or any(p == ".." or "\\" in p for p in parts):
            return "missing", None
        target = ds.root.joinpath(ds.version, *parts)
        if target.is_dir():
            if not self._url_path.endswith("/"):
                return "redirect", None
            target = target / "index.html"
        if target.is_file():
            return "file", target
        return "missing", None

    def _serve_file(self) -> None:
        kind, target = self._resolve()
        if kind == "redirect":
            query = urllib.parse.urlsplit(self.path).query
            location = self._url_path + "/" + (f"?{query}" if query else "")
            self._send_simple(
                301, _simple_page("Moved Permanently", location), {"Location": location}
            )
        elif kind == "file" and target is not None:
            self._send_entity(target.read_bytes(), content_type_for(target))
        else:
            self._send_simple(
                404, _simple_page("Not Found", f"Nothing is published at {self._url_path}.")
            )

    def _not_modified(self, etag: str, last_modified: _dt.datetime) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            for tag in if_none_match.split(","):
                tag = tag.strip()
                if tag.startswith("W/"):
                    tag = tag[2:]
                if tag == "*" or tag == etag:
                    return True
            return False
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since:
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError, IndexError):
                return False
            if since is None:
                return False
            if since.tzinfo is None:
                since = since.replace(tzinfo=_UTC)
            return last_modified <= since
        return False

    def _send_entity(self, body: bytes, content_type: str) -> None:
        """Send a cacheable 200 (or 304) for `body`."""
        ds = self.server.docserver
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        modified = last_modified_for(ds.version)
        validators = {
            "ETag": etag,
            "Last-Modified": format_datetime(modified, usegmt=True),
            "Vary": "Accept-Encoding",
        }
        if self._not_modified(etag, modified):
            self._record(304)
            self.send_response(304)
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            return
        headers = {"Content-Type": content_type, **validators}
        payload = body
        if _wants_gzip(self.headers.get("Accept-Encoding")):
            payload = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
        self._send(200, payload, headers)

    def _send_simple(
        self,
        status: int,
        body: bytes,
        extra: dict[str, str] | None = None,
        content_type: str = _HTML,
    ) -> None:
        self._send(status, body, {"Content-Type": content_type, **(extra or {})})

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self._record(status)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not self._head:
            self.wfile.write(payload)

    # -- faults --------------------------------------------------------------
    def _apply_fault(self, fault: Fault) -> None:
        ds = self.server.docserver
        if fault.kind == "status":
            status = fault.status or 503
            extra = {}
            if fault.retry_after is not None:
                extra["Retry-After"] = str(fault.retry_after)
            extra.update(fault.headers or {})
            body = fault.body_bytes()
            if body is None:
                body = _simple_page(f"Error {status}", "This response was injected by DocServer.")
            self._send_simple(status, body, extra, fault.content_type or _HTML)
        elif fault.kind == "redirect":
            status = fault.status or 302
            location = fault.location or "/"
            self._send_simple(status, _simple_page("Redirect", location), {"Location": location})
        elif fault.kind == "body":
            self._send_entity(fault.body_bytes() or b"", fault.content_type or _HTML)
        elif fault.kind == "hang":
            self._record(0)
            ds._sleep(30.0 if fault.seconds is None else fault.seconds)
            self.close_connection = True
        elif fault.kind == "reset":
            self._reset(fault)

    def _reset(self, fault: Fault) -> None:
        body = fault.body_bytes()
        content_type = fault.content_type or _HTML
        if body is None:
            kind, target = self._resolve()
            if kind == "file" and target is not None:
                body, content_type = target.read_bytes(), content_type_for(target)
            else:
                body = b"<!DOCTYPE html><html><body>" + b"x" * 2048 + b"</body></html>\n"
        self._record(200)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body[: len(body) // 2])
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        # Both the socket and the rfile made from it must be closed for the
        # descriptor to be released, which is what emits the RST.
        self.connection.close()
        self.rfile.close()


# --------------------------------------------------------------------------
# Public server object
# --------------------------------------------------------------------------


class DocServer:
    """Serve ``root/<version>/`` on 127.0.0.1 in a background thread.

    The listening socket is bound in the constructor (so `base_url` is known
    right away); `start()` begins serving, `stop()` shuts everything down.
    Use as a context manager for automatic start/stop.
    """

    def __init__(
        self,
        root: Path | str = SITE_ROOT,
        version: str = "v1",
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.root = Path(root).resolve()
        self._lock = threading.Lock()
        self._check_version(version)
        self._version = version
        self._faults: dict[str, list] = {}  # path -> [Fault, times_used]
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.log = RequestLog()
        #: Unexpected (non-OSError) exceptions raised while handling requests.
        self.errors: list[BaseException] = []
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.docserver = self
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self.base_url = f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        return f"<DocServer {self.base_url} root={str(self.root)!r} version={self.version!r}>"

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> DocServer:
        if self._closed:
            raise RuntimeError("a stopped DocServer cannot be restarted")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"DocServer:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stopping.set()  # wakes handlers sleeping in hang/delay faults
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # drop idle keep-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> DocServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- configuration -----------------------------------------------------------
    def _check_version(self, version: str) -> None:
        if not (self.root / version).is_dir():
            raise FileNotFoundError(f"no version folder {version!r} under {self.root}")

    @property
    def version(self) -> str:
        with self._lock:
            return self._version

    def set_version(self, version: str) -> None:
        """Serve ``root/<version>/`` from now on."""
        self._check_version(version)
        with self._lock:
            self._version = version

    def set_fault(self, path: str, fault: Fault | None) -> None:
        """Install (or with None, remove) a fault for a URL path.

        `path` is matched against the request target, then against the path
        without query string; ``"*"`` applies to every path without its own
        fault.  Installing a fault resets its `times` counter.
        """
        with self._lock:
            if fault is None:
                self._faults.pop(path, None)
            else:
                self._faults[path] = [fault, 0]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset_log(self) -> None:
        self.log.clear()

    def url(self, path: str = "/") -> str:
        """Absolute URL for a server path."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- used by the handler -------------------------------------------------------
    def _take_fault(self, target: str, path: str) -> Fault | None:
        with self._lock:
            for key in (target, path, "*"):
                slot = self._faults.get(key)
                if slot is not None:
                    break
            else:
                return None
            fault, used = slot
            if fault.times is not None and used >= fault.times:
                return None
            slot[1] = used + 1
            return fault

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
                self.log._connection_opened()
            else:
                self._connections.discard(conn)

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(max(0.0, seconds))


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crawler.demo.server",
        description="Serve a versioned static documentation tree on 127.0.0.1.",
    )
    parser.add_argument(
        "root",
        nargs="?",
        type=Path,
        default=SITE_ROOT,
        help="site root containing one folder per version (default: the bundled demo site)",
    )
    parser.add_argument("--version", default="v1", help="version folder to serve (default: v1)")
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port; 0 picks a free one (default)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    args = parser.parse_args(argv)

    done = threading.Event()

    def _request_stop(signum, frame) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    try:
        server = DocServer(args.root, version=args.version, port=args.port, host=args.host)
    except OSError as exc:  # a missing site folder, a port in use
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with server:
        print(f"READY {server.base_url}", flush=True)
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
