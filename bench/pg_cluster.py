"""A PostgreSQL cluster of the benchmark's own, in a temp folder, on a free port.

Unlike the tests' throwaway server it keeps PostgreSQL's durability defaults (fsync,
synchronous commit), so the figures are those of a real team's server on this machine.
``initdb`` refuses root: as root the cluster belongs to the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def postgres_bin() -> Path | None:
    """The newest of Debian's PostgreSQL binary folders, if any."""
    found = sorted((Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
                   key=lambda folder: int(folder.parent.name)
                   if folder.parent.name.isdigit() else 0)
    return found[-1] if found else None


class BenchCluster:
    """``initdb`` + ``pg_ctl start`` on start, ``pg_ctl stop`` and the folder removed on
    stop; one database per measured configuration (:meth:`create_database`)."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        with contextlib.closing(socket.socket()) as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="docwatch-bench-pg-", dir="/tmp"))
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        os.chmod(self.folder, 0o700)

    def _run(self, program: str, *args: str) -> str:
        command = [str(self.bin_dir / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self) -> None:
        self._run("initdb", "-D", str(self.folder / "data"), "-A", "trust", "-U",
                  "postgres", "-E", "UTF8")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "start", "-w", "-D", str(self.folder / "data"), "-o", options,
                  "-l", str(self.folder / "server.log"))

    def stop(self, keep: bool = False) -> None:
        """Stop the server; ``keep``: leave its folder (``pg_ctl start -D FOLDER/data``
        serves the measured databases again, to profile them)."""
        try:
            self._run("pg_ctl", "stop", "-m", "fast", "-D", str(self.folder / "data"))
        finally:
            if keep:
                print(f"PostgreSQL cluster kept in {self.folder}", file=sys.stderr)
            else:
                shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def database_mb(self, name: str) -> float:
        """The size of database ``name`` on disk (tables, indexes, TOAST)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            row = conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
        return row[0] / 1e6 if row else float("nan")
