"""Every output event is at most ``RATER_MAX_EVENT_BYTES`` by construction (issue finding 2, docs/events.md).

An exception event whose original would take it over the limit keeps the first 4,096 bytes of it, its size,
its SHA-256 and where it was read; a record id over 1,024 bytes is replaced by that position; a rated
charge whose events would be over the limit becomes a ``software_system_error`` exception carrying its
record (R31: nothing is lost, every record has one outcome).
"""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal

import orjson
import pytest

from rater.events import ORIGINAL_PREFIX, RatedCharge, RatingExceptionEvent, Source
from streams.configuration.topics import EXCEPTIONS, RATED
from streams.settings import DEFAULT_MAX_EVENT_BYTES, Settings, SettingsError
from streams.worker.pipeline import messages

SOURCE = Source("usage", 3, 1207)
LIMIT = 64 * 1024


def _exception(record_id: str, original: bytes) -> RatingExceptionEvent:
    return RatingExceptionEvent(record_id, "invalid_record", "Invalid usage record: not valid JSON", None, original)


def test_an_oversized_invalid_utf8_body_keeps_a_prefix_its_size_digest_and_source() -> None:
    """An 800,000-byte body that is not UTF-8 would be 1,066,668 bytes of base64 (over Kafka's 1 MiB): the
    event keeps its first 4,096 bytes (5,464 base64 characters), original_size 800,000 and the SHA-256 of
    all of it, and names usage/3@1207; its JSON is under the limit."""
    body = (b"\xff" + bytes(range(256)) * 3125)[:800_000]  # starts with 0xff: not UTF-8
    [(topic, key, value)] = messages(_exception("usage:3:1207", body), "usage:3:1207", limit=LIMIT, source=SOURCE)
    event = orjson.loads(value)
    assert topic == EXCEPTIONS
    assert key == b"usage:3:1207"
    assert len(value) <= LIMIT
    assert event["original_encoding"] == "base64"
    assert base64.b64decode(event["original"]) == body[:ORIGINAL_PREFIX]
    assert len(event["original"]) == 5464  # 4,096 bytes as base64: 4 * ceil(4096 / 3)
    assert (event["original_truncated"], event["original_size"]) == (True, 800_000)
    assert event["original_sha256"] == hashlib.sha256(body).hexdigest()
    assert event["source"] == {"topic": "usage", "partition": 3, "offset": 1207}


def test_a_utf8_prefix_is_cut_at_a_character_boundary() -> None:
    """100,000 copies of "é" (2 bytes each) are 200,000 bytes: the prefix is 2,048 whole characters
    (4,096 bytes), kept as UTF-8 text."""
    original = ("é" * 100_000).encode()
    event = orjson.loads(messages(_exception("r1", original), "r1", limit=LIMIT, source=SOURCE)[0][2])
    assert (event["original"], event["original_encoding"]) == ("é" * 2048, "utf-8")
    assert event["original_size"] == 200_000


def test_a_huge_record_id_is_replaced_by_where_the_record_was_read() -> None:
    """A 600,000-character record id cannot be echoed (it is also in event_id and the key): the event's
    record id is ``usage:3:1207``, event_id ``usage:3:1207:exception``."""
    record_id = "x" * 600_000
    original = orjson.dumps({"record_id": record_id})
    [(_, key, value)] = messages(_exception(record_id, original), record_id, limit=LIMIT, source=SOURCE)
    event = orjson.loads(value)
    assert (event["record_id"], event["event_id"], key) == ("usage:3:1207", "usage:3:1207:exception", b"usage:3:1207")
    assert event["original_size"] == len(original) == 600_016  # {"record_id":" and "}: 14 + 2 bytes around the id
    assert len(value) <= LIMIT


def test_an_event_under_the_limit_is_unchanged_wherever_its_record_was_read() -> None:
    """R1: the same record resent at another offset gets the same bytes, so an event within the limit does
    not name its source (offsets 1207 and 1208 give one value, the event's own JSON)."""
    event = _exception("r2", b"not json")
    [(_, _, value)] = messages(event, "r2", limit=LIMIT, source=SOURCE)
    [(_, _, again)] = messages(event, "r2", limit=LIMIT, source=Source("usage", 3, 1208))
    assert orjson.loads(value) == event.to_dict()
    assert value == again


def test_a_rated_charge_over_the_limit_becomes_a_software_system_error_with_its_record() -> None:
    """A rated charge echoing a 70,000-character usage identifier is over a 65,536-byte limit: the record
    gets one rating-exception instead (type software_system_error, account kept, original = the record
    prefix, size 70,000), and no rated-charge event."""
    uid = "9" * 70_000
    charge = RatedCharge(
        "r3", uid, "ACC-1", "AS-1", "SVC", "AP-1", "PKG", "ACC-1", "SMS", "count", "event", 1,
        "2026-03-01T00:00:00Z", None, (), "USD", money_drawn=Decimal(0),
    )  # fmt: skip
    original = uid.encode()
    out = messages(charge, "r3", limit=LIMIT, source=SOURCE, original=original)
    assert [topic for topic, _, _ in out] == [EXCEPTIONS]
    event = orjson.loads(out[0][2])
    assert (event["record_id"], event["type"], event["account"]) == ("r3", "software_system_error", "ACC-1")
    assert "over RATER_MAX_EVENT_BYTES=65536" in event["message"]
    assert (event["original"], event["original_size"]) == ("9" * ORIGINAL_PREFIX, 70_000)
    assert [topic for topic, _, _ in messages(charge, "r3", limit=200_000)] == [RATED]


def test_the_maximum_event_size_setting() -> None:
    """Default 524,288 bytes (half of Kafka's default message.max.bytes); 65,536 to 1,000,000."""
    base = {"KAFKA_BOOTSTRAP": "k:1", "REDIS_URL": "redis://r"}
    assert Settings.from_env(base).max_event_bytes == DEFAULT_MAX_EVENT_BYTES == 524_288
    assert Settings.from_env({**base, "RATER_MAX_EVENT_BYTES": "65536"}).max_event_bytes == 65_536
    for bad in ("65535", "1000001", "big"):
        with pytest.raises(SettingsError, match="RATER_MAX_EVENT_BYTES"):
            Settings.from_env({**base, "RATER_MAX_EVENT_BYTES": bad})
