"""YAML reading that never produces a float.

PyYAML's safe loader turns ``amount: 0.10`` into the float 0.1.  Catalog amounts must be exact, so this
loader builds :class:`~decimal.Decimal` from the scalar's own text instead.  Dates stay ``datetime.date`` /
``datetime.datetime`` as PyYAML reads them.
"""

from __future__ import annotations

import re
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


_PLAIN_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int | str:
    """Only plain decimal integers are numbers.  YAML 1.1 would read ``17:00`` as base 60 (1020), a pattern
    ``0044`` as octal (36) and ``0x1F`` as hex; in a catalog those are clock times, GeoTree patterns and
    identifiers, so their text is kept as written."""
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if not _PLAIN_INT.match(text):
        return text
    return int(text.replace("_", ""))


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


def loads_yaml(text: str) -> Any:
    """Parse YAML text with exact decimals (like :func:`load_yaml`, for documents that are not files)."""
    try:
        return yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise YamlError(str(exc)) from exc
