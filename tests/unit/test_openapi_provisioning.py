"""docs/openapi-provisioning.yaml lists every provisioning and exception route the API serves, and no other."""

from __future__ import annotations

from pathlib import Path

import yaml

from streams.api import exceptions, provisioning

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi-provisioning.yaml"


def test_every_route_is_documented() -> None:
    document = yaml.safe_load(DOC.read_text())
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    served = {(route.path, route.method) for module in (provisioning, exceptions) for route in module.routes}
    assert documented == served
