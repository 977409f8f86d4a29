"""Control messages on the ``usage`` topic, honoured only when signed with ``RATER_CONTROL_KEY``.

A control message is a JSON object with a ``control`` field; the one the worker acts on is
``{"control": "tick", "time": "<ISO 8601 with offset>"}``: the time-driven rules (billing activation by
time, R50b) run at that time, in its place in the stream.  Anyone who can produce to ``usage`` could
otherwise fire activations at will, so a control message must carry ``signature``: the hex HMAC-SHA256,
keyed with ``RATER_CONTROL_KEY``, of its **canonical body**, the object without ``signature`` serialised as
compact JSON with sorted keys (``orjson`` with ``OPT_SORT_KEYS``; :func:`canonical`).  ``rater send`` signs
the control lines of a file when the key is set (:func:`sign_line`).

A control message that is unsigned, badly signed, of an unknown kind, or a tick whose time is not an aware
ISO 8601 time inside the worker's window of event times (``RATER_EVENT_WINDOW_DAYS``), or any control
message when no key is set, becomes an
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

from rater.errors import InvalidRecord
from rater.record import TimeWindow, control_of, parse_time

SIGNATURE = "signature"


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
    body = control_of(line)
    return line if body is None else orjson.dumps(sign(body, key))


def tick_time(body: dict[str, Any], key: str | None, window: TimeWindow | None) -> dt.datetime | str:
    """The time of a signed ``tick``, or why the control message is refused.  The time is read as an event
    time is (:func:`rater.record.parse_time`: an offset, inside the calendar) and must lie in ``window``,
    the worker's window of accepted event times."""
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
        if not isinstance(text, str) or len(text) > 64:
            raise InvalidRecord(f"tick time {str(text)[:100]!r} is not an ISO 8601 time with an offset")
        moment = parse_time(text, "tick time")
        if window is not None:
            window.check(moment, "tick time")
    except InvalidRecord as exc:
        return exc.detail
    return moment
