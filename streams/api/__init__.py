"""The HTTP API (``rater api``): balances for customer apps, provisioning, rating exceptions and metrics.

A small aiohttp service beside the workers.  It reads the state store the workers draw down (Redis) and the
configuration every worker rates with, so it scales and restarts independently of the stream.

Modules: :mod:`streams.api.app` builds the application (composition root of the API), :mod:`streams.api.auth`
turns bearer tokens into principals, :mod:`streams.api.context` holds what the handlers share.  Each feature
module exposes its handlers as ``routes`` (an ``aiohttp.web.RouteTableDef``).
"""
