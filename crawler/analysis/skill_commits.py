"""The subjects of the commits that touched a skill file, when its folder is a git work
tree: what the maintainers said they changed (the note's Decisions).

Read with ``git log`` in a subprocess, bounded in time and in length. Without git, outside
a repository, or when git fails or hangs, a skill simply has no commit subjects: a
report never fails because of git.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

GIT_TIMEOUT_S = 5.0
MAX_SUBJECTS = 20  # the newest; the note shows fewer


def commit_subjects(path: Path, since: dt.datetime,
                    timeout: float = GIT_TIMEOUT_S) -> tuple[str, ...]:
    """The subjects of the commits to ``path`` committed at or after ``since`` (naive
    UTC), newest first, merges left out; () when there is no git history to read."""
    # Whole seconds (git's resolution), rounded down: a commit of the same second counts.
    after = f"{since:%Y-%m-%d %H:%M:%S} +0000"
    command = ["git", "-C", str(path.parent), "-c", "log.showSignature=false", "log",
               "--no-merges", f"--max-count={MAX_SUBJECTS}", "--format=%s",
               f"--since={after}", "--", path.name]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0",
           "LC_ALL": "C"}
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError) as exc:  # no git, or it hung
        log.debug("git log of %s: %s", path, exc)
        return ()
    if done.returncode != 0:  # not a work tree, or a repository git refuses to read
        return ()
    lines = done.stdout.decode("utf-8", errors="replace").splitlines()
    return tuple(line.strip() for line in lines if line.strip())
