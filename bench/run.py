"""docwatch performance benchmark (issue "Performance"), against the offline hexdocs world.

Usage (from the repository root; any interpreter works, the script re-runs itself with
``.venv/bin/python`` when ``crawler`` is not importable)::

    python bench/run.py [--world ../shared/world] [--replicate K] [--latency-ms L]
                        [--runs N] [--concurrency 16 --per-host 4] [--skip-urlwatch]
                        [--out bench/out]
    python bench/run.py micro          # diff and report-rendering micro-benchmarks
    python bench/run.py table --results bench/out/results-<timestamp>.json  # print again
    python bench/run.py profile        # a cold crawl under py-spy: CPU by component

Defaults: ``--replicate 28 --latency-ms 20 --runs 3 --concurrency 16 --per-host 4``.
That takes about 10-13 minutes on a 2-core machine (each docwatch run about 2.5 min,
each urlwatch cold + warm pair about 1.5 min); ``--urlwatch-runs 1`` or ``--runs 1``
shortens it. A process that exits with an error is reported and left out of the
medians.

What the crawl benchmark does
-----------------------------
0. Byte-compiles ``crawler/`` (as installing the wheel does; urlwatch comes from pip
   with its ``.pyc`` files), so no process spends its start compiling source.
1. Starts the world (``serve.py --replicate K --latency-ms L --write-sources``), keeps
   only the ``exdoc`` sources of the config it writes and sets
   ``http: {concurrency: C, per_host: P}``. Without replicas a day-1 crawl finds 70
   guide pages (52 phoenix + phoenix_live_view, 18 ecto); every replica copies all
   three packages, so a crawl sees ``70 * (K + 1)`` pages. The default ``K = 28``
   gives 2,030 pages on day 1 (and 2,320 on day 2).
2. For each of N runs, in a fresh database and a fresh ``python -m crawler crawl``
   process each time: a **cold** crawl on day 1, a **warm** re-crawl (nothing changed;
   conditional requests should answer 304) and a **day-change** crawl after switching
   the world to day 2. Each process is reaped with ``os.wait4``, which gives that
   process's own CPU time and peak RSS. Requests, 304s and the peak number of requests
   in flight come from the world's ``/__world/log`` (reset before each crawl); bytes
   received and the in-process crawl time come from the ``runs`` row docwatch writes.
   After the day-change crawl, a fresh process (``report-time``, internal) re-runs
   ``crawler.diff.diff_texts`` on every modified page of that run and times
   ``build_report`` + ``write_report``: the "diff" and "report" rows.
3. Unless ``--skip-urlwatch``: creates ``<out>/urlwatch-venv`` with
   ``urlwatch==2.29 html2text`` (from PyPI, once), writes a urlwatch job list of the
   very page URLs docwatch crawled cold (``pages.url``, active exdoc pages), each job
   filtered by ``css: '#top-content'`` then ``html2text: pyhtml2text`` (the Python
   html2text module, the closest to docwatch's Markdown normalisation), and runs it
   cold (empty cache) and warm, on day 1, measured the same way. urlwatch 2.29 has no
   setting for its worker count (``urlwatch.worker.MAX_WORKERS = 10`` is a module
   constant), so the bench sets that constant before calling ``urlwatch.cli.main``:
   by default to ``min(C, P)``, the concurrency docwatch may use against the world's
   single ``host:port``. urlwatch has no per-host limit, so with 10 workers it would
   simply be less polite.
4. Prints one table (medians over the N runs) and writes every raw number to
   ``<out>/results-<timestamp>.json``.

The floor
---------
All of the world lives on one ``127.0.0.1:PORT``, and docwatch's per-host limit is keyed
by the URL's netloc, so at most ``min(C, P)`` requests are in flight. Each request
costs at least the injected latency, hence ``floor = pages * latency / min(C, P)``;
``wall / floor`` says how close a crawl gets to it. docwatch also fetches discovery
documents: on a cold crawl the root stub, the sidebar index and, when it is not a guide
page itself, the main page of each package root (204 requests for the 87 roots of
``--replicate 28``); on a warm crawl only main pages that are not guides (29). The
"floor by requests" row counts them (``requests * latency / min(C, P)``).

Caveats
-------
* The world is a single Python ``ThreadingHTTPServer`` sharing the machine's cores
  with the crawler; its own CPU time during each crawl is shown as "server CPU".
* urlwatch's bytes received are not measured (no counter in urlwatch or the world).
* The benchmark is not part of the test suite; it writes only under ``--out`` and a
  temporary folder (``--keep-tmp`` keeps it).

Profile (``profile``): one cold crawl (same world settings) under
``py-spy record --subprocesses`` (``pip install -e '.[bench]'``), the raw profile saved
under ``--out``, and a summary: CPU samples by component (the deepest frame that
belongs to one: HTTP client, extraction, store, worker hand-off, imports, ...) and the
functions with the most self time. Samples whose innermost frame is a blocking wait
(selector, lock, pipe read/write) are left out: py-spy counts some of them as active.

Micro-benchmarks (``micro``): ``diff_texts`` on a 5,000-line text with 50 scattered
edits (median of 20 runs) and ``render_markdown`` + ``render_json`` of an in-memory
report with 500 modified pages (median of 20 runs).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORLD = REPO.parent / "shared" / "world"
DEFAULT_OUT = REPO / "bench" / "out"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PAGES_PER_COPY = 70  # exdoc guide pages a day-1 crawl finds without replicas
DEFAULT_REPLICATE = 28  # 70 * 29 = 2,030 pages on day 1
URLWATCH_SPEC = ["urlwatch==2.29", "html2text"]
URLWATCH_SELECTOR = "#top-content"
URLWATCH_MAIN = ("import sys, urlwatch.worker as w; w.MAX_WORKERS = int(sys.argv.pop(1)); "
                 "sys.argv[0] = 'urlwatch'; from urlwatch.cli import main; main()")
COLUMNS = ["dw cold", "dw warm", "dw day-change", "uw cold", "uw warm"]


def _ensure_crawler() -> None:
    """Re-run this script under the repository's venv when ``crawler`` is not importable."""
    try:
        import crawler  # noqa: F401
    except ImportError:
        if VENV_PYTHON.exists() and Path(sys.executable) != VENV_PYTHON:
            os.execv(VENV_PYTHON, [str(VENV_PYTHON), __file__, *sys.argv[1:]])
        sys.exit("error: the crawler package is not importable; install docwatch "
                 "(pip install -e .) or create .venv")


# --------------------------------------------------------------------------- processes


@dataclass
class ProcStats:
    """Resource use of one finished child process (from ``os.wait4``)."""

    wall_s: float
    user_s: float
    sys_s: float
    maxrss_mb: float
    returncode: int

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


# Starts the command of argv[2:], waits for it and writes its os.wait4 figures to the
# file argv[1]. A child's ru_maxrss is at least the peak RSS of the process that started
# it (Linux keeps the high-water mark of the address space exec replaces), and the
# benchmark grows as it reads the world's request log (some 200 MB at 10,000 roots): a
# launcher of a few MB starts each measured command instead.
_LAUNCHER = """\
import json, os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump([os.waitstatus_to_exitcode(status), usage.ru_utime, usage.ru_stime,
               usage.ru_maxrss], out)
"""


def run_measured(cmd: list[str], log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> ProcStats:
    """Run ``cmd`` to completion, output to ``log_path``; its own wall, CPU and peak RSS
    (the benchmark's own memory not counted, see ``_LAUNCHER``)."""
    figures = log_path.with_name(log_path.name + ".rusage.json")
    figures.unlink(missing_ok=True)
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", _LAUNCHER, str(figures.resolve()), *cmd],
                       stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, check=True)
        wall = time.perf_counter() - start
    returncode, user_s, sys_s, maxrss_kb = json.loads(figures.read_text())
    figures.unlink()
    return ProcStats(wall, user_s, sys_s, maxrss_kb / 1024, returncode)


def process_cpu_s(pid: int) -> float:
    """CPU time (user + system) a live process has used so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the world


class World:
    """The offline world server, started for the benchmark and stopped at the end."""

    def __init__(self, world_dir: Path, replicate: int, latency_ms: float,
                 sources_path: Path, log_path: Path):
        cmd = [sys.executable, str(world_dir / "serve.py"), "--port", "0", "--day", "1",
               "--replicate", str(replicate), "--latency-ms", str(latency_ms),
               "--write-sources", str(sources_path)]
        self._stderr = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr,
                                     text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the world did not start (got {line!r}); see {log_path}")
        self.base = line.split()[1]

    def request(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(self.base + path, method=method)
        with urllib.request.urlopen(req, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def set_day(self, day: int) -> dict[str, Any]:
        return self.request(f"/__world/day/{day}", "POST")

    def reset_log(self) -> None:
        self.request("/__world/log/reset", "POST")

    def log_summary(self) -> dict[str, Any]:
        """Totals of ``/__world/log``: requests, conditional requests, 304s, statuses."""
        log = self.request("/__world/log")
        statuses: dict[str, int] = {}
        conditional = not_modified = 0
        for entry in log.get("paths", {}).values():
            conditional += entry.get("conditional", 0)
            not_modified += entry.get("not_modified", 0)
            for code, count in entry.get("statuses", {}).items():
                statuses[code] = statuses.get(code, 0) + count
        return {"requests": log.get("requests", 0), "conditional": conditional,
                "not_modified": not_modified, "statuses": statuses,
                "max_inflight": log.get("max_inflight", 0),
                "max_inflight_per_host": log.get("max_inflight_per_host", {})}

    def cpu_s(self) -> float:
        return process_cpu_s(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()


# --------------------------------------------------------------------------- docwatch


def write_bench_config(world_sources: Path, dest: Path, concurrency: int, per_host: int
                       ) -> list[str]:
    """Rewrite the world's config: exdoc sources only, the given HTTP limits."""
    import yaml

    data = yaml.safe_load(world_sources.read_text())
    data["sources"] = [s for s in data.get("sources", []) if s.get("kind") == "exdoc"]
    data["http"] = {**(data.get("http") or {}), "concurrency": concurrency,
                    "per_host": per_host}
    dest.write_text(yaml.safe_dump(data, sort_keys=False))
    return [s["name"] for s in data["sources"]]


def db_size_mb(db_file: Path) -> float:
    """Size of the SQLite database with its WAL and shared-memory files."""
    parts = [db_file, db_file.with_name(db_file.name + "-wal"),
             db_file.with_name(db_file.name + "-shm")]
    return sum(p.stat().st_size for p in parts if p.exists()) / 1e6


def last_run_row(db_file: Path) -> dict[str, Any]:
    """The newest ``runs`` row docwatch wrote, with its in-process duration."""
    with contextlib.closing(sqlite3.connect(db_file)) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    out = dict(row) if row else {}
    if row and row["finished_at"]:
        started = dt.datetime.fromisoformat(row["started_at"])
        finished = dt.datetime.fromisoformat(row["finished_at"])
        out["crawl_phase_s"] = (finished - started).total_seconds()
    return out


def crawled_urls(db_file: Path, sources: list[str]) -> list[str]:
    """The guide page URLs docwatch crawled: active pages of the exdoc sources."""
    marks = ",".join("?" * len(sources))
    with contextlib.closing(sqlite3.connect(db_file)) as conn:
        rows = conn.execute(f"SELECT url FROM pages WHERE status = 'active' AND item = 'page' "
                            f"AND source IN ({marks}) ORDER BY id", sources).fetchall()
    return [r[0] for r in rows]


def measure_docwatch(world: World, python: str, config: Path, db_file: Path, date: str,
                     log_path: Path) -> dict[str, Any]:
    """One ``docwatch crawl`` in a fresh process, with the world's and docwatch's figures."""
    world.reset_log()
    server_cpu = world.cpu_s()
    cmd = [python, "-m", "crawler", "crawl", "--config", str(config),
           "--db", f"sqlite:///{db_file}", "--date", date]
    stats = run_measured(cmd, log_path, cwd=config.parent)
    server_cpu = world.cpu_s() - server_cpu
    if stats.returncode != 0:
        print(f"warning: crawl exited {stats.returncode}; see {log_path}", file=sys.stderr)
    run = last_run_row(db_file)
    return {"proc": {**asdict(stats), "cpu_s": stats.cpu_s}, "world": world.log_summary(),
            "run": run,
            "server_cpu_s": server_cpu, "db_mb": db_size_mb(db_file),
            "pages": run.get("pages_checked", 0), "errors": run.get("errors")}


def time_report_step(python: str, config: Path, db_file: Path, date: str, out_dir: Path,
                     log_path: Path) -> dict[str, Any]:
    """Diff + report timing of one dated run, in a fresh process (``report-time``)."""
    cmd = [python, __file__, "report-time", "--config", str(config), "--db", str(db_file),
           "--date", date, "--report-dir", str(out_dir)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    log_path.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        print(f"warning: report-time failed; see {log_path}", file=sys.stderr)
        return {}
    return json.loads(result.stdout.strip().splitlines()[-1])


def report_time_main(args: argparse.Namespace) -> None:
    """Internal: time diff_texts over a run's modified pages, then build + write its report."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session, aliased

    from crawler.config import load_config
    from crawler.diff import diff_texts
    from crawler.report import build_report, write_report
    from crawler.store.db import open_database
    from crawler.store.models import Change, Run, Snapshot
    from crawler.types import ChangeKind

    config = load_config(args.config)
    engine = open_database(f"sqlite:///{args.db}")
    date = dt.date.fromisoformat(args.date)
    old, new = aliased(Snapshot), aliased(Snapshot)
    with Session(engine) as session:
        pairs = session.execute(
            select(old.content, new.content).select_from(Change)
            .join(Run, Change.report_run_id == Run.id)
            .join(old, Change.old_snapshot_id == old.id)
            .join(new, Change.new_snapshot_id == new.id)
            .where(Run.run_date == date, Change.kind == ChangeKind.MODIFIED)).all()
    start = time.perf_counter()
    for old_text, new_text in pairs:
        diff_texts(old_text, new_text)
    diff_s = time.perf_counter() - start
    start = time.perf_counter()
    report = build_report(engine, config, date)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    paths = write_report(report, Path(args.report_dir))
    write_s = time.perf_counter() - start
    print(json.dumps({"diff_s": diff_s, "diffed_pages": len(pairs), "build_s": build_s,
                      "write_s": write_s, "report_s": build_s + write_s,
                      "report_changes": len(report.changes),
                      "report_bytes": sum(p.stat().st_size for p in paths)}))


# --------------------------------------------------------------------------- urlwatch


def ensure_urlwatch(venv: Path) -> Path:
    """The Python of a venv holding urlwatch 2.29 and html2text (created once)."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import html2text, urlwatch; print(urlwatch.__version__)"]
    if python.exists():
        found = subprocess.run(check, capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip() == "2.29":
            return python
    print(f"creating {venv} with {' '.join(URLWATCH_SPEC)} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", *URLWATCH_SPEC],
                         capture_output=True, text=True, check=False)
    if pip.returncode != 0:
        sys.exit(f"error: pip install {' '.join(URLWATCH_SPEC)} failed:\n{pip.stderr}")
    subprocess.run(check, check=True, capture_output=True)
    return python


def write_urlwatch_files(folder: Path, urls: list[str]) -> tuple[Path, Path]:
    """A job list (one job per URL, same filters for all) and a quiet config."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    jobs = [{"url": url, "filter": [{"css": URLWATCH_SELECTOR},
                                    {"html2text": {"method": "pyhtml2text"}}]}
            for url in urls]
    jobs_path, config_path = folder / "jobs.yaml", folder / "urlwatch.yaml"
    jobs_path.write_text(yaml.safe_dump_all(jobs, sort_keys=False))
    config_path.write_text(yaml.safe_dump({"report": {"stdout": {"enabled": True,
                                                                 "color": False}}}))
    return jobs_path, config_path


def measure_urlwatch(world: World, python: Path, folder: Path, workers: int, pages: int,
                     cold: bool, log_path: Path) -> dict[str, Any]:
    """One urlwatch run over the job list (cold: with an empty cache)."""
    cache = folder / "cache.db"
    if cold:
        cache.unlink(missing_ok=True)
    home = folder / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    cmd = [str(python), "-c", URLWATCH_MAIN, str(workers), "--urls", str(folder / "jobs.yaml"),
           "--config", str(folder / "urlwatch.yaml"), "--cache", str(cache)]
    world.reset_log()
    server_cpu = world.cpu_s()
    stats = run_measured(cmd, log_path, env=env, cwd=folder)
    server_cpu = world.cpu_s() - server_cpu
    if stats.returncode != 0:
        print(f"warning: urlwatch exited {stats.returncode}; see {log_path}", file=sys.stderr)
    return {"proc": {**asdict(stats), "cpu_s": stats.cpu_s}, "world": world.log_summary(),
            "server_cpu_s": server_cpu,
            "db_mb": cache.stat().st_size / 1e6 if cache.exists() else None, "pages": pages}


# --------------------------------------------------------------------------- table


@dataclass
class Row:
    """One metric of the table: its label and how to read it from a measurement."""

    label: str
    get: Callable[[dict[str, Any]], float | None]
    fmt: str = "{:.2f}"
    ratio: bool = False  # also show docwatch / urlwatch


def _per_page(m: dict[str, Any]) -> float | None:
    return m["proc"]["cpu_s"] * 1000 / m["pages"] if m.get("pages") else None


def _share_304(m: dict[str, Any]) -> float | None:
    w = m["world"]
    return 100 * w["not_modified"] / w["requests"] if w["requests"] else None


def _host_inflight(m: dict[str, Any]) -> float | None:
    per_host = m["world"]["max_inflight_per_host"]
    return max(per_host.values()) if per_host else None


def rows(latency_s: float, allowed: int) -> list[Row]:
    """The metrics of the table, in order."""
    def floor(m: dict[str, Any]) -> float:
        return m["pages"] * latency_s / allowed

    return [
        Row("pages checked", lambda m: m["pages"], "{:.0f}"),
        Row("wall (s)", lambda m: m["proc"]["wall_s"], ratio=True),
        Row("CPU user+sys (s)", lambda m: m["proc"]["cpu_s"]),
        Row("CPU per page (ms)", _per_page, ratio=True),
        Row("peak RSS (MB)", lambda m: m["proc"]["maxrss_mb"], "{:.1f}", ratio=True),
        Row("requests (world log)", lambda m: m["world"]["requests"], "{:.0f}"),
        Row("304 share (%)", _share_304, "{:.1f}"),
        Row("bytes received (MB)", lambda m: (m.get("run") or {}).get("bytes_received",
                                                                      0) / 1e6
            if m.get("run") else None),
        Row("database size (MB)", lambda m: m.get("db_mb")),
        Row("max in flight per host", _host_inflight, "{:.0f}"),
        Row("server CPU (s)", lambda m: m.get("server_cpu_s")),
        Row("crawl phase in-process (s)", lambda m: (m.get("run") or {}).get("crawl_phase_s")),
        Row("diff, all modified pages (s)", lambda m: (m.get("report_step") or {}).get(
            "diff_s"), "{:.3f}"),
        Row("report build+write (s)", lambda m: (m.get("report_step") or {}).get(
            "report_s"), "{:.3f}"),
        Row("floor by pages (s)", floor),
        Row("floor by requests (s)", lambda m: m["world"]["requests"] * latency_s / allowed),
        Row("wall / floor by pages", lambda m: m["proc"]["wall_s"] / floor(m)
            if floor(m) else None),
    ]


def median_table(results: dict[str, list[dict[str, Any]]], table_rows: list[Row]
                 ) -> tuple[str, dict[str, dict[str, float | None]]]:
    """Text table of the medians (plus docwatch/urlwatch ratios), and the medians.

    A process that exited with an error is left out of the medians (see :func:`failures`).
    """
    medians: dict[str, dict[str, float | None]] = {}
    for row in table_rows:
        medians[row.label] = {}
        for column in COLUMNS:
            values = [v for m in results.get(column, [])
                      if m["proc"]["returncode"] == 0 and (v := row.get(m)) is not None]
            medians[row.label][column] = statistics.median(values) if values else None
    headers = ["metric", *COLUMNS, "dw/uw cold", "dw/uw warm"]
    lines = []
    for row in table_rows:
        cells = [row.label]
        for column in COLUMNS:
            value = medians[row.label][column]
            cells.append("-" if value is None else row.fmt.format(value))
        for dw, uw in (("dw cold", "uw cold"), ("dw warm", "uw warm")):
            a, b = medians[row.label][dw], medians[row.label][uw]
            cells.append(f"{a / b:.2f}x" if row.ratio and a is not None and b else "")
        lines.append(cells)
    widths = [max(len(r[i]) for r in [headers, *lines]) for i in range(len(headers))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    out = [fmt(headers), "  ".join("-" * w for w in widths), *map(fmt, lines)]
    return "\n".join(out), medians


# --------------------------------------------------------------------------- main bench


@dataclass
class Settings:
    """Everything a benchmark run was started with (saved in the JSON)."""

    world: str
    replicate: int
    latency_ms: float
    runs: int
    urlwatch_runs: int
    concurrency: int
    per_host: int
    urlwatch_workers: int
    skip_urlwatch: bool
    out: str
    python: str
    started: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())


def _git_revision() -> str:
    found = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                           capture_output=True, text=True, check=False)
    return found.stdout.strip() or "unknown"


def compile_package() -> None:
    """Byte-compile ``crawler/`` as installing the wheel would (urlwatch's venv has its
    ``.pyc`` files from pip). A checkout run with PYTHONDONTWRITEBYTECODE set would
    otherwise compile every module from source in every process it starts."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "crawler")],
                   check=True)


def bench_main(args: argparse.Namespace) -> None:
    """The crawl benchmark: docwatch cold/warm/day-change, urlwatch cold/warm, the table."""
    python = sys.executable
    compile_package()
    allowed = min(args.concurrency, args.per_host)
    settings = Settings(str(args.world), args.replicate, args.latency_ms, args.runs,
                        args.urlwatch_runs if args.urlwatch_runs is not None else args.runs,
                        args.concurrency, args.per_host, args.urlwatch_workers or allowed,
                        args.skip_urlwatch, str(args.out), python)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="docwatch-bench-"))
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in COLUMNS}
    print(f"bench: replicate={args.replicate} (~{PAGES_PER_COPY * (args.replicate + 1)} "
          f"pages), latency={args.latency_ms} ms, runs={args.runs}, "
          f"concurrency={args.concurrency}, per_host={args.per_host}; tmp={tmp}",
          file=sys.stderr)
    world = World(Path(args.world), args.replicate, args.latency_ms, tmp / "sources.yaml",
                  tmp / "world.log")
    started = time.perf_counter()
    try:
        config = tmp / "bench-sources.yaml"
        source_names = write_bench_config(tmp / "sources.yaml", config, args.concurrency,
                                          args.per_host)
        urls: list[str] = []
        for i in range(1, args.runs + 1):
            db_file = tmp / f"bench-{i}.sqlite3"
            day1 = world.set_day(1)["date"]
            warm_date = (dt.date.fromisoformat(day1) + dt.timedelta(days=1)).isoformat()
            for column, date in (("dw cold", day1), ("dw warm", warm_date)):
                m = measure_docwatch(world, python, config, db_file, date,
                                     tmp / f"{column.replace(' ', '-')}-{i}.log")
                results[column].append(m)
                _progress(column, i, m)
                if column == "dw cold" and not urls:
                    urls = crawled_urls(db_file, source_names)
            day2 = world.set_day(2)["date"]
            m = measure_docwatch(world, python, config, db_file, day2,
                                 tmp / f"dw-day-change-{i}.log")
            m["report_step"] = time_report_step(python, config, db_file, day2,
                                                tmp / f"report-timing-{i}",
                                                tmp / f"report-time-{i}.log")
            results["dw day-change"].append(m)
            _progress("dw day-change", i, m)
        if not args.skip_urlwatch:
            uw_python = ensure_urlwatch(out / "urlwatch-venv")
            folder = tmp / "urlwatch"
            write_urlwatch_files(folder, urls)
            world.set_day(1)
            for i in range(1, settings.urlwatch_runs + 1):
                for column, cold in (("uw cold", True), ("uw warm", False)):
                    m = measure_urlwatch(world, uw_python, folder, settings.urlwatch_workers,
                                         len(urls), cold,
                                         tmp / f"{column.replace(' ', '-')}-{i}.log")
                    results[column].append(m)
                    _progress(column, i, m)
    finally:
        world.stop()
    elapsed = time.perf_counter() - started
    data = {
        "settings": asdict(settings),
        "environment": {"python": platform.python_version(), "machine": platform.machine(),
                        "cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_average": os.getloadavg(),
                        "docwatch_revision": _git_revision()},
        "pages": len(urls), "allowed_concurrency": allowed, "bench_seconds": elapsed,
        "raw": results,
    }
    table, medians = summarise(data)
    print(table)
    data["medians"], data["table"] = medians, table
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out / f"results-{stamp}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"\nraw numbers: {path}")
    if args.keep_tmp:
        print(f"kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def failures(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The measured processes that exited with an error (left out of the medians)."""
    return [f"{column} #{i} (exit {m['proc']['returncode']})"
            for column in COLUMNS for i, m in enumerate(results.get(column, []), 1)
            if m["proc"]["returncode"] != 0]


def summarise(data: dict[str, Any]) -> tuple[str, dict[str, dict[str, float | None]]]:
    """The heading and table of a benchmark's results, and its medians."""
    s = data["settings"]
    table, medians = median_table(data["raw"], rows(s["latency_ms"] / 1000,
                                                    data["allowed_concurrency"]))
    head = (f"Medians of {s['runs']} run(s) (urlwatch: {s['urlwatch_runs']}); "
            f"{data['pages']} pages, latency {s['latency_ms']:g} ms, allowed concurrency "
            f"min(C={s['concurrency']}, P={s['per_host']}) = {data['allowed_concurrency']}, "
            f"urlwatch workers {s['urlwatch_workers']}; bench took "
            f"{data['bench_seconds']:.0f} s")
    failed = failures(data["raw"])
    if failed:
        head += "\nleft out of the medians (exited with an error): " + ", ".join(failed)
    return f"\n{head}\n\n{table}", medians


def table_main(args: argparse.Namespace) -> None:
    """Print the table of a saved ``results-*.json`` again."""
    if not args.results:
        sys.exit("error: table needs --results FILE")
    print(summarise(json.loads(Path(args.results).read_text()))[0])


def _progress(column: str, i: int, m: dict[str, Any]) -> None:
    p = m["proc"]
    print(f"  {column} #{i}: {m['pages']} pages, wall {p['wall_s']:.1f} s, "
          f"CPU {p['user_s'] + p['sys_s']:.1f} s, RSS {p['maxrss_mb']:.0f} MB, "
          f"{m['world']['requests']} requests ({m['world']['not_modified']} x 304), "
          f"exit {p['returncode']}", file=sys.stderr)


# --------------------------------------------------------------------------- profile

# Where a sample's CPU time goes: the component of the deepest frame that has one.
COMPONENTS = [
    ("start-up imports", ("<frozen importlib._bootstrap",)),
    ("extraction: HTML/Markdown -> text", ("crawler/extract.py",)),
    ("vocabulary and notices", ("crawler/vocab.py",)),
    ("diff of changed pages", ("crawler/diff.py",)),
    ("HTTP client (httpx, httpcore, h11)", ("httpx/", "httpcore/", "h11/",
                                            "crawler/transport.py", "crawler/http.py")),
    ("store (recorder, SQLAlchemy, sqlite3)", ("crawler/store/", "sqlalchemy/")),
    ("report, skills, staleness", ("crawler/report/", "crawler/staleness.py",
                                    "crawler/insights.py", "crawler/skills.py", "jinja2/")),
    ("worker hand-off (pickling, pipes)", ("multiprocessing/", "concurrent/futures/")),
    ("ExDoc source", ("crawler/sources/",)),
    ("configuration", ("crawler/config.py", "pydantic", "yaml/")),
]
# Samples whose innermost frame waits: py-spy counts some blocking calls as active (a
# lock wait with a timeout, a write to a full pipe, a read of an empty one).
WAITS = ("select (selectors.py", "poll (selectors.py", "Condition.wait", "Event.wait",
         "Connection._send (", "Connection._recv (", "Queue.get",
         "wait (multiprocessing/connection.py")


def _component(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, markers in COMPONENTS:
            if any(m in frame for m in markers):
                return name
    return "event loop (asyncio)" if any("asyncio/" in f for f in frames) else "other"


def _frame_name(frame: str) -> str:
    """``func (path/to/module.py:12)`` -> ``func (module.py)``."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.split(':')[0].rsplit('/', 1)[-1].rstrip(')')})"


def profile_summary(raw: Path, top: int = 15) -> tuple[str, float]:
    """A py-spy raw profile as CPU shares by component and by function (self time);
    returns the text and the largest share of any single function."""
    components: dict[str, int] = {}
    functions: dict[str, int] = {}
    total = waiting = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, n = stack.split(";")[1:], int(count)  # frame 0 names the process
        if not frames or any(w in frames[-1] for w in WAITS):
            waiting += n
            continue
        total += n
        component = _component(frames)
        components[component] = components.get(component, 0) + n
        leaf = _frame_name(frames[-1])
        functions[leaf] = functions.get(leaf, 0) + n
    if not total:
        return "no CPU samples", 0.0
    out = [f"{total} CPU samples (all processes; {waiting} samples of waiting left out)",
           "", "by component:"]
    out += [f"  {100 * n / total:5.1f} %  {name}"
            for name, n in sorted(components.items(), key=lambda kv: -kv[1])]
    out += ["", f"top {top} functions by self time:"]
    ranked = sorted(functions.items(), key=lambda kv: -kv[1])
    out += [f"  {100 * n / total:5.1f} %  {name}" for name, n in ranked[:top]]
    return "\n".join(out), 100 * ranked[0][1] / total


def profile_main(args: argparse.Namespace) -> None:
    """A cold crawl of the world under py-spy (every process), summarised."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        sys.exit("error: profile needs py-spy (pip install -e '.[bench]')")
    compile_package()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="docwatch-profile-"))
    world = World(Path(args.world), args.replicate, args.latency_ms, tmp / "sources.yaml",
                  tmp / "world.log")
    raw = out / f"profile-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.txt"
    try:
        config = tmp / "bench-sources.yaml"
        write_bench_config(tmp / "sources.yaml", config, args.concurrency, args.per_host)
        date = world.set_day(1)["date"]
        cmd = [spy, "record", "--subprocesses", "--rate", str(args.rate), "--format", "raw",
               "--output", str(raw), "--", sys.executable, "-m", "crawler", "crawl",
               "--config", str(config), "--db", f"sqlite:///{tmp / 'profile.sqlite3'}",
               "--date", date, "--quiet"]
        subprocess.run(cmd, check=True, capture_output=True, cwd=tmp)
    finally:
        world.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    text, largest = profile_summary(raw)
    print(f"cold crawl, replicate={args.replicate}, latency={args.latency_ms:g} ms; "
          f"raw profile: {raw}\n\n{text}\n\nlargest single function: {largest:.1f} %")


# --------------------------------------------------------------------------- micro


def _words(rng: random.Random, n: int) -> str:
    vocab = ["socket", "assign", "stream", "render", "changeset", "query", "router", "plug",
             "the", "a", "of", "to", "and", "with", "LiveView", "Ecto.Multi", "endpoint",
             "conn", "params", "template", "component", "handle_event", "mount", "repo"]
    return " ".join(rng.choice(vocab) for _ in range(n))


def synthetic_page(lines: int, seed: int = 1) -> list[str]:
    """A Markdown-like page: sections, subsections, paragraphs, lists and code blocks."""
    rng = random.Random(seed)
    out = ["# Synthetic guide"]
    while len(out) < lines:
        kind = rng.random()
        if len(out) % 60 == 1:
            out.append(f"## Section {len(out) // 60}")
        elif len(out) % 20 == 1:
            out.append(f"### Part {len(out)}")
        elif kind < 0.1:
            out.extend(["```elixir", f"def f{len(out)}(x), do: x + 1", "```"])
        elif kind < 0.25:
            out.append(f"- {_words(rng, 8)}")
        elif kind < 0.35:
            out.append("")
        else:
            out.append(_words(rng, rng.randint(10, 30)))
    return out[:lines]


def scattered_edits(lines: list[str], edits: int, seed: int = 2) -> list[str]:
    """``edits`` changes spread over the text: rewritten, inserted and deleted lines."""
    rng = random.Random(seed)
    out = list(lines)
    step = len(lines) // edits
    # From the end, so earlier positions stay valid.
    for k in reversed(range(edits)):
        at = k * step + rng.randrange(step)
        while at > 0 and not out[at].strip():  # blank lines never count as changes
            at -= 1
        action = k % 3
        if action == 0:
            out[at] = out[at] + " (edited)"
        elif action == 1:
            out.insert(at, _words(rng, 12))
        else:
            del out[at]
    return out


def _median_ms(fn: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    fn()  # warm-up: imports, template compilation, caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), times


def micro_report(pages: int) -> Any:
    """An in-memory Report with ``pages`` modified guide pages, 10 new ones, flagged skills
    and takeaways."""
    from crawler.analysis.facts import PageChange, SourceSummary
    from crawler.analysis.flags import flag_skills
    from crawler.analysis.takeaways import takeaways
    from crawler.config import SkillConfig
    from crawler.diff import diff_texts
    from crawler.report.model import Report
    from crawler.types import ChangeKind

    base = "https://hexdocs.pm"
    skills = [
        SkillConfig(name="phoenix-liveview", watches=[f"{base}/phoenix_live_view/*"],
                    keywords=["LiveView", "stream", "assign"]),
        SkillConfig(name="ecto-patterns", watches=[f"{base}/ecto/*"],
                    keywords=["Ecto.Multi", "changeset", "query"]),
    ]
    packages = ["phoenix", "phoenix_live_view", "ecto"]
    changes = []
    for i in range(pages):
        old = synthetic_page(120, seed=i)
        diff = diff_texts("\n".join(old), "\n".join(scattered_edits(old, 3, seed=i)))
        package = packages[i % 3]
        changes.append(PageChange(
            source="hexdocs", package=package, url=f"{base}/{package}/guide-{i}.html",
            title=f"Guide {i}", change=ChangeKind.MODIFIED, summary=diff.summary(),
            group="Guides",
            sections=tuple(diff.sections), lines_added=diff.lines_added,
            lines_removed=diff.lines_removed, diff=diff.unified,
            text=f"{diff.added_text}\n{diff.removed_text}"))
    for i in range(10):
        changes.append(PageChange(source="hexdocs", package="phoenix",
                                  url=f"{base}/phoenix/new-{i}.html", title=f"New {i}",
                                  change=ChangeKind.ADDED, text="plain words only"))
    sources = (SourceSummary(name="hexdocs", kind="exdoc", pages_checked=pages + 10,
                             pages_unchanged=0, pages_changed=pages + 10, errors=0,
                             baseline=False),)
    flags = flag_skills(changes, skills)
    return Report("Benchmark report", dt.date(2026, 2, 23), sources=sources,
                  changes=tuple(changes), skills=flags,
                  takeaways=takeaways(changes=changes, bumps=(), flags=flags, errors=()))


def micro_main(args: argparse.Namespace) -> None:
    """Micro-benchmarks: diff of a 5,000-line text, rendering a 500-page report."""
    from crawler.diff import diff_texts
    from crawler.report.render import render_json, render_markdown

    old_lines = synthetic_page(args.lines)
    old, new = "\n".join(old_lines), "\n".join(scattered_edits(old_lines, args.edits))
    diff = diff_texts(old, new)
    diff_ms, diff_times = _median_ms(lambda: diff_texts(old, new), args.repeat)
    report = micro_report(args.pages)
    md, js = render_markdown(report), render_json(report)
    md_ms, md_times = _median_ms(lambda: render_markdown(report), args.repeat)
    js_ms, js_times = _median_ms(lambda: render_json(report), args.repeat)
    both_ms, both_times = _median_ms(lambda: (render_markdown(report), render_json(report)),
                                     args.repeat)
    print(f"diff_texts, {args.lines} lines, {args.edits} scattered edits "
          f"(+{diff.lines_added} -{diff.lines_removed} in {len(diff.sections)} sections): "
          f"median {diff_ms:.1f} ms over {args.repeat} runs")
    print(f"render_markdown, {len(report.changes)} changes ({args.pages} modified), "
          f"{len(md) / 1e3:.0f} kB: median {md_ms:.1f} ms")
    print(f"render_json, same report, {len(js) / 1e3:.0f} kB: median {js_ms:.1f} ms")
    print(f"render_markdown + render_json: median {both_ms:.1f} ms")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"micro-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({
        "diff": {"lines": args.lines, "edits": args.edits, "median_ms": diff_ms,
                 "runs_ms": diff_times},
        "render": {"modified_pages": args.pages, "markdown_median_ms": md_ms,
                   "json_median_ms": js_ms, "both_median_ms": both_ms,
                   "markdown_runs_ms": md_times, "json_runs_ms": js_times,
                   "both_runs_ms": both_times, "markdown_bytes": len(md),
                   "json_bytes": len(js)},
    }, indent=2) + "\n")
    print(f"raw numbers: {path}")


# --------------------------------------------------------------------------- CLI


def parse_args(argv: list[str]) -> argparse.Namespace:
    """``[crawl]`` (default), ``micro``, or the internal ``report-time``."""
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", default="crawl",
                        choices=["crawl", "micro", "table", "profile", "scale",
                                 "report-time", "explain-night"],
                        help="crawl (default): the crawl benchmark; micro: micro-benchmarks; "
                        "table: print the table of --results FILE again; profile: a cold "
                        "crawl under py-spy, CPU by component and function; scale: "
                        "docwatch at N package roots on SQLite and PostgreSQL (bench/scale.py)")
    parser.add_argument("--world", type=Path, default=DEFAULT_WORLD,
                        help="the world folder (serve.py)")
    parser.add_argument("--replicate", type=int, default=DEFAULT_REPLICATE,
                        help=f"replicas of each package (default {DEFAULT_REPLICATE}: "
                        f"{PAGES_PER_COPY} pages per copy on day 1)")
    parser.add_argument("--latency-ms", type=float, default=None,
                        help="the world's latency per request (default 20; scale: 0)")
    parser.add_argument("--runs", type=int, default=3, help="docwatch runs (median)")
    parser.add_argument("--urlwatch-runs", type=int, default=None,
                        help="urlwatch cold+warm pairs (default: --runs)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--urlwatch-workers", type=int, default=None,
                        help="urlwatch threads (default: min(concurrency, per-host))")
    parser.add_argument("--skip-urlwatch", action="store_true")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep-tmp", action="store_true",
                        help="keep DBs, logs, configs (and scale's PostgreSQL cluster)")
    # micro
    parser.add_argument("--lines", type=int, default=5000, help="micro: lines of the text")
    parser.add_argument("--edits", type=int, default=50, help="micro: scattered edits")
    parser.add_argument("--pages", type=int, default=500, help="micro: modified pages")
    parser.add_argument("--repeat", type=int, default=20, help="micro: runs per measure")
    parser.add_argument("--results", type=Path, help="table: a results-*.json to print")
    parser.add_argument("--rate", type=int, default=250, help="profile: samples per second")
    # scale
    parser.add_argument("--roots", default="500,2000",
                        help="scale: package roots per size, comma-separated")
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="scale: sqlite, postgresql or both")
    parser.add_argument("--skills", type=int, default=100, help="scale: skills to check")
    parser.add_argument("--no-day-change", action="store_true",
                        help="scale: no day-2 crawl (its report holds every changed page)")
    parser.add_argument("--explain", action="store_true",
                        help="scale: EXPLAIN every statement of a night on PostgreSQL")
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    # report-time (internal)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--date", help=argparse.SUPPRESS)
    parser.add_argument("--report-dir", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    _ensure_crawler()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.latency_ms is None:
        args.latency_ms = 0.0 if args.command == "scale" else 20.0
    if args.command in ("scale", "explain-night"):
        import scale

        (scale.scale_main if args.command == "scale" else scale.explain_night_main)(args)
    elif args.command == "micro":
        micro_main(args)
    elif args.command == "table":
        table_main(args)
    elif args.command == "profile":
        profile_main(args)
    elif args.command == "report-time":
        report_time_main(args)
    else:
        bench_main(args)


if __name__ == "__main__":
    main()
