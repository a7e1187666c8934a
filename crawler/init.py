"""Write the starter files of a new docwatch project: ``sources.yaml`` and a sample skill.

The files ship inside the package (``crawler/templates_init/``), so ``docwatch init``
works from any installation, offline.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from crawler.errors import DocwatchError

#: The starter files, as paths relative to the target directory.
STARTER_FILES = ("sources.yaml", "skills/example/SKILL.md")


class StarterExists(DocwatchError):
    """Some starter files already exist and overwriting was not asked for."""

    def __init__(self, paths: list[Path]):
        self.paths = paths
        names = ", ".join(str(p) for p in paths)
        super().__init__(f"{names} already exist{'s' * (len(paths) == 1)}")


def _template(relative: str) -> Traversable:
    node = files("crawler") / "templates_init"
    for part in relative.split("/"):
        node = node / part
    return node


def starter_text(relative: str) -> str:
    """The bundled text of one of :data:`STARTER_FILES`."""
    return _template(relative).read_text(encoding="utf-8")


def write_starter(directory: Path, force: bool = False) -> list[Path]:
    """Write :data:`STARTER_FILES` into ``directory``; return the paths written.

    Raises :class:`StarterExists` (and writes nothing) when any of them exists and
    ``force`` is false.
    """
    targets = [directory / relative for relative in STARTER_FILES]
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        raise StarterExists(existing)
    for relative, path in zip(STARTER_FILES, targets, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(starter_text(relative), encoding="utf-8")
    return targets
