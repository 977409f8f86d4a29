"""Balances for customer apps: per service, per account and per share plan (not yet served)."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
