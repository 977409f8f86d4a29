"""Control messages on ``usage`` are honoured only when signed (issue finding 7; streams/worker/control.py).

The signature is the hex HMAC-SHA256 of the canonical body (no ``signature``, sorted keys, compact JSON)
keyed with ``RATER_CONTROL_KEY``; anything else is refused with a reason (an ``invalid_record`` exception
in the worker).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import orjson

from rater.record import TimeWindow, control_of
from streams.worker.control import canonical, sign, sign_line, tick_time

KEY = "k3y"
TICK = {"time": "2026-04-01T00:00:00Z", "control": "tick"}
#: Ten years either side of 2026-04-01, as a worker with the default RATER_EVENT_WINDOW_DAYS would accept.
WINDOW = TimeWindow.around(dt.datetime(2026, 4, 1, tzinfo=dt.UTC), 3653)


def test_the_signature_is_hmac_sha256_of_the_sorted_compact_body() -> None:
    """Canonical form: {"control":"tick","time":"2026-04-01T00:00:00Z"} (sorted keys, no spaces)."""
    assert canonical(TICK) == b'{"control":"tick","time":"2026-04-01T00:00:00Z"}'
    signed = sign(TICK, KEY)
    expected = hmac.new(b"k3y", b'{"control":"tick","time":"2026-04-01T00:00:00Z"}', hashlib.sha256).hexdigest()
    assert signed["signature"] == expected
    assert canonical(signed) == canonical(TICK)  # the signature is not part of what it signs


def test_a_signed_tick_gives_its_time() -> None:
    assert tick_time(sign(TICK, KEY), KEY, WINDOW) == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def test_unsigned_badly_signed_or_keyless_control_messages_are_refused() -> None:
    assert "valid signature" in str(tick_time(dict(TICK), KEY, WINDOW))
    assert "valid signature" in str(tick_time(sign(TICK, "other"), KEY, WINDOW))
    forged = {**sign(TICK, KEY), "time": "2026-05-01T00:00:00Z"}  # a signed tick with another time
    assert "valid signature" in str(tick_time(forged, KEY, WINDOW))
    assert "no RATER_CONTROL_KEY" in str(tick_time(sign(TICK, KEY), None, WINDOW))


def test_absurd_tick_times_and_unknown_controls_are_refused_not_raised() -> None:
    """Year 9999 with a -23:59 offset is outside the calendar in UTC; 1969 and 2200 are outside a ten-year
    window around 2026-04-01;
    a naive time and a number are not times."""
    for time in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "1969-12-31T23:59:59Z",
                 "2200-01-01T00:00:00Z", "2026-04-01T00:00:00", 20260401, "yesterday"):  # fmt: skip
        reason = tick_time(sign({"control": "tick", "time": time}, KEY), KEY, WINDOW)
        assert isinstance(reason, str), time
    assert "unknown control" in str(tick_time(sign({"control": "cancel"}, KEY), KEY, WINDOW))


def test_send_signs_control_lines_only() -> None:
    record = b'{"record_id": "r1", "usage_identifier": "+1"}'
    assert sign_line(record, KEY) == record
    line = b'{"control": "tick", "time": "2026-04-01T00:00:00Z"}'
    body = control_of(sign_line(line, KEY))
    assert body is not None
    assert tick_time(body, KEY, WINDOW) == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    assert orjson.loads(sign_line(line, KEY))["signature"] == sign(orjson.loads(line), KEY)["signature"]
