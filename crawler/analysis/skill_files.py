"""The skill files (SKILL.md) of the configured skills, read once per report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from crawler.config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkillFile:
    """The file of one skill, as it reads now."""

    name: str  # the skill's
    path: Path
    text: str
    watches: tuple[str, ...] = ()  # the skill's watch globs: the docs it is about

    @property
    def lines(self) -> list[tuple[int, str]]:
        """The lines after the YAML front matter, numbered as in the file."""
        return numbered_lines(self.text)


def read_skill_files(config: Config) -> tuple[SkillFile, ...]:
    """The file of every skill that has one, in the order the skills are configured."""
    files = []
    for skill in config.skills:
        path = config.skill_path(skill)
        if path is None or not path.is_file():
            continue
        try:
            files.append(SkillFile(skill.name, path, path.read_text(encoding="utf-8"),
                                   tuple(skill.watches)))
        except (OSError, UnicodeDecodeError) as exc:
            # Checked when the configuration was read; changed since: this skill only.
            log.warning("skill %s: %s cannot be read as UTF-8 text (%s); not checked",
                        skill.name, path, exc)
    return tuple(files)


def skill_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of a SKILL.md after its YAML front matter, numbered as in the file."""
    return numbered_lines(path.read_text(encoding="utf-8"))


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """The lines of a SKILL.md's text after its front matter, numbered from 1."""
    lines = text.splitlines()
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
        start = end + 1 if end is not None else 0
    return [(i + 1, line) for i, line in enumerate(lines) if i >= start]
