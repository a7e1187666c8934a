"""The package stays typed: mypy is clean, and kinds and statuses are compared as enums.

A change kind or a status compared as a string literal (``change.kind == "added"``)
is invisible to the type checker: renaming or adding a kind would silently skip the
branch. These tests read the source, so they fail the moment such a comparison is
written, with the file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from crawler import types

PACKAGE = Path(__file__).resolve().parents[1] / "crawler"
# Migrations describe the schema as it was: they must not depend on today's enums.
EXEMPT = ("alembic/",)
ENUMS = (types.ChangeKind, types.Item, types.RunStatus, types.PageStatus, types.NoticeKind,
         types.TermKind, types.BumpKind, types.GapKind)
VALUES = frozenset(member.value for enum in ENUMS for member in enum)


def _sources() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py"))
            if not any(part in p.relative_to(PACKAGE).as_posix() for part in EXEMPT)
            and p.name != "types.py"]


def _kind_literals(node: ast.expr) -> list[str]:
    """String constants among ``node`` (a literal, or a tuple/list/set of literals) that
    are values of a kind or status enum."""
    items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return [item.value for item in items
            if isinstance(item, ast.Constant) and item.value in VALUES]


# What a kind or a status is called where it is compared (``change.kind``, ``Run.status``,
# ``page.item``, ``c.change``, ``notice["kind"]``): an HTML tag or a heading that happens
# to read "section" is not one.
KIND_NAMES = ("kind", "status", "change", "item")


def _named_like_a_kind(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):  # Run.status.in_(...) is checked on Run.status
        node = node.func
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        name = str(node.slice.value)
    elif isinstance(node, ast.Attribute):
        name = node.attr
    elif isinstance(node, ast.Name):
        name = node.id
    else:
        return False
    return any(word in name.lower() for word in KIND_NAMES)


def _comparisons(path: Path) -> list[tuple[int, str]]:
    """(line, literal) of each comparison of a kind or status with a string literal."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        operands: list[ast.expr] = []
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "in_":  # SQLAlchemy's column.in_((...))
            operands = [node.func.value, *node.args]
        if not any(_named_like_a_kind(operand) for operand in operands):
            continue
        found += [(node.lineno, v) for operand in operands for v in _kind_literals(operand)]
    return found


def test_no_kind_or_status_is_compared_as_a_string():
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: {literal!r}"
             for path in _sources() for line, literal in _comparisons(path)]
    assert not found, "compare with the crawler.types enum instead:\n" + "\n".join(found)


TEMPLATE_COMPARISON = re.compile(
    r"""(?:==|!=|equalto['"]?\s*,)\s*['"](?P<value>[a-z_]+)['"]""")


def test_templates_compare_no_kind_as_a_string():
    found = []
    for path in sorted(PACKAGE.rglob("*.j2")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in TEMPLATE_COMPARISON.finditer(line):
                if match["value"] in VALUES:
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {match[0]}")
    assert not found, "let the report model split by kind instead:\n" + "\n".join(found)


def test_the_check_finds_a_string_comparison(tmp_path):
    # The scan itself must be able to fail.
    sample = tmp_path / "sample.py"
    sample.write_text('if change.kind == "added" or status in ("running", "x"):\n    pass\n'
                      'q = select(Run).where(Run.status.in_(("aborted",)))\n'
                      'if title == "Changelog" or tag == "section":\n    pass\n'
                      'if d["kind"] != "modified":\n    pass\n')
    assert sorted(_comparisons(sample)) == [(1, "added"), (1, "running"), (3, "aborted"),
                                    (6, "modified")]


def test_mypy_is_clean_on_the_package():
    api = pytest.importorskip("mypy.api", reason="mypy is in the [test] extra")
    stdout, stderr, status = api.run([str(PACKAGE), "--no-error-summary",
                                      "--cache-dir", str(PACKAGE.parent / ".mypy_cache")])
    assert status == 0, stdout + stderr
