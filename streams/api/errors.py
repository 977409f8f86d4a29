"""JSON errors: every failure the API returns is ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


def api_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **details: Any
) -> web.HTTPException:
    """An aiohttp HTTP exception with the API's JSON error body (raise it from a handler)."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    error_class = _BY_STATUS.get(status, web.HTTPInternalServerError)
    if error_class is web.HTTPMethodNotAllowed:
        allowed = (headers or {}).get("Allow", "")
        return web.HTTPMethodNotAllowed(
            "",
            [m for m in allowed.split(",") if m],
            text=orjson.dumps({"error": body}).decode(),
            content_type="application/json",
        )
    if status == 413:  # aiohttp's class takes the size limit first
        too_large = web.HTTPRequestEntityTooLarge(
            max_size=details.get("max_bytes", 0),
            text=orjson.dumps({"error": body}).decode(),
            content_type="application/json",
        )
        too_large.headers.update(headers or {})
        return too_large
    error = error_class(text=orjson.dumps({"error": body}).decode(), content_type="application/json")
    error.headers.update(headers or {})
    return error


def only_query(request: web.Request, *names: str) -> None:
    """``400`` for a query parameter the handler does not take (a misspelt filter would otherwise be ignored
    and answer as if it were not there) or for one given more than once."""
    unknown = sorted(set(request.query) - set(names))
    if unknown:
        takes = f"takes {', '.join(names)}" if names else "takes no query parameters"
        raise api_error(400, "bad_request", f"unknown query parameter {unknown[0]!r}; {request.path} {takes}")
    for name in names:
        if len(request.query.getall(name, [])) > 1:
            raise api_error(400, "bad_request", f"{name} is given more than once")


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response encoded with the project's codec (orjson: exact decimals are sent as strings)."""
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


_BY_STATUS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    405: web.HTTPMethodNotAllowed,
    409: web.HTTPConflict,
    422: web.HTTPUnprocessableEntity,
    503: web.HTTPServiceUnavailable,
}
