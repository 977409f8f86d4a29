"""Provisioning of accounts, packages, services, identifiers, buckets and share plans (not yet served)."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
