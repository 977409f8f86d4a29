"""House style: each module of rater/ holds one concept that a reader finds by its name, so no module is
above 400 lines and no class above 250.  A module's size is its number of lines; a class's is
``end_lineno - lineno + 1`` of its ``class`` statement (decorators left out, nested classes measured too)."""

from __future__ import annotations

import ast
from pathlib import Path

RATER = Path(__file__).resolve().parents[2] / "rater"
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 250


def _modules() -> list[Path]:
    return sorted(RATER.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(RATER.parent).as_posix()


def _module_lines(text: str) -> int:
    return len(text.splitlines())


def _class_sizes(text: str) -> list[tuple[str, int, int]]:
    """(name, line of the ``class`` statement, size) of every class in ``text``, in the order of ``ast.walk``."""
    return [
        (node.name, node.lineno, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.ClassDef) and node.end_lineno is not None
    ]


def test_no_module_is_above_400_lines() -> None:
    offenders = [
        f"{_name(path)}: {lines} lines"
        for path in _modules()
        if (lines := _module_lines(path.read_text(encoding="utf-8"))) > MAX_MODULE_LINES
    ]
    assert not offenders, f"modules above {MAX_MODULE_LINES} lines:\n" + "\n".join(offenders)


def test_no_class_is_above_250_lines() -> None:
    offenders = [
        f"{_name(path)}:{line} class {name}: {size} lines"
        for path in _modules()
        for name, line, size in _class_sizes(path.read_text(encoding="utf-8"))
        if size > MAX_CLASS_LINES
    ]
    assert not offenders, f"classes above {MAX_CLASS_LINES} lines:\n" + "\n".join(offenders)


def test_sizes_are_measured_as_stated() -> None:
    """The source below has 14 lines.  Class A runs from its ``class`` line 5 to line 9 (its decorator on
    line 4 is not counted): 9 - 5 + 1 = 5 lines; B runs from 12 to 14: 3 lines; C, nested in B, from 13 to
    14: 2 lines."""
    text = (
        "import dataclasses\n"
        "\n"
        "\n"
        "@dataclasses.dataclass\n"
        "class A:\n"
        "    x: int\n"
        "\n"
        "    def f(self) -> int:\n"
        "        return self.x\n"
        "\n"
        "\n"
        "class B:\n"
        "    class C:\n"
        "        y = 1\n"
    )
    assert _module_lines(text) == 14
    assert _class_sizes(text) == [("A", 5, 5), ("B", 12, 3), ("C", 13, 2)]


def test_the_walk_sees_the_package() -> None:
    """Guard against a vacuous pass: the walk reaches modules inside subpackages, and finds classes there."""
    names = {_name(path) for path in _modules()}
    assert {"rater/rating.py", "rater/catalog/model/buckets.py", "rater/provisioning/operations.py"} <= names
    classes = _class_sizes((RATER / "catalog" / "model" / "buckets.py").read_text(encoding="utf-8"))
    assert "UsageBucket" in {name for name, _, _ in classes}
