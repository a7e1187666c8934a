"""What the test modules share: the bundled demo docs site, its configuration, and the
project `docwatch demo` makes of it.

- ``site``: the bundled site (``crawler/demo/site``) served at v1 on 127.0.0.1, one per test.
- :func:`write_config`: the demo's own ``sources.yaml`` and skill (``crawler.demo.run``) for
  a site served at some base URL, with what a test adds to it. Modules import it with
  ``from conftest import write_config``.
- ``crawled_demo``: the demo site crawled at v1 then v2 into a database, once per session.
  It is shared, so read-only: a test that changes a project works on ``copy_to`` of it.
- The databases: ``database_url`` (parametrized ``sqlite``/``postgresql``) is a fresh,
  empty database of each kind for one test; ``database_kind`` the same parameter for a
  module's own fixtures (with :func:`new_database_url`). The PostgreSQL ones live on one
  real server (``postgres_server``) the session starts with Debian's binaries, or skip.
  :func:`query` reads any of them with SQL, :func:`copy_database` copies one.
"""

from __future__ import annotations

import datetime as dt
import glob
import itertools
import json
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crawler.config import load_config
from crawler.demo.run import DATABASE_FILE, SKILL, run_demo, sources_yaml
from crawler.demo.server import DocServer
from crawler.pipeline import RunOutcome
from crawler.report.render import slugify

#: Where the demo's configuration puts its one skill file.
SKILL_PATH = Path("skills") / "lumen-live" / "SKILL.md"


class QuietHandler(BaseHTTPRequestHandler):
    """The request handler of a test's own HTTP server (:func:`start_server`): one call
    answers a request, and nothing is logged."""

    def answer(self, status: int, body: bytes = b"",
               content_type: str = "text/html; charset=utf-8",
               headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def start_server(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """``handler`` served on 127.0.0.1 from a background thread: the server (for
    :func:`stop_server`) and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def stop_server(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


# Runs the CLI and writes its peak RSS (VmHWM, in kB) to the file named first: the
# ru_maxrss of a child (os.wait4) would count the test process's memory at fork time too.
_PEAK_OF_CLI = """\
import atexit, re, runpy, sys
out = sys.argv.pop(1)
def peak():
    status = open("/proc/self/status").read()
    open(out, "w").write(re.search(r"VmHWM:\\s*(\\d+)", status).group(1))
atexit.register(peak)
sys.argv[0] = "crawler"
runpy.run_module("crawler", run_name="__main__", alter_sys=True)
"""


@dataclass
class MeasuredRun:
    """A ``docwatch`` command run as its own process, with its peak RSS."""

    returncode: int
    stdout: str
    stderr: str
    peak_mb: int


def run_cli_measured(folder: Path, *args: str, preexec_fn: Any = None,
                     env: Mapping[str, str] | None = None) -> MeasuredRun:
    """``docwatch ARGS`` in a fresh interpreter (Linux: needs /proc), its peak RSS read by
    the process itself; ``preexec_fn`` runs in the child before it starts (a limit)."""
    handle, name = tempfile.mkstemp(dir=folder, prefix="peak-")
    os.close(handle)
    peak = Path(name)
    done = subprocess.run([sys.executable, "-c", _PEAK_OF_CLI, str(peak), *args],
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=preexec_fn, env=None if env is None else dict(env))
    text = peak.read_text()
    return MeasuredRun(done.returncode, done.stdout, done.stderr,
                       int(text) // 1024 if text else -1)


def exdoc_page(title: str, body: str) -> str:
    """A guide page in the shape ExDoc writes it (title, sidebar script, content and
    footer), with ``body`` as its content: for the small ExDoc sites tests serve."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} — docs</title>
<script src="dist/sidebar_items-ABC.js"></script></head>
<body><nav class="sidebar"></nav>
<main class="content"><div id="content"><div id="top-content">
{body}
</div><footer class="footer">Built using ExDoc</footer></div></main></body></html>
"""


@contextmanager
def small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """``folder``, made and mounted as a tmpfs of ``size`` (``"64k"``) for the duration:
    a real small disk. Skips the test where mounting is not allowed (not root, or a
    container without the right)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(folder)], capture_output=True, check=False) \
        if os.geteuid() == 0 else None
    if mounted is None or mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def write_config(folder: Path, base: str, *, sources: str = "", skills: str = "",
                 extra: str = "", name: str = "sources.yaml") -> Path:
    """Write the demo's ``sources.yaml`` (named ``name``) and its skill into ``folder``,
    for the bundled site served at ``base``; return the configuration's path.

    ``sources`` and ``skills`` are YAML list items added to the demo's own; ``extra`` is
    top-level YAML appended to the file, e.g. ``"http: {per_host: 1}\\n"``.
    """
    skill = folder / SKILL_PATH
    skill.parent.mkdir(parents=True, exist_ok=True)
    skill.write_text(SKILL, encoding="utf-8")
    text = sources_yaml(base)
    # The demo lists its sources, then its skills, last.
    before_skills, marker, demo_skills = text.partition("\nskills:\n")
    assert marker and demo_skills.endswith("\n"), "the demo's sources.yaml changed shape"
    path = folder / name
    path.write_text(f"{before_skills}\n{sources}skills:\n{demo_skills}{skills}{extra}",
                    encoding="utf-8")
    return path


@pytest.fixture
def site() -> Iterator[DocServer]:
    """The bundled demo docs site, served at v1 on 127.0.0.1 for one test."""
    with DocServer(version="v1") as server:
        yield server


@dataclass(frozen=True)
class DemoProject:
    """A folder as ``docwatch demo`` leaves it: ``sources.yaml``, the skill, the database
    and the reports of its two runs (site v1, then v2) of the site once served at
    ``base_url``."""

    folder: Path
    base_url: str
    baseline: RunOutcome
    update: RunOutcome

    @property
    def config_path(self) -> Path:
        return self.folder / "sources.yaml"

    @property
    def reports(self) -> Path:
        return self.folder / "reports"

    def report_file(self, day: dt.date, suffix: str) -> Path:
        """The dated report of ``day`` in this folder; ``suffix`` is .md, .json or .html."""
        title = load_config(self.config_path).report.title
        return self.reports / f"{day.isoformat()}-{slugify(title)}{suffix}"

    def markdown(self, day: dt.date) -> str:
        return self.report_file(day, ".md").read_text(encoding="utf-8")

    def data(self, day: dt.date) -> dict:
        return json.loads(self.report_file(day, ".json").read_text(encoding="utf-8"))

    def copy_to(self, target: Path) -> DemoProject:
        """A copy of the whole project in ``target`` (a new folder), for a test to change."""
        shutil.copytree(self.folder, target,
                        ignore=shutil.ignore_patterns(f"{DATABASE_FILE}*"))
        with closing(sqlite3.connect(self.folder / DATABASE_FILE)) as src, \
                closing(sqlite3.connect(target / DATABASE_FILE)) as dst:
            src.backup(dst)

        def moved(outcome: RunOutcome) -> RunOutcome:
            paths = [target / p.relative_to(self.folder) for p in outcome.report_paths]
            return replace(outcome, report_paths=paths)

        return replace(self, folder=target, baseline=moved(self.baseline),
                       update=moved(self.update))


@pytest.fixture(scope="session")
def crawled_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoProject:
    """The demo site crawled at v1 on 2024-01-01, then at v2 on 2024-02-01 (the runs of
    ``docwatch demo``), once for the whole session. Read-only: see ``DemoProject.copy_to``."""
    outcome = run_demo(tmp_path_factory.mktemp("demo"))
    [lumen, _] = outcome.config.typed_sources[0].urls
    return DemoProject(outcome.directory, lumen.removesuffix("/lumen/"), outcome.baseline,
                       outcome.update)


# --- The databases: SQLite files, and PostgreSQL on a server of the session's own ----------

DATABASE_KINDS = ["sqlite", "postgresql"]


def _postgres_bin() -> Path | None:
    """The newest of Debian's PostgreSQL binary folders (``/usr/lib/postgresql/N/bin``)."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found.sort(key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit()
               else 0)
    return found[-1] if found else None


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temp folder, on 127.0.0.1 with trust auth.

    ``initdb`` refuses to run as root, so as root the cluster belongs to ``postgres``.
    """

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="docwatch-pg-", dir="/tmp"))
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        os.chmod(self.folder, 0o700)
        self.data = self.folder / "data"
        self._names = itertools.count(1)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.folder / "server.log"
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}"
                               + (f"\n{log.read_text()}" if log.exists() else ""))

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")
        # Durability is not what the tests check: no fsync keeps a CREATE DATABASE cheap.
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=300")
        self._run("pg_ctl", "start", "-w", "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "server.log"))

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-m", "fast", "-D", str(self.data))
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def admin(self, *statements: str) -> None:
        """Run statements on the ``postgres`` database, outside a transaction (CREATE
        DATABASE needs that)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def create_database(self, template: str | None = None) -> str:
        """A new database (a copy of ``template`` when given); its URL."""
        name = f"docwatch_{os.getpid()}_{next(self._names)}"
        if template is None:
            self.admin(f'CREATE DATABASE "{name}"')
        else:
            # A template must have no other session: end the test's own pooled ones.
            self.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       f"WHERE datname = '{template}' AND pid <> pg_backend_pid()",
                       f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session; skips without binaries or psycopg."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'psycopg[binary]')")
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin "
                    "(apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run initdb as")
    server = PostgresServer(bin_dir)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(server.folder, ignore_errors=True)
        raise
    try:
        yield server
    finally:
        server.stop()


def new_database_url(kind: str, request: pytest.FixtureRequest, folder: Path) -> str:
    """A new empty database of ``kind``: a SQLite file in ``folder``, or a database on the
    session's PostgreSQL server (the test skips when there is none)."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'db.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


def copy_database(url: str, request: pytest.FixtureRequest, folder: Path) -> str:
    """A copy of the database at ``url``: a SQLite file in ``folder``, or a new database
    on the PostgreSQL server made from it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = folder / "db.sqlite3"
        with closing(sqlite3.connect(str(parsed.database))) as src, \
                closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        return f"sqlite:///{target}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(template=parsed.database)


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def database_kind(request: pytest.FixtureRequest) -> str:
    """``sqlite`` then ``postgresql``: a module's tests run on both."""
    return request.param


@pytest.fixture
def database_url(database_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh empty database for one test, SQLite or PostgreSQL (by ``database_kind``)."""
    return new_database_url(database_kind, request, tmp_path)


def query(url: str, sql: str, **params: Any) -> Sequence[Any]:
    """The rows of ``sql`` on the database at ``url``, whatever its kind."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql), params).all()
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    """Run ``statements`` in one transaction on the database at ``url``."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()
