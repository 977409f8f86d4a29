"""Dependency direction (style habit 1), walked with ``ast`` over the source, never by importing it:

* the domain in rater/ imports nothing from streams/, faust or aiokafka, and only its Redis adapter module may
  import redis;
* the runtime (streams/worker, streams/configuration, streams/api and the shared modules they use) never
  imports the development stack streams/dev, not even through another module; the CLI imports it only inside
  the ``rater demo`` and ``rater bench`` commands;
* settings come from the environment in one place (habit 8): streams/settings.py is the only module of
  streams/ and rater/ that reads ``os.environ`` or ``os.getenv``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RATER = ROOT / "rater"
STREAMS = ROOT / "streams"
FORBIDDEN = ("streams", "faust", "aiokafka")
REDIS_ADAPTERS = {"redis_store.py"}
#: The packages that run in production (``rater worker``, ``rater api``): none may reach streams.dev.
RUNTIME = ("streams.worker", "streams.configuration", "streams.api")
DEV = "streams.dev"
#: The CLI commands that may load the development stack, inside their own body.
DEV_COMMANDS = {"cmd_demo", "cmd_bench_core", "cmd_bench_kernel", "cmd_bench_e2e"}
#: The one module that reads the environment.
SETTINGS = "streams/settings.py"


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


# --- the shell: the runtime never reaches the development stack ----------------------------------------------


@dataclass(frozen=True)
class _Import:
    module: str  # the module imported, absolute
    function: str | None  # the function whose body imports it (None: at import time of the module)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    """Every module of streams/ by dotted name."""
    return {_module_name(path): path for path in STREAMS.rglob("*.py")}


def _absolute(module: str | None, level: int, importer: str, is_package: bool) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


@cache
def _streams_imports(name: str) -> tuple[_Import, ...]:
    """The ``streams`` modules that module ``name`` imports, each with the function it is imported in.  An
    import of ``a.b.c`` loads ``a`` and ``a.b`` too, and ``from a import b`` may name the module ``a.b``."""
    path = _modules()[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[_Import] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                module = _absolute(child.module, child.level, name, path.name == "__init__.py")
                targets = [module, *(f"{module}.{alias.name}" for alias in child.names)]
            for target in targets:
                parts = target.split(".")
                for end in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:end])
                    if prefix in _modules():
                        found.append(_Import(prefix, function))
            visit(child, inner)

    visit(tree, None)
    return tuple(dict.fromkeys(found))


def _reached(start: str, *, lazy: bool) -> dict[str, list[str]]:
    """Every ``streams`` module loaded with ``start`` (with ``lazy``: also by imports inside functions), each
    with one chain of imports that loads it."""
    chains = {start: [start]}
    todo = [start]
    while todo:
        current = todo.pop()
        for imported in _streams_imports(current):
            if imported.module not in chains and (lazy or imported.function is None):
                chains[imported.module] = [*chains[current], imported.module]
                todo.append(imported.module)
    return chains


def _runtime_modules() -> list[str]:
    return sorted(name for name in _modules() if any(name == p or name.startswith(f"{p}.") for p in RUNTIME))


def test_no_runtime_module_imports_the_development_stack_even_through_another_module() -> None:
    """streams/worker, streams/configuration and streams/api, and every module they load (settings, kafka,
    retry, metrics...), at import time or later inside a function: no chain of imports reaches streams.dev."""
    offenders = {
        module: " -> ".join(chain)
        for start in _runtime_modules()
        for module, chain in _reached(start, lazy=True).items()
        if module == DEV or module.startswith(f"{DEV}.")
    }
    assert offenders == {}


def test_the_cli_loads_the_development_stack_only_inside_the_demo_and_bench_commands() -> None:
    cli = sorted(name for name in _modules() if name.startswith("streams.cli"))
    at_import = {
        module: " -> ".join(chain)
        for start in cli
        for module, chain in _reached(start, lazy=False).items()
        if module.startswith(DEV)
    }
    assert at_import == {}
    lazy = {
        (start, imported.function)
        for start in cli
        for imported in _streams_imports(start)
        if imported.module.startswith(DEV)
    }
    assert lazy, "the demo and bench commands import streams.dev: the walk must see it"
    assert {function for _, function in lazy} <= DEV_COMMANDS, lazy


def test_the_dependency_walk_sees_the_runtime_and_its_chains() -> None:
    """Guard against a vacuous pass: the runtime modules are found, the worker's entry reaches the pipeline
    and the shared settings through its imports, and the demo reaches the embedded servers."""
    runtime = _runtime_modules()
    assert {"streams.worker.main", "streams.configuration.store", "streams.api.app"} <= set(runtime)
    worker = _reached("streams.worker.main", lazy=True)
    assert {"streams.worker.pipeline", "streams.worker.sender", "streams.settings", "streams.retry"} <= set(worker)
    assert "streams.dev.servers" in _reached("streams.dev.demo", lazy=False)


def test_importing_the_worker_the_api_and_the_cli_loads_nothing_of_the_development_stack() -> None:
    """The same rule, observed: a fresh interpreter that imports the entry points has no streams.dev module."""
    code = (
        "import sys\n"
        "import streams.worker.main, streams.api.app, streams.cli.main\n"
        "print(sorted(name for name in sys.modules if name.startswith('streams.dev')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


# --- settings come from the environment in one place ---------------------------------------------------------


#: What reads the environment, as an attribute of ``os`` or imported from it.
ENVIRONMENT = {"environ", "environb", "getenv", "getenvb"}


def _reads_environment(path: Path) -> list[int]:
    """Lines where ``path`` reads the environment: ``os.environ``, ``os.environb``, ``os.getenv`` or
    ``os.getenvb`` (through any name ``os`` is bound to), or one of them imported ``from os``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    aliases = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "os"
    }
    attributes = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in ENVIRONMENT
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
    ]
    imported = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module == "os"
        and any(alias.name in ENVIRONMENT for alias in node.names)
    ]
    return sorted(attributes + imported)


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = {
        str(path.relative_to(ROOT)): lines
        for folder in (RATER, STREAMS)
        for path in sorted(folder.rglob("*.py"))
        if (lines := _reads_environment(path))
    }
    assert SETTINGS in readers, "the walk must see the one module that reads the environment"
    assert {name: lines for name, lines in readers.items() if name != SETTINGS} == {}
