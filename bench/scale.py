"""The scale benchmark (``bench/run.py scale``): docwatch on a synthetic hexdocs of N
package roots, on SQLite and on PostgreSQL.

Usage (from the repository root)::

    python bench/run.py scale [--roots 500,2000,10000] [--databases sqlite,postgresql]
                              [--latency-ms 0] [--skills 100] [--no-day-change]
                              [--explain] [--concurrency 16 --per-host 4] [--out bench/out]

For each size and database, in a fresh database:

1. The world serves ``--replicate K`` copies of its three hexdocs packages (phoenix,
   phoenix_live_view, ecto), ``3 (K + 1)`` package roots: ``K = ceil(N / 3) - 1``.
   The config keeps the world's ``exdoc`` sources (every replica root added) and
   ``--skills`` skills: copies of the world's three skills, each watching the pages of
   one replica, spread over all of them.
2. A **cold** crawl (day 1, empty database), a **warm** crawl the next date (nothing
   changed: conditional requests), then ``docwatch report`` of the warm date and
   ``docwatch skills check``, each a fresh process measured with ``os.wait4`` (CPU, peak
   RSS). Unless ``--no-day-change``: the world's day 2 and a **day-change** crawl.
3. The database's size (SQLite: the file with its WAL; PostgreSQL: ``pg_database_size``)
   per 1,000 pages.
4. ``--explain`` (PostgreSQL): one more warm night in-process with every statement
   recorded, then ``EXPLAIN`` of each distinct statement; the table lists sequential
   scans of history tables (snapshots, changes, fetch errors, skill checks and gaps).

``--latency-ms 0`` (the default) measures docwatch's own cost: the wall time is then
CPU-bound on this machine, not the politeness floor (see the README's "Scale" section
for the night at the real sites' limits). PostgreSQL runs on a cluster of the
benchmark's own (``bench/pg_cluster.py``) with its durability defaults.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml
from pg_cluster import BenchCluster, postgres_bin
from run import (
    DEFAULT_OUT,
    World,
    _git_revision,
    compile_package,
    db_size_mb,
    run_measured,
    write_bench_config,
)

PACKAGES_PER_COPY = 3  # the world's hexdocs package roots: phoenix, phoenix_live_view, ecto
HISTORY_TABLES = {"snapshots", "changes", "fetch_errors", "skill_checks", "skill_gaps"}


def replicas_for(roots: int) -> int:
    """The world's ``--replicate K`` that serves at least ``roots`` package roots."""
    return max(0, math.ceil(roots / PACKAGES_PER_COPY) - 1)


def write_scale_skills(config: Path, count: int, replicas: int) -> int:
    """Replace the config's skills by ``count`` copies of them, copy ``j`` watching the
    pages of replica ``j * (replicas + 1) // count`` (0: the original packages)."""
    data = yaml.safe_load(config.read_text())
    originals = data.get("skills") or []
    if not originals:
        return 0
    skills = []
    for j in range(count):
        base = originals[j % len(originals)]
        k = j * (replicas + 1) // count
        name = f"{base['name']}-{j + 1}"
        text = (config.parent / base["path"]).read_text(encoding="utf-8")
        path = Path("scale-skills") / name / "SKILL.md"
        (config.parent / path).parent.mkdir(parents=True, exist_ok=True)
        (config.parent / path).write_text(
            re.sub(r"^name: .*$", f"name: {name}", text, count=1, flags=re.M),
            encoding="utf-8")
        watches = [re.sub(r"hexdocs\.pm/(\w+)/", rf"hexdocs.pm/\1_r{k}/", w) if k else w
                   for w in base.get("watches", [])]
        skills.append({**base, "name": name, "path": str(path), "watches": watches})
    data["skills"] = skills
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return len(skills)


def _measure(cmd: list[str], log: Path, cwd: Path) -> dict[str, Any]:
    stats = run_measured(cmd, log, cwd=cwd)
    if stats.returncode not in (0, 1):  # skills check exits 1 when a line is stale
        print(f"warning: {' '.join(cmd[3:5])} exited {stats.returncode}; see {log}",
              file=sys.stderr)
    return {**asdict(stats), "cpu_s": stats.cpu_s}


def _crawl(world: World, config: Path, db: str, date: str, log: Path) -> dict[str, Any]:
    world.reset_log()
    server_cpu = world.cpu_s()
    proc = _measure([sys.executable, "-m", "crawler", "crawl", "--config", str(config),
                     "--db", db, "--date", date, "-q"], log, config.parent)
    summary = world.log_summary()
    pages = _last_run(db)
    return {"proc": proc, "world": summary, "server_cpu_s": world.cpu_s() - server_cpu,
            **pages}


def _last_run(db: str) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT pages_checked, pages_changed, errors "
                                    "FROM runs ORDER BY id DESC LIMIT 1")).one()
            stored = conn.execute(text("SELECT count(*) FROM pages")).scalar_one()
    finally:
        engine.dispose()
    return {"pages": row[0], "changed": row[1], "errors": row[2], "stored_pages": stored}


def measure_size(world: World, tmp: Path, roots: int, database: str,
                 cluster: BenchCluster | None, args: argparse.Namespace) -> dict[str, Any]:
    """Cold, warm (+ report, skills check) and day-change figures of one size on one
    database."""
    folder = tmp / f"{database}-{roots}"
    folder.mkdir()
    shutil.copytree(tmp / "skills", folder / "skills")
    config = folder / "sources.yaml"
    write_bench_config(tmp / "sources.yaml", config, args.concurrency, args.per_host)
    data = yaml.safe_load(config.read_text())
    data["report"]["dir"] = str(folder / "reports")
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    skills = write_scale_skills(config, args.skills, replicas_for(roots))
    name = f"scale_{roots}"
    db = (cluster.create_database(name) if cluster is not None
          else f"sqlite:///{folder / 'db.sqlite3'}")
    day1 = world.set_day(1)["date"]
    warm = (dt.date.fromisoformat(day1) + dt.timedelta(days=1)).isoformat()
    out: dict[str, Any] = {"roots": roots, "database": database, "skills": skills}
    out["cold"] = _crawl(world, config, db, day1, folder / "cold.log")
    _say(roots, database, "cold", out["cold"])
    out["warm"] = _crawl(world, config, db, warm, folder / "warm.log")
    _say(roots, database, "warm", out["warm"])
    dw = [sys.executable, "-m", "crawler"]
    out["report"] = _measure([*dw, "report", "--config", str(config), "--db", db,
                              "--date", warm], folder / "report.log", folder)
    out["skills_check"] = _measure([*dw, "skills", "check", "--config", str(config),
                                    "--db", db], folder / "skills.log", folder)
    print(f"  {database} {roots}: report {out['report']['wall_s']:.1f} s, skills check "
          f"{out['skills_check']['wall_s']:.1f} s", file=sys.stderr)
    out["db_mb"] = (cluster.database_mb(name) if cluster is not None
                    else db_size_mb(folder / "db.sqlite3"))
    if args.explain and cluster is not None:
        out["explain"] = _explain(config, db, warm, folder)
    if not args.no_day_change:
        day2 = world.set_day(2)["date"]
        out["day_change"] = _crawl(world, config, db, day2, folder / "day-change.log")
        _say(roots, database, "day change", out["day_change"])
    if not args.keep_tmp:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def _say(roots: int, database: str, step: str, m: dict[str, Any]) -> None:
    p = m["proc"]
    print(f"  {database} {roots} {step}: {m['pages']} pages, wall {p['wall_s']:.0f} s, "
          f"CPU {p['cpu_s']:.0f} s, RSS {p['maxrss_mb']:.0f} MB, "
          f"{m['world']['requests']} requests ({m['world']['not_modified']} x 304), "
          f"exit {p['returncode']}", file=sys.stderr)


def _explain(config: Path, db: str, warm: str, folder: Path) -> list[dict[str, Any]]:
    """One more warm night in-process (``explain-night``, a process of its own): the
    statements whose plan scans a history table whole."""
    night = (dt.date.fromisoformat(warm) + dt.timedelta(days=1)).isoformat()
    cmd = [sys.executable, str(Path(__file__).with_name("run.py")), "explain-night",
           "--config", str(config), "--db-url", db, "--date", night]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=folder)
    (folder / "explain.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        print(f"warning: explain-night failed; see {folder / 'explain.log'}",
              file=sys.stderr)
        return []
    found: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def explain_night_main(args: argparse.Namespace) -> None:
    """Internal: ``docwatch crawl`` and ``docwatch skills check``, in this process with
    every statement recorded, then the ``EXPLAIN`` of each distinct one; prints the
    history-table scans as JSON."""
    from sqlalchemy import Engine, create_engine, event

    from crawler.cli import cli

    seen: dict[str, Any] = {}

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               executemany: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
            seen.setdefault(statement, parameters[0] if executemany else parameters)

    event.listen(Engine, "before_cursor_execute", record)  # every engine the commands open
    common = ["--config", str(args.config), "--db", args.db_url]
    for command in (["crawl", *common, "--date", args.date, "-q"], ["skills", "check", *common]):
        try:
            cli.main(command, prog_name="docwatch", standalone_mode=False)
        except SystemExit as done:  # skills check: 1 when a line is stale
            if done.code not in (None, 0, 1):
                raise
    event.remove(Engine, "before_cursor_execute", record)
    scans = []
    engine = create_engine(args.db_url)
    with engine.connect() as conn:
        for statement, parameters in seen.items():
            plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement,
                                                           parameters)]
            whole = sorted({m.group(1) for line in plan
                            if (m := re.search(r"Seq Scan on (\w+)", line))
                            and m.group(1) in HISTORY_TABLES})
            if whole:
                scans.append({"tables": whole, "statement": " ".join(statement.split()),
                              "plan": plan})
    engine.dispose()
    print(f"{len(seen)} distinct statements", file=sys.stderr)
    print(json.dumps(scans))


# --------------------------------------------------------------------------- table

ROWS: list[tuple[str, Any, str]] = [
    ("roots", lambda r: r["roots"], "{:.0f}"),
    ("pages (cold)", lambda r: r["cold"]["pages"], "{:.0f}"),
    ("cold CPU per page (ms)", lambda r: _per_page(r["cold"]), "{:.2f}"),
    ("cold peak RSS (MB)", lambda r: r["cold"]["proc"]["maxrss_mb"], "{:.0f}"),
    ("cold wall (s)", lambda r: r["cold"]["proc"]["wall_s"], "{:.0f}"),
    ("warm CPU per page (ms)", lambda r: _per_page(r["warm"]), "{:.2f}"),
    ("warm peak RSS (MB)", lambda r: r["warm"]["proc"]["maxrss_mb"], "{:.0f}"),
    ("warm wall (s)", lambda r: r["warm"]["proc"]["wall_s"], "{:.0f}"),
    ("warm requests", lambda r: r["warm"]["world"]["requests"], "{:.0f}"),
    ("warm 304 share (%)", lambda r: _share_304(r["warm"]), "{:.1f}"),
    ("database MB per 1,000 pages", lambda r: 1000 * r["db_mb"] / r["cold"]["pages"],
     "{:.1f}"),
    ("report, warm date (s)", lambda r: r["report"]["wall_s"], "{:.1f}"),
    ("report peak RSS (MB)", lambda r: r["report"]["maxrss_mb"], "{:.0f}"),
    ("skills check (s)", lambda r: r["skills_check"]["wall_s"], "{:.1f}"),
    ("skills check peak RSS (MB)", lambda r: r["skills_check"]["maxrss_mb"], "{:.0f}"),
    ("day-change CPU per page (ms)", lambda r: _per_page(r["day_change"])
     if "day_change" in r else None, "{:.2f}"),
    ("day-change peak RSS (MB)", lambda r: r["day_change"]["proc"]["maxrss_mb"]
     if "day_change" in r else None, "{:.0f}"),
    ("day-change pages changed", lambda r: r["day_change"]["changed"]
     if "day_change" in r else None, "{:.0f}"),
    ("history-table scans (EXPLAIN)", lambda r: len(r["explain"]) if "explain" in r
     else None, "{:.0f}"),
]


def _per_page(m: dict[str, Any]) -> float | None:
    return 1000 * m["proc"]["cpu_s"] / m["pages"] if m["pages"] else None


def _share_304(m: dict[str, Any]) -> float | None:
    w = m["world"]
    return 100 * w["not_modified"] / w["requests"] if w["requests"] else None


def scale_table(results: list[dict[str, Any]]) -> str:
    """One column per (database, roots), one row per figure, as a Markdown table."""
    heads = [f"{r['database']} {r['roots']:,}" for r in results]
    lines = ["| figure | " + " | ".join(heads) + " |",
             "|---|" + "---:|" * len(heads)]
    for label, get, fmt in ROWS:
        cells = []
        for r in results:
            try:
                value = get(r)
            except (KeyError, TypeError, ZeroDivisionError):
                value = None
            cells.append("-" if value is None else fmt.format(value))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scale_main(args: argparse.Namespace) -> None:
    """Every size on every database; the table, and the raw figures as JSON."""
    compile_package()
    sizes = [int(n) for n in str(args.roots).split(",")]
    databases = str(args.databases).split(",")
    cluster = None
    if "postgresql" in databases:
        bin_dir = postgres_bin()
        if bin_dir is None:
            sys.exit("error: no PostgreSQL binaries in /usr/lib/postgresql/*/bin")
        cluster = BenchCluster(bin_dir)
        cluster.start()
    tmp = Path(tempfile.mkdtemp(prefix="docwatch-scale-"))
    results = []
    started = time.perf_counter()
    try:
        for roots in sizes:
            world = World(Path(args.world), replicas_for(roots), args.latency_ms,
                          tmp / "sources.yaml", tmp / f"world-{roots}.log")
            try:
                for database in databases:
                    results.append(measure_size(world, tmp, roots, database,
                                                cluster if database == "postgresql"
                                                else None, args))
            finally:
                world.stop()
    finally:
        if cluster is not None:
            cluster.stop(keep=args.keep_tmp)
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    table = scale_table(results)
    print(f"\nscale: latency {args.latency_ms:g} ms, concurrency {args.concurrency}, "
          f"per host {args.per_host}, {args.skills} skills; "
          f"{time.perf_counter() - started:.0f} s\n\n{table}")
    out = Path(args.out or DEFAULT_OUT)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"scale-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()},
                                "revision": _git_revision(), "results": results,
                                "table": table}, indent=2, default=str) + "\n")
    print(f"\nraw numbers: {path}")
