"""Control messages on the ``usage`` topic, honoured only when signed with ``RATER_CONTROL_KEY``.

A control message is a JSON object with a ``control`` field; the one the worker acts on is
``{"control": "tick", "time": "<ISO 8601 with offset>"}``: the time-driven rules (billing activation by
time, R50b) run at that time, in its place in the stream.  Anyone who can produce to ``usage`` could
otherwise fire activations at will, so a control message must carry ``signature``: the hex HMAC-SHA256,
keyed with ``RATER_CONTROL_KEY``, of its **canonical body**, the object without ``signature`` serialised as
compact JSON with sorted keys (``orjson`` with ``OPT_SORT_KEYS``; :func:`canonical`).  ``rater send`` signs
the control lines of a file when the key is set (:func:`sign_line`).

A control message that is unsigned, badly signed, of an unknown kind, or a tick whose time is not an aware
ISO 8601 time from :data:`EARLIEST` to :data:`LATEST`, or any control message when no key is set, becomes an
``invalid_record`` rating exception: every message on ``usage`` still has exactly one outcome.  A signed tick
can be replayed by whoever can produce; that is harmless, since each package's activation is marked once.

``rater rate`` reads control lines from the operator's own file: trusted, no signature (rater/offline.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

import orjson

SIGNATURE = "signature"
#: Tick times honoured: from 1970 to 2200 (UTC, end exclusive).  A time outside the calendar, or absurd, is
#: refused before it reaches the rules (a local check: record decoding keeps its own event-time window).
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def control_body(data: bytes) -> dict[str, Any] | None:
    """The JSON object of a control message, or ``None`` for anything else (usage, or input the codec
    turns into a rating exception).  A cheap byte test comes first: usage records skip the parse."""
    if b'"control"' not in data:
        return None
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) and "control" in body else None


def canonical(body: dict[str, Any]) -> bytes:
    """The bytes a signature covers: ``body`` without ``signature``, compact JSON with sorted keys."""
    return orjson.dumps({name: value for name, value in body.items() if name != SIGNATURE}, option=orjson.OPT_SORT_KEYS)


def signature(body: dict[str, Any], key: str) -> str:
    return hmac.new(key.encode("utf-8"), canonical(body), hashlib.sha256).hexdigest()


def sign(body: dict[str, Any], key: str) -> dict[str, Any]:
    """``body`` with its ``signature``."""
    return {**body, SIGNATURE: signature(body, key)}


def sign_line(line: bytes, key: str) -> bytes:
    """A control line signed (its canonical body plus ``signature``); any other line unchanged."""
    body = control_body(line)
    return line if body is None else orjson.dumps(sign(body, key))


def tick_time(body: dict[str, Any], key: str | None) -> dt.datetime | str:
    """The time of a signed ``tick``, or why the control message is refused."""
    if key is None:
        return "control messages are refused: the worker has no RATER_CONTROL_KEY"
    given = body.get(SIGNATURE)
    try:
        expected = signature(body, key)
    except (orjson.JSONEncodeError, TypeError):
        return "control message that cannot be put in canonical form"
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        return "control message without a valid signature (HMAC-SHA256 with RATER_CONTROL_KEY)"
    if body.get("control") != "tick":
        return f"unknown control message {str(body.get('control'))[:100]!r}"
    text = body.get("time")
    try:
        moment = dt.datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        return f"tick time {str(text)[:100]!r} is not an ISO 8601 time with an offset"
    try:
        inside = EARLIEST <= moment < LATEST
    except OverflowError:
        inside = False
    if not inside:
        return f"tick time {text} is outside {EARLIEST.date()}..{LATEST.date()}"
    return moment
