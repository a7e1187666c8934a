"""Tests for crawler.demo.server.DocServer (loopback only)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from crawler.demo.server import SITE_ROOT, DocServer, Fault, last_modified_for

REPO_ROOT = Path(__file__).resolve().parents[1]

PAGE_V1 = (
    "<!DOCTYPE html><html><body><h1>Page</h1><p>first version "
    + "lorem " * 200
    + "</p></body></html>\n"
)
PAGE_V2 = "<!DOCTYPE html><html><body><h1>Page</h1><p>second version</p></body></html>\n"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    files = {
        "v1/docs/page.html": PAGE_V1,
        "v1/docs/index.html": "<html><body>docs index</body></html>\n",
        "v1/docs/notes.md": "# Notes\n\nSome *markdown*.\n",
        "v1/docs/data.json": '{"ok": true}\n',
        "v1/robots.txt": "User-agent: *\nDisallow: /private/\n",
        "v2/docs/page.html": PAGE_V2,
    }
    for rel, text in files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    (tmp_path / "v3").mkdir()
    return tmp_path


@pytest.fixture
def server(site: Path):
    with DocServer(site, version="v1") as srv:
        yield srv
    assert srv.errors == []


@pytest.fixture
def client(server: DocServer):
    with httpx.Client(base_url=server.base_url, timeout=5.0) as c:
        yield c


def md5_etag(text: str) -> str:
    return '"' + hashlib.md5(text.encode("utf-8")).hexdigest() + '"'


# ---------------------------------------------------------------------------------------------
# Normal serving


def test_base_url_and_200_headers(server: DocServer, client: httpx.Client) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
    r = client.get("/docs/page.html", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.http_version == "HTTP/1.1"
    assert r.text == PAGE_V1
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert int(r.headers["content-length"]) == len(PAGE_V1.encode())
    assert r.headers["etag"] == md5_etag(PAGE_V1)
    assert r.headers["last-modified"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert "content-encoding" not in r.headers
    assert server.log.count("/docs/page.html") == 1
    method, path, status, headers = server.log.entries[0]
    assert (method, path, status) == ("GET", "/docs/page.html", 200)
    assert headers["accept-encoding"] == "identity"  # case-insensitive lookup


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/docs/notes.md", "text/markdown; charset=utf-8"),
        ("/docs/data.json", "application/json; charset=utf-8"),
        ("/robots.txt", "text/plain; charset=utf-8"),
    ],
)
def test_content_types(client: httpx.Client, path: str, content_type: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == content_type


def test_last_modified_is_fixed_per_version() -> None:
    assert last_modified_for("v1").isoformat() == "2024-01-01T00:00:00+00:00"
    assert last_modified_for("v2").isoformat() == "2024-02-01T00:00:00+00:00"
    assert last_modified_for("anything").isoformat() == "2024-03-01T00:00:00+00:00"


def test_if_none_match_gives_304(server: DocServer, client: httpx.Client) -> None:
    first = client.get("/docs/page.html")
    etag = first.headers["etag"]
    r = client.get("/docs/page.html", headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == etag
    # A weak or listed validator also matches; a different one does not.
    assert (
        client.get("/docs/page.html", headers={"If-None-Match": f'"nope", W/{etag}'}).status_code
        == 304
    )
    assert client.get("/docs/page.html", headers={"If-None-Match": '"nope"'}).status_code == 200
    assert server.log.conditional("/docs/page.html") == 3
    assert server.log.not_modified("/docs/page.html") == 2
    assert server.log.count("/docs/page.html") == 4


def test_if_modified_since(server: DocServer, client: httpx.Client) -> None:
    same = client.get(
        "/docs/page.html", headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}
    )
    assert same.status_code == 304
    later = client.get(
        "/docs/page.html", headers={"If-Modified-Since": "Tue, 02 Jan 2024 00:00:00 GMT"}
    )
    assert later.status_code == 304
    earlier = client.get(
        "/docs/page.html", headers={"If-Modified-Since": "Sun, 31 Dec 2023 00:00:00 GMT"}
    )
    assert earlier.status_code == 200
    garbage = client.get("/docs/page.html", headers={"If-Modified-Since": "yesterday-ish"})
    assert garbage.status_code == 200
    assert server.log.not_modified() == 2


def test_head(client: httpx.Client) -> None:
    r = client.head("/docs/page.html", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["content-length"]) == len(PAGE_V1.encode())
    assert r.headers["etag"] == md5_etag(PAGE_V1)
    # The connection is still usable after a HEAD (no stray body bytes).
    assert client.get("/docs/page.html").text == PAGE_V1


def test_gzip(server: DocServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=5.0) as c:
        with c.stream("GET", "/docs/page.html", headers={"Accept-Encoding": "gzip"}) as r:
            raw = b"".join(r.iter_raw())
            assert r.headers["content-encoding"] == "gzip"
            assert r.headers["vary"] == "Accept-Encoding"
            assert int(r.headers["content-length"]) == len(raw)
        assert gzip.decompress(raw).decode() == PAGE_V1
        assert len(raw) < len(PAGE_V1.encode())
        # httpx decodes transparently; the ETag is that of the identity body.
        r = c.get("/docs/page.html", headers={"Accept-Encoding": "gzip"})
        assert r.text == PAGE_V1
        assert r.headers["etag"] == md5_etag(PAGE_V1)
        refused = c.get("/docs/page.html", headers={"Accept-Encoding": "gzip;q=0, identity"})
        assert "content-encoding" not in refused.headers


def test_directory_redirect_and_index(client: httpx.Client) -> None:
    r = client.get("/docs")
    assert r.status_code == 301
    assert r.headers["location"] == "/docs/"
    r = client.get("/docs?x=1")
    assert r.headers["location"] == "/docs/?x=1"
    r = client.get("/docs/")
    assert r.status_code == 200
    assert r.text == "<html><body>docs index</body></html>\n"
    followed = client.get("/docs", follow_redirects=True)
    assert followed.status_code == 200
    assert str(followed.url).endswith("/docs/")


def test_missing_and_traversal(client: httpx.Client, server: DocServer) -> None:
    r = client.get("/docs/nope.html")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert b"Not Found" in r.content
    assert client.get("/").status_code == 404  # no v1/index.html
    assert client.get("/docs/%2e%2e/%2e%2e/v2/docs/page.html").status_code == 404
    server.set_version("v2")
    assert client.get("/robots.txt").status_code == 404  # no robots.txt in v2


def test_keep_alive_reuses_connection(server: DocServer, client: httpx.Client) -> None:
    for _ in range(5):
        assert client.get("/docs/page.html").status_code == 200
    assert server.log.connections == 1
    assert server.log.count() == 5


def test_version_switch_changes_bytes(server: DocServer, client: httpx.Client) -> None:
    v1 = client.get("/docs/page.html")
    server.set_version("v2")
    assert server.version == "v2"
    v2 = client.get("/docs/page.html")
    assert v1.content != v2.content
    assert v2.text == PAGE_V2
    assert v1.headers["etag"] != v2.headers["etag"]
    assert v2.headers["last-modified"] == "Thu, 01 Feb 2024 00:00:00 GMT"
    # An ETag from v1 no longer validates.
    assert (
        client.get("/docs/page.html", headers={"If-None-Match": v1.headers["etag"]}).status_code
        == 200
    )
    assert client.get("/docs/notes.md").status_code == 404
    with pytest.raises(FileNotFoundError):
        server.set_version("v9")


def test_reset_log(server: DocServer, client: httpx.Client) -> None:
    client.get("/docs/page.html")
    assert len(server.log) == 1
    server.reset_log()
    assert len(server.log) == 0
    assert server.log.count() == 0


# ---------------------------------------------------------------------------------------------
# Faults


def test_fault_status_with_retry_after_and_times(server: DocServer, client: httpx.Client) -> None:
    server.set_fault("/docs/page.html", Fault("status", status=503, retry_after=2, times=2))
    for _ in range(2):
        r = client.get("/docs/page.html")
        assert r.status_code == 503
        assert r.headers["retry-after"] == "2"
    r = client.get("/docs/page.html")
    assert r.status_code == 200
    assert "retry-after" not in r.headers
    assert server.log.statuses("/docs/page.html") == [503, 503, 200]
    # Other paths were never affected.
    assert client.get("/docs/notes.md").status_code == 200


def test_fault_status_without_times_and_removal(server: DocServer, client: httpx.Client) -> None:
    server.set_fault("/docs/page.html", Fault("status", status=429))
    assert [client.get("/docs/page.html").status_code for _ in range(3)] == [429, 429, 429]
    server.set_fault("/docs/page.html", None)
    assert client.get("/docs/page.html").status_code == 200


def test_fault_hang_times_out(server: DocServer) -> None:
    server.set_fault("/docs/page.html", Fault("hang", seconds=0.5))
    # A client giving up first sees no answer at all (not a closed connection).
    with httpx.Client(base_url=server.base_url, timeout=0.2) as c, \
            pytest.raises(httpx.ReadTimeout):
        c.get("/docs/page.html")
    # Waiting longer than the hang: the server closes without a response, and only once
    # the hang is over (the next request can only come after it).
    with httpx.Client(base_url=server.base_url, timeout=3.0) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/docs/page.html")
        assert c.get("/docs/notes.md").status_code == 200
    assert server.log.statuses("/docs/page.html") == [0, 0]
    [_, hung] = server.log.arrivals("/docs/page.html")
    [after] = server.log.arrivals("/docs/notes.md")
    assert after - hung >= 0.5


def test_fault_reset_gives_client_error(server: DocServer, client: httpx.Client) -> None:
    server.set_fault("/docs/page.html", Fault("reset", times=1))
    with pytest.raises(httpx.TransportError):
        client.get("/docs/page.html")
    # The server carries on; the next request is served normally.
    r = client.get("/docs/page.html")
    assert r.status_code == 200
    assert r.text == PAGE_V1


def test_fault_redirect(server: DocServer, client: httpx.Client) -> None:
    server.set_fault("/old.html", Fault("redirect", status=301, location="/docs/page.html"))
    r = client.get("/old.html")
    assert r.status_code == 301
    assert r.headers["location"] == "/docs/page.html"
    followed = client.get("/old.html", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.text == PAGE_V1
    server.set_fault("/temp.html", Fault("redirect", location=server.url("/docs/")))
    assert client.get("/temp.html").status_code == 302


def test_fault_body(server: DocServer, client: httpx.Client) -> None:
    server.set_fault(
        "/docs/page.html", Fault("body", body='{"swapped": 1}', content_type="application/json")
    )
    r = client.get("/docs/page.html")
    assert r.status_code == 200
    assert r.json() == {"swapped": 1}
    assert r.headers["content-type"] == "application/json"
    assert r.headers["etag"] == md5_etag('{"swapped": 1}')
    assert (
        client.get("/docs/page.html", headers={"If-None-Match": r.headers["etag"]}).status_code
        == 304
    )
    # A body fault can also invent a page that does not exist on disk.
    server.set_fault("/ghost.html", Fault("body", body="<p>boo</p>"))
    assert client.get("/ghost.html").text == "<p>boo</p>"


def test_fault_validation() -> None:
    with pytest.raises(ValueError):
        Fault("explode")
    with pytest.raises(ValueError):
        Fault("redirect")


def test_inflight_tracking(server: DocServer) -> None:
    server.set_fault("*", Fault("delay", seconds=0.3))
    barrier = threading.Barrier(3)
    results: list[int] = []

    def fetch(i: int) -> None:
        with httpx.Client(base_url=server.base_url, timeout=5.0) as c:
            barrier.wait()
            results.append(c.get(f"/docs/page.html?i={i}").status_code)

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200, 200, 200]
    assert server.log.max_inflight == 3
    assert server.log.max_inflight_per_host == 3
    assert server.log.max_inflight_by_host == {f"127.0.0.1:{server.port}": 3}
    # The handler leaves the in-flight count just after the client has its answer.
    deadline = time.monotonic() + 2
    while server.log.inflight and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.log.inflight == 0
    assert server.log.count("/docs/page.html") == 3  # query strings are ignored by count(path)


# ---------------------------------------------------------------------------------------------
# Bundled demo site and command line


def test_bundled_site_versions() -> None:
    with (
        DocServer(SITE_ROOT, version="v1") as srv,
        httpx.Client(base_url=srv.base_url, timeout=5.0) as c,
    ):
        stub = c.get("/lumen/")
        assert '<meta http-equiv="refresh" content="0; url=overview.html">' in stub.text
        page = c.get("/lumen/overview.html").text
        assert 'content="ExDoc v0.34.0"' in page
        sidebar_src = re.search(
            r'<script src="(dist/sidebar_items-[0-9A-F]+\.js)"></script>', page
        ).group(1)
        sidebar = c.get("/lumen/" + sidebar_src).text
        assert sidebar.startswith("sidebarNodes=")
        nodes = json.loads(sidebar[len("sidebarNodes=") :])
        assert [e["id"] for e in nodes["extras"]] == [
            "overview",
            "installation",
            "routing",
            "channels",
            "changelog",
        ]
        assert c.get("/lumen/channels.html").status_code == 200
        assert c.get("/lumen_live/llms.txt").status_code == 404
        assert "Disallow: /private/" in c.get("/robots.txt").text

        srv.set_version("v2")
        page2 = c.get("/lumen/overview.html").text
        assert 'content="ExDoc v0.40.1"' in page2
        assert (
            re.search(r'<script src="(dist/sidebar_items-[0-9A-F]+\.js)"></script>', page2).group(1)
            != sidebar_src
        )
        assert c.get("/lumen/channels.html").status_code == 404
        assert c.get("/lumen/json_apis.html").status_code == 200
        llms = c.get("/lumen_live/llms.txt")
        assert llms.text.startswith("# Lumen Live v2.0.0 - Table of Contents")
        assert (
            c.get("/lumen_live/async.md").headers["content-type"] == "text/markdown; charset=utf-8"
        )


def test_command_line_ready_and_sigterm(site: Path) -> None:
    env = dict(
        os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.demo.server", str(site), "--version", "v2", "--port", "0"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("READY http://127.0.0.1:"), (
            line,
            proc.stderr.read() if proc.poll() else "",
        )
        base_url = line.split(" ", 1)[1]
        r = httpx.get(base_url + "/docs/page.html", timeout=5.0)
        assert r.text == PAGE_V2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert proc.stderr.read() == ""  # quiet: no per-request logging
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
