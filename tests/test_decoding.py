"""Content-Encoding layers are decoded streamed and capped: a small body that inflates
to gigabytes is refused at the cap, with bounded memory."""

from __future__ import annotations

import gzip
import os
import resource
import sqlite3
import subprocess
import sys
import textwrap
import zlib
from contextlib import closing
from pathlib import Path

import pytest
from conftest import QuietHandler, run_cli_measured, start_server, stop_server

from crawler.decoding import Decoder, DecodingError

TEXT = b"<html><body>" + b"docs " * 5000 + b"</body></html>"


def decode(body: bytes, encodings: str, limit: int = 10**6, chunk: int = 1000) -> bytes:
    decoder = Decoder(encodings, limit)
    return b"".join(decoder.feed(body[i:i + chunk]) for i in range(0, len(body), chunk))


@pytest.mark.parametrize(("body", "encodings"), [
    (TEXT, ""),
    (TEXT, "identity"),
    (gzip.compress(TEXT), "gzip"),
    (gzip.compress(gzip.compress(TEXT)), "gzip, gzip"),
    (zlib.compress(TEXT), "deflate"),
    (zlib.compress(TEXT)[2:-4], "deflate"),  # raw deflate, as some servers send it
    (gzip.compress(TEXT[:100]) + gzip.compress(TEXT[100:]), "gzip"),  # two members
])
def test_every_layer_is_undone_in_turn(body, encodings):
    assert decode(body, encodings) == TEXT


def test_each_layer_stops_at_the_cap():
    bomb = gzip.compress(gzip.compress(b"\0" * 20_000_000))
    assert len(bomb) < 10_000
    with pytest.raises(DecodingError) as raised:
        decode(bomb, "gzip, gzip", limit=1_000_000)
    assert raised.value.too_large


def test_an_encoding_not_asked_for_is_refused():
    with pytest.raises(DecodingError, match="unsupported Content-Encoding 'br'"):
        Decoder("br", 1000)


def test_a_gzip_bomb_inside_gzip_is_refused_with_bounded_memory(tmp_path):
    # 400 MB of zeros, gzipped twice: a few kilobytes on the wire.
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    layer = b"".join(inner.compress(b"\0" * 4_000_000) for _ in range(100)) + inner.flush()
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(layer, 9))
    script = textwrap.dedent(f"""
        import asyncio, resource, threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from crawler.http import Fetcher, FetchError, FetchSettings
        body = open({str(bomb)!r}, "rb").read()
        class Bomb(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Encoding", "gzip, gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        server = ThreadingHTTPServer(("127.0.0.1", 0), Bomb)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        async def go():
            settings = FetchSettings(attempts=1, respect_robots=False, max_bytes=5_000_000)
            async with Fetcher(settings) as fetcher:
                try:
                    await fetcher.get(f"http://127.0.0.1:{{server.server_address[1]}}/")
                except FetchError as exc:
                    return exc.message
        print(asyncio.run(go()))
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})

    message, grown_mb = done.stdout.split("\n")[:2]
    assert message == "response too large (over 5000000 bytes after decompression)"
    assert int(grown_mb) < 40, f"peak RSS grew by {grown_mb} MB"  # a few times max_bytes


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs /proc")
def test_a_night_with_a_gzip_bomb_under_a_memory_limit_still_writes_its_report(tmp_path):
    # The crawl is a process of its own with its address space capped: before layers
    # were capped, this response alone took 2.3 GB and the run died of MemoryError with
    # no report. Now the bomb is one fetch problem and the good page is reported.
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    layer = b"".join(inner.compress(b"\0" * 4_000_000) for _ in range(250)) + inner.flush()
    bomb = gzip.compress(layer, 9)  # 1 GB of zeros, gzipped twice: a few KB
    good = (b"<html><head><title>Good</title></head>"
            b"<body><main><p>Fine docs.</p></main></body></html>")

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            if self.path == "/bomb":
                self.answer(200, bomb, headers={"Content-Encoding": "gzip, gzip"})
            else:
                self.answer(200, good)

    server, base = start_server(Handler)
    config = tmp_path / "sources.yaml"
    config.write_text(f"""\
report: {{title: Bomb night, dir: reports}}
http: {{max_bytes: 10000000, respect_robots: false, attempts: 1}}
sources:
  - {{name: pages, kind: page, urls: ["{base}/good", "{base}/bomb"]}}
""", encoding="utf-8")
    limit = 1_500_000_000  # bytes of address space: the interpreter and its threads fit

    def capped() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        done = run_cli_measured(tmp_path, "crawl", "--config", str(config), "--db",
                                f"sqlite:///{tmp_path / 'db.sqlite3'}", "--date",
                                "2024-01-01", "-q", preexec_fn=capped,
                                env={**os.environ, "DOCWATCH_WORKERS": "0"})
    finally:
        stop_server(server)

    assert done.returncode == 0, done.stderr
    assert 0 < done.peak_mb < 400, f"peak RSS {done.peak_mb} MB"
    report = (tmp_path / "reports" / "2024-01-01-bomb-night.md").read_text(encoding="utf-8")
    assert "**pages** (page): 2 pages checked" in report
    with closing(sqlite3.connect(tmp_path / "db.sqlite3")) as db:
        stored = db.execute("SELECT url FROM pages WHERE latest_snapshot_id IS NOT NULL")
        assert [url for url, in stored] == [f"{base}/good"]
    assert "response too large (over 10000000 bytes after decompression)" in report
