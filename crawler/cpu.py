"""CPU work off the event loop: page extraction in a worker process on big runs.

A crawl is bound by politeness (a few requests in flight per host), but the event loop
also parses every page; on a large run that parsing, not the network, sets the pace.
Past ``INLINE_LIMIT`` pages, extraction moves to a worker process so the loop keeps the
host's slots busy. Small runs (and ``DOCWATCH_WORKERS=0``) stay in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")
INLINE_LIMIT = 50  # pages extracted in-process before a worker is worth its start-up
# How often a worker looks whether the run that started it is still there (s): the
# longest a worker outlives a run killed with SIGKILL.
PARENT_POLL_SECONDS = 0.5


class Offloader:
    """Runs CPU-heavy pure functions, inline at first, then in a worker process."""

    def __init__(self, workers: int):
        self.workers = workers
        self.calls = 0
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        self.calls += 1
        if self.workers <= 0 or self.calls <= INLINE_LIMIT:
            return fn(*args)
        if self._pool is None:
            # spawn: the run holds threads (the lock heartbeat) that fork would copy, and a
            # direct child's CPU time is accounted to this process when it is reaped.
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=exit_with_parent, initargs=(os.getpid(),))
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args))

    def close(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None


def exit_with_parent(parent: int) -> None:
    """In a worker process: end it as soon as ``parent`` (the run) is gone.

    A worker waits for pages on a pipe whose write end it holds itself, so a run killed
    with SIGKILL sends it no EOF: it would wait forever, an orphan, and keep the
    multiprocessing resource tracker (which waits for the EOF of every holder of its
    pipe) alive too. A daemon thread watches the parent instead: once the worker's parent
    is no longer ``parent`` (re-parented to init or a subreaper), the worker exits at
    once. Polling ``os.getppid`` rather than ``PR_SET_PDEATHSIG``: the latter fires when
    the *thread* that spawned the worker ends, which is not the run ending, and is
    Linux-only.
    """
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)  # the worker's own process: nothing of the run is left to serve

    threading.Thread(target=watch, name="docwatch-parent-watch", daemon=True).start()


def default_workers() -> int:
    """``DOCWATCH_WORKERS``, else one worker per spare core (none on a single core)."""
    configured = os.environ.get("DOCWATCH_WORKERS")
    if configured is not None and configured.strip().isdigit():
        return int(configured)
    return max(0, min(2, (os.cpu_count() or 1) - 1))


@contextlib.contextmanager
def offloader(workers: int | None = None) -> Iterator[Offloader]:
    pool = Offloader(default_workers() if workers is None else workers)
    try:
        yield pool
    except BaseException:
        pool.close(wait=False)  # interrupted: abandon queued pages
        raise
    pool.close()
