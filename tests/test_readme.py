"""README.md against the code: it documents every command and option of ``docwatch``,
and every module path and ``docwatch`` flag it names exists.

The "Commands" table is the command-line reference: each command has a row whose usage
(``docwatch runs [-n N]``) lists its options, except the ones the paragraph under the
table documents for every command (``--config``, ``--db``). Everywhere else, a
``docwatch ...`` invocation may only use its command's options, any other ``--flag``
must be an option of some command (flags of other programs on the same line excepted),
and ``crawler/...`` paths and ``crawler.x.y`` names must exist. Every problem is listed
in one failure, with its line.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from crawler.cli import cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# Lines that run another program, and sections about one: their flags are that program's.
OTHER_PROGRAMS = ("bench/run.py", "serve.py", "alembic ", "systemctl ", "pip ", "urlwatch",
                  "python -m tests.eval")
OTHER_PROGRAM_SECTIONS = ("Benchmark",)
HELP = {"-h", "--help"}
FLAG = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")
LONG_FLAG = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
MODULE_PATH = re.compile(r"(?<![\w/.-])(?:crawler/(?:[\w-]+/)*(?:[\w-]+\.py)?"
                         r"|(?:bench|tests)/(?:[\w-]+/)*[\w-]+\.py)")
DOTTED_NAME = re.compile(r"(?<![\w./-])crawler(?:\.[A-Za-z_]\w*)+")
# Where a command line ends and another one (or prose) begins.
COMMAND_END = re.compile(r" (?:&&|\|\||\|) |;")


@dataclass(frozen=True)
class Segment:
    """A piece of README text read on its own: a code span, a line of a code block, or
    the prose of a line; ``section`` is the title of the ``##`` section it is in."""

    line: int
    text: str
    code: bool
    section: str


def segments(text: str) -> Iterator[Segment]:
    fenced, section = False, ""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced:
            yield Segment(number, line, True, section)
        else:
            if line.startswith("## "):
                section = line[3:].strip()
            for span in CODE_SPAN.finditer(line):
                yield Segment(number, span.group(1), True, section)
            yield Segment(number, CODE_SPAN.sub(" ", line), False, section)


def command_tree() -> dict[str, click.Command]:
    """Every command by its path under ``docwatch`` ("" is ``docwatch`` itself)."""
    found: dict[str, click.Command] = {}

    def walk(command: click.Command, path: str) -> None:
        found[path] = command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                if not sub.hidden:
                    walk(sub, f"{path} {name}".strip())

    walk(cli, "")
    return found


def spellings(command: click.Command) -> set[str]:
    return HELP | {flag for p in command.params if isinstance(p, click.Option)
                   for flag in (*p.opts, *p.secondary_opts)}


def invocations(text: str, commands: dict[str, click.Command]) -> Iterator[tuple[str, str]]:
    """``(command path, the rest of its command line)`` for each time ``text`` runs
    docwatch (``docwatch runs -n 2``, ``.venv/bin/docwatch crawl --quiet``)."""
    for match in re.finditer(r"(?:^|(?<=[\s/]))docwatch(?=\s|$)", text):
        path, rest = "", text[match.end():]
        while (word := re.match(r" +([a-z][\w-]*)", rest)) \
                and f"{path} {word.group(1)}".strip() in commands:
            path, rest = f"{path} {word.group(1)}".strip(), rest[word.end():]
        yield path, COMMAND_END.split(rest, maxsplit=1)[0]


def commands_table(lines: list[str]) -> tuple[int, dict[int, str], str]:
    """The line of the Commands heading, the first cells of its table by line, and the
    paragraph under the table."""
    start = lines.index("## Commands")
    rows: dict[int, str] = {}
    number = start + 1
    while number < len(lines) and not lines[number].startswith("|"):
        number += 1
    while number < len(lines) and lines[number].startswith("|"):
        rows[number + 1] = re.split(r"(?<!\\)\|", lines[number])[1]
        number += 1
    after = []
    while number < len(lines) and not lines[number].startswith("#"):
        after.append(lines[number])
        number += 1
    return start + 1, rows, "\n".join(after)


def table_problems(lines: list[str], commands: dict[str, click.Command]) -> list[str]:
    heading, rows, under = commands_table(lines)
    for_every_command = set(FLAG.findall(under))
    documented: dict[str, set[str]] = {}
    problems = []
    for number, cell in rows.items():
        for span in CODE_SPAN.findall(cell):
            if not re.match(r"docwatch(\s|$)", span):
                continue
            path, usage = next(invocations(span, commands))
            if re.match(r" *[a-z]", usage):  # arguments are written in capitals: URL
                problems.append(f"README.md:{number}: `{span}`: docwatch has no command "
                                f"{usage.split()[0]!r}")
                continue
            documented.setdefault(path, set()).update(FLAG.findall(usage))
    for path, command in commands.items():
        if isinstance(command, click.Group) and command.commands and not command.params:
            continue  # a group alone does nothing: its commands have the rows
        name = f"docwatch {path}".strip()
        if path not in documented:
            problems.append(f"README.md:{heading}: the Commands table has no row for `{name}`")
            continue
        for option in command.params:
            if not isinstance(option, click.Option):
                continue
            names = {*option.opts, *option.secondary_opts}
            if not names & (documented[path] | for_every_command):
                problems.append(f"README.md:{heading}: the Commands table's `{name}` does not "
                                f"list {'/'.join(option.opts)}")
    return problems


def flag_problems(text: str, commands: dict[str, click.Command]) -> list[str]:
    every_flag = set().union(*(spellings(c) for c in commands.values()))
    problems = []
    for segment in segments(text):
        if any(program in segment.text for program in OTHER_PROGRAMS):
            continue
        if segment.section in OTHER_PROGRAM_SECTIONS:
            continue
        runs = list(invocations(segment.text, commands)) if segment.code else []
        for path, rest in runs:
            for flag in FLAG.findall(rest):
                if flag not in spellings(commands[path]):
                    name = f"docwatch {path}".strip()
                    problems.append(f"README.md:{segment.line}: `{segment.text}`: `{name}` "
                                    f"has no option {flag}")
        if runs:
            continue
        for flag in LONG_FLAG.findall(segment.text):
            if flag not in every_flag:
                problems.append(f"README.md:{segment.line}: {flag} is no option of docwatch")
    return problems


def name_exists(dotted: str) -> bool:
    """Whether ``crawler.x.y`` is a module, or an attribute of the longest module in it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def path_problems(text: str) -> list[str]:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        for path in MODULE_PATH.findall(line):
            if not (ROOT / path).exists():
                problems.append(f"README.md:{number}: names {path}, which does not exist")
        for dotted in DOTTED_NAME.findall(line):
            if not name_exists(dotted):
                problems.append(f"README.md:{number}: names {dotted}, which does not exist")
    return problems


def test_readme_documents_every_command_and_names_only_what_exists():
    text = README.read_text(encoding="utf-8")
    commands = command_tree()

    problems = [*table_problems(text.splitlines(), commands),
                *flag_problems(text, commands), *path_problems(text)]

    assert not problems, ("README.md does not match the code:\n  "
                          + "\n  ".join(dict.fromkeys(problems)))
