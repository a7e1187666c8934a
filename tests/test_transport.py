"""The crawl's httpx transport (httpcore on plain asyncio streams) against real sockets:
TLS, connections the server closes, and errors that keep httpx's types."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from crawler.http import ConnectionFailed, Fetcher, FetchError, FetchSettings
from crawler.transport import AsyncioTransport

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    close_after_reply = False  # set on the server: drop the socket after each answer

    def do_GET(self) -> None:
        body = f"hello from {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.server.close_after_reply:  # type: ignore[attr-defined]
            # No "Connection: close" header: the client learns it only from the socket.
            self.close_connection = True

    def log_message(self, *_args: object) -> None:
        pass


def _serve(context: ssl.SSLContext | None = None, close_after_reply: bool = False
           ) -> tuple[ThreadingHTTPServer, str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.close_after_reply = close_after_reply  # type: ignore[attr-defined]
    if context is not None:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    scheme = "https" if context else "http"
    return httpd, f"{scheme}://127.0.0.1:{httpd.server_address[1]}"


@pytest.fixture
def plain() -> Iterator[tuple[ThreadingHTTPServer, str]]:
    httpd, base = _serve()
    yield httpd, base
    httpd.shutdown()
    httpd.server_close()


def _get(*urls: str, verify: bool | ssl.SSLContext = True, pause: float = 0.0
         ) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        out = []
        async with httpx.AsyncClient(transport=AsyncioTransport(LIMITS, verify)) as client:
            for url in urls:
                out.append(await client.get(url))
                await asyncio.sleep(pause)
        return out

    return asyncio.run(go())


def test_plain_http_with_keep_alive(plain):
    _, base = plain
    responses = _get(f"{base}/a", f"{base}/b")
    assert [r.text for r in responses] == ["hello from /a", "hello from /b"]


def test_a_connection_the_server_closed_is_not_reused(plain):
    httpd, base = plain
    httpd.close_after_reply = True  # type: ignore[attr-defined]
    # The second request must open a new connection, not fail on the dead one.
    responses = _get(f"{base}/one", f"{base}/two", pause=0.1)
    assert [r.status_code for r in responses] == [200, 200]


def test_refused_connection_is_httpx_connect_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket closes
    with pytest.raises(httpx.ConnectError):
        _get(f"http://127.0.0.1:{port}/")


def test_the_fetcher_reports_a_refused_connection_as_a_fetch_problem():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def go() -> FetchError:
        settings = FetchSettings(attempts=2, backoff=0.01, respect_robots=False)
        async with Fetcher(settings) as fetcher:
            with pytest.raises(FetchError) as caught:
                await fetcher.get(f"http://127.0.0.1:{port}/page.html")
            return caught.value

    error = asyncio.run(go())
    assert error.message == f"connection refused by 127.0.0.1:{port}" and error.attempts == 2


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


@pytest.fixture
def tls(certificate) -> Iterator[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    httpd, base = _serve(context)
    yield base
    httpd.shutdown()
    httpd.server_close()


def test_https_with_a_trusted_certificate(tls, certificate):
    trusted = ssl.create_default_context(cafile=str(certificate / "cert.pem"))
    responses = _get(f"{tls}/secure", f"{tls}/again", verify=trusted)
    assert [r.text for r in responses] == ["hello from /secure", "hello from /again"]


def test_https_with_an_untrusted_certificate_is_refused(tls):
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        _get(f"{tls}/secure")


def test_a_proxy_named_in_the_environment_is_used(plain, monkeypatch):
    # The fetcher skips httpx's client layers only when no proxy is configured: with
    # HTTP_PROXY set, requests go through the proxy (this server answers in its place).
    _, proxy = plain
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)

    async def go() -> str:
        async with Fetcher(FetchSettings(attempts=1, respect_robots=False)) as fetcher:
            return (await fetcher.get("http://docs.example.invalid/guide.html")).text

    assert asyncio.run(go()) == "hello from http://docs.example.invalid/guide.html"


def test_the_fetcher_words_an_untrusted_certificate_for_a_human(tls):
    async def go() -> FetchError:
        async with Fetcher(FetchSettings(attempts=1, respect_robots=False)) as fetcher:
            with pytest.raises(FetchError) as caught:
                await fetcher.get(f"{tls}/secure")
            return caught.value

    error = asyncio.run(go())
    assert error.message.startswith("TLS certificate of 127.0.0.1 not accepted: ")
    assert "self-signed" in error.message or "self signed" in error.message


def test_a_proxy_that_refuses_is_named_not_the_host_behind_it(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")

    async def go() -> FetchError:
        async with Fetcher(FetchSettings(attempts=1)) as fetcher:
            with pytest.raises(ConnectionFailed) as caught:
                await fetcher.get("http://docs.example.invalid/guide.html")
            return caught.value

    assert asyncio.run(go()).message == (
        f"connection refused by 127.0.0.1:{port} (the proxy for docs.example.invalid)")
