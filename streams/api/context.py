"""What the API's handlers share, stored on the application under :data:`CONTEXT`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from rater.catalog import Catalog
from rater.subscriptions import Subscriptions
from streams.api.auth import Tokens
from streams.settings import Settings

#: The current configuration: the catalog and subscriptions that records are rated with now.
ConfigReader = Callable[[], Awaitable[tuple[Catalog, Subscriptions]]]


@dataclass
class ApiContext:
    """``settings`` of the deployment, a ``redis`` client on the state store, the bearer ``tokens``, and
    ``config``, which returns the configuration in force (it may change at run time through provisioning).
    ``extras`` holds objects a feature module starts with the application (producers, feeds)."""

    settings: Settings
    redis: Redis
    tokens: Tokens
    config: ConfigReader
    extras: dict[str, Any] = field(default_factory=dict)


CONTEXT: web.AppKey[ApiContext] = web.AppKey("rater_context", ApiContext)


def context(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]
