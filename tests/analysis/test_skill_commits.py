"""A skill file's commit subjects come from git when there is one, and a report never
fails for want of git: no git, no repository or a git that hangs give no subjects."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time

import pytest

from crawler.analysis.skill_commits import commit_subjects

EPOCH = dt.datetime(2000, 1, 1)


def test_a_file_outside_any_repository_has_no_subjects(tmp_path):
    skill = tmp_path / "SKILL.md"
    skill.write_text("# A skill\n")
    assert commit_subjects(skill, EPOCH) == ()


def test_without_git_on_the_path_there_are_no_subjects(tmp_path, monkeypatch):
    skill = tmp_path / "SKILL.md"
    skill.write_text("# A skill\n")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert commit_subjects(skill, EPOCH) == ()


def test_a_git_that_hangs_is_given_up_on(tmp_path, monkeypatch):
    if shutil.which("sh") is None:
        pytest.skip("no sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "git"
    fake.write_text("#!/bin/sh\nsleep 30\n")
    fake.chmod(0o755)
    skill = tmp_path / "SKILL.md"
    skill.write_text("# A skill\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")

    started = time.monotonic()
    assert commit_subjects(skill, EPOCH, timeout=0.5) == ()
    assert time.monotonic() - started < 10
