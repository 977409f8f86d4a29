"""Reading catalog files: which files, how each entity is parsed, and where it came from.

A catalog is one YAML file or a folder of them.  Each file is a mapping whose top-level keys are catalog
sections (``usage_classes``, ``rate_plans``, ...; see :data:`rater.catalog.model.LIST_SECTIONS`), so
operators can split the catalog by topic.  An entity id may be defined once per kind across all files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rater.catalog.model import LIST_SECTIONS, MAPPING_SECTIONS, Entity
from rater.issues import IssueLog, pydantic_field
from rater.yamlio import YamlError, load_yaml

#: Singular names used in messages ("rate_plan 'RP-ACC'").
KIND = {
    "usage_classes": "usage_class",
    "rounding_rules": "rounding_rule",
    "time_periods": "time_period",
    "rate_plans": "rate_plan",
    "base_buckets": "base_bucket",
    "usage_buckets": "usage_bucket",
    "share_plans": "share_plan",
    "services": "service",
    "packages": "package",
    "settings": "settings",
    "owner": "owner",
    "geotree": "geotree",
}


def catalog_files(path: Path) -> list[Path]:
    """The YAML files that make up the catalog at ``path``.

    ``path`` may be a catalog file, a catalog folder, or a rating folder holding ``catalog.yaml`` or
    ``catalog/`` (as ``config/`` and each ``examples/*`` folder do).
    """
    if path.is_file():
        return [path]
    for candidate in (path / "catalog.yaml", path / "catalog.yml"):
        if candidate.is_file():
            return [candidate]
    folder = path / "catalog" if (path / "catalog").is_dir() else path
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return [p for p in files if not p.name.startswith("subscriptions")]


@dataclass
class RawCatalog:
    """Parsed entities by section, each with the file it came from, before cross-entity checks."""

    entities: dict[str, dict[str, Entity]] = field(default_factory=lambda: {name: {} for name in LIST_SECTIONS})
    singles: dict[str, Entity] = field(default_factory=dict)
    sources: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Ids of entities that were written but refused by their model, by kind (``usage_bucket``): a
    #: reference to one is reported as such, not as an unknown id.
    refused: dict[str, set[str]] = field(default_factory=dict)

    def source(self, section: str, entity_id: str) -> str:
        return self.sources.get((section, entity_id), "")

    def items(self, section: str) -> Iterator[tuple[str, Any]]:
        """(file, entity) pairs of one list section, in file order."""
        for entity_id, entity in self.entities[section].items():
            yield self.source(section, entity_id), entity


def read_raw(files: list[Path], log: IssueLog) -> RawCatalog:
    """Parse every entity of every file; shape errors go to ``log`` and the entity is left out."""
    raw = RawCatalog()
    if not files:
        log.error("", "catalog", "", "", "no catalog files found")
    for path in files:
        name = str(path)
        try:
            document = load_yaml(path)
        except YamlError as exc:
            log.error(name, "catalog", "", "", str(exc))
            continue
        read_document(raw, log, name, document)
    return raw


def read_document(raw: RawCatalog, log: IssueLog, name: str, document: Any) -> None:
    """Parse one catalog document (a mapping of sections, as one YAML file or the stored catalog of the
    configuration store holds) into ``raw``; ``name`` is the source its findings name."""
    if document is None:
        return
    if not isinstance(document, dict):
        log.error(name, "catalog", "", "", "a catalog file must be a mapping of sections")
        return
    for section, body in document.items():
        if section in LIST_SECTIONS:
            _read_list(raw, log, name, section, body)
        elif section in MAPPING_SECTIONS:
            _read_single(raw, log, name, section, body)
        else:
            known = ", ".join([*MAPPING_SECTIONS, *LIST_SECTIONS])
            log.error(name, "catalog", "", str(section), f"unknown section (known: {known})")


def merged_document(files: list[Path]) -> dict[str, Any]:
    """The catalog files as one document: list sections concatenated in file order, single sections as
    written.  Raises :class:`YamlError` on a file that is not YAML (validate with ``check_catalog`` first)."""
    merged: dict[str, Any] = {}
    for path in files:
        document = load_yaml(path)
        if not isinstance(document, dict):
            continue
        for section, body in document.items():
            if section in LIST_SECTIONS:
                merged.setdefault(section, []).extend(body or [])
            else:
                merged[section] = body
    return merged


def _read_single(raw: RawCatalog, log: IssueLog, file: str, section: str, body: Any) -> None:
    if section in raw.singles:
        log.error(file, KIND[section], "", "", f"defined twice (also in {raw.sources[(section, '')]})")
        return
    model = MAPPING_SECTIONS[section]
    try:
        raw.singles[section] = model.model_validate(body if body is not None else {})
        raw.sources[(section, "")] = file
    except ValidationError as exc:
        _report(log, file, KIND[section], "", exc)


def _read_list(raw: RawCatalog, log: IssueLog, file: str, section: str, body: Any) -> None:
    kind = KIND[section]
    if body is None:
        return
    if not isinstance(body, list):
        log.error(file, kind, "", section, "must be a list of entities")
        return
    model = LIST_SECTIONS[section]
    for index, item in enumerate(body):
        entity_id = str(item.get("id", "")) if isinstance(item, dict) else ""
        label = entity_id or f"#{index + 1}"
        try:
            entity = model.model_validate(item)
        except ValidationError as exc:
            _report(log, file, kind, label, exc)
            if entity_id:
                raw.refused.setdefault(kind, set()).add(entity_id)
            continue
        ident = str(getattr(entity, "id"))  # noqa: B009 - every list entity has an id
        if ident in raw.entities[section]:
            log.error(file, kind, ident, "id", f"duplicate id (first defined in {raw.source(section, ident)})")
            continue
        raw.entities[section][ident] = entity
        raw.sources[(section, ident)] = file


def _report(log: IssueLog, file: str, kind: str, entity: str, exc: ValidationError) -> None:
    errors = exc.errors(include_url=False)
    deeper = [tuple(error["loc"]) for error in errors]
    for error in errors:
        loc = tuple(error["loc"])
        if any(len(other) > len(loc) and other[: len(loc)] == loc for other in deeper):
            # pydantic re-checks a container after dropping its bad item ("tiers: at least 1 item");
            # the bad item's own error is the one that helps.
            continue
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        log.error(file, kind, entity, pydantic_field(error["loc"]), message)
