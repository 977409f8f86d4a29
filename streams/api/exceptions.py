"""Rating exceptions: listing and reprocessing (not yet served)."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
