"""Style habit 1: the domain in rater/ imports nothing from streams/, faust or aiokafka, and only its
Redis adapter module may import redis."""

from __future__ import annotations

import ast
from pathlib import Path

RATER = Path(__file__).resolve().parents[2] / "rater"
FORBIDDEN = ("streams", "faust", "aiokafka")
REDIS_ADAPTERS = {"redis_store.py"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_rater_imports_no_shell_or_broker_library() -> None:
    offenders = {
        str(path.relative_to(RATER.parent)): sorted(_imports(path) & set(FORBIDDEN))
        for path in RATER.rglob("*.py")
        if _imports(path) & set(FORBIDDEN)
    }
    assert offenders == {}


def test_only_the_redis_adapter_imports_redis() -> None:
    offenders = [
        str(path.relative_to(RATER.parent))
        for path in RATER.rglob("*.py")
        if "redis" in _imports(path) and path.name not in REDIS_ADAPTERS
    ]
    assert offenders == []


def test_the_walk_sees_the_package() -> None:
    """Guard against a vacuous pass: the walk finds the core modules and their imports."""
    rating = RATER / "rating.py"
    assert rating.exists()
    assert "rater" in _imports(rating)
