"""YAML reading that never produces a float.

PyYAML's safe loader turns ``amount: 0.10`` into the float 0.1.  Catalog amounts must be exact, so this
loader builds :class:`~decimal.Decimal` from the scalar's own text instead.  Dates stay ``datetime.date`` /
``datetime.datetime`` as PyYAML reads them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml


class _DecimalLoader(yaml.SafeLoader):
    pass


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    lowered = text.lower()
    if lowered in (".inf", "+.inf", "-.inf", ".nan"):
        raise yaml.constructor.ConstructorError(None, None, f"{text!r} is not a finite amount", node.start_mark)
    return Decimal(text)


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int | str:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if ":" in text:
        # YAML 1.1 reads 17:00 as the base-60 integer 1020; a clock time is meant.
        return text
    value: int = yaml.SafeLoader.construct_yaml_int(loader, node)  # type: ignore[arg-type]
    return value


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_DecimalLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


class YamlError(ValueError):
    """A file that is not well-formed YAML; the message names the file, line and column."""


def load_yaml(path: Path) -> Any:
    """Parse one YAML file with exact decimals; raise :class:`YamlError` naming the position on bad syntax."""
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlError(f"{where}: {problem}") from exc
