"""The catalog side of provisioning: ``replace_catalog``, ``put_catalog_entity``, ``delete_catalog_entity``,
``set_share_plan_active`` and ``add_rate`` give the next catalog document, which
:func:`rater.provisioning.apply.apply` then validates whole.

A deletion is refused while the entity is in use (seed pages: "deletes the selected ... if not in use";
:func:`rater.catalog.integrity.check_delete`), and a share plan is not marked active without a bucket (R54).
"""

from __future__ import annotations

import copy
from typing import Any

from rater.catalog.integrity import EntityInUse, check_delete
from rater.provisioning.documents import Config
from rater.provisioning.errors import ProvisioningError
from rater.provisioning.operations import (
    SECTION_OF_KIND,
    AddRate,
    DeleteCatalogEntity,
    Operation,
    PutCatalogEntity,
    ReplaceCatalog,
    SetSharePlanActive,
)


def catalog_change(operation: Operation, config: Config) -> dict[str, Any]:
    document = copy.deepcopy(dict(config.catalog_document))
    if isinstance(operation, ReplaceCatalog):
        return operation.catalog
    if isinstance(operation, PutCatalogEntity):
        section = _section(operation.kind)
        entity_id = operation.entity.get("id")
        if not isinstance(entity_id, str) or not entity_id:
            raise ProvisioningError("invalid_operation", f"the {operation.kind} needs an 'id'")
        entities = list(document.get(section) or [])
        index = _index(entities, entity_id)
        if index is None:
            entities.append(operation.entity)
        else:
            entities[index] = operation.entity
        document[section] = entities
        return document
    if isinstance(operation, DeleteCatalogEntity):
        section = _section(operation.kind)
        try:
            check_delete(config.catalog, config.subscriptions, operation.kind, operation.entity)
        except EntityInUse as exc:
            raise ProvisioningError("entity_in_use", str(exc)) from exc
        except KeyError as exc:
            raise ProvisioningError("not_found", f"no {operation.kind} {operation.entity!r} in the catalog") from exc
        document[section] = [e for e in document.get(section) or [] if _entity_id(e) != operation.entity]
        return document
    if isinstance(operation, SetSharePlanActive):
        plan = config.catalog.share_plans.get(operation.share_plan)
        if plan is None:
            raise ProvisioningError("not_found", f"no share plan {operation.share_plan!r} in the catalog")
        if operation.active and not plan.buckets:
            raise ProvisioningError(
                "share_plan_without_buckets",
                f"share plan {plan.id!r} has no bucket and cannot be activated (R54; Share Plans screen)",
            )
        entities = list(document.get("share_plans") or [])
        index = _index(entities, plan.id)
        assert index is not None
        entities[index] = {**entities[index], "active": operation.active}
        document["share_plans"] = entities
        return document
    assert isinstance(operation, AddRate)
    plans = list(document.get("rate_plans") or [])
    index = _index(plans, operation.rate_plan)
    if index is None:
        raise ProvisioningError("not_found", f"no rate plan {operation.rate_plan!r} in the catalog")
    plan_body = copy.deepcopy(plans[index])
    groups = plan_body.get("rate_groups") or []
    group_index = _index(groups, operation.rate_group)
    if group_index is None:
        raise ProvisioningError(
            "not_found", f"rate plan {operation.rate_plan!r} has no rate group {operation.rate_group!r}"
        )
    groups[group_index] = {**groups[group_index], "rates": [*(groups[group_index].get("rates") or []), operation.rate]}
    plans[index] = plan_body
    document["rate_plans"] = plans
    return document


def _section(kind: str) -> str:
    section = SECTION_OF_KIND.get(kind)
    if section is None:
        raise ProvisioningError(
            "invalid_operation",
            f"unknown kind {kind!r} (one of {', '.join(sorted(SECTION_OF_KIND))}; GeoTree, settings and owner "
            "change with replace_catalog)",
        )
    return section


def _entity_id(entity: Any) -> Any:
    return entity.get("id") if isinstance(entity, dict) else None


def _index(entities: list[Any], entity_id: str) -> int | None:
    return next((i for i, entity in enumerate(entities) if _entity_id(entity) == entity_id), None)
