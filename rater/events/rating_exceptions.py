"""Rating exception events (``rating-exception/1``): a record that could not be rated (R31), with its
original bytes so that it can be reprocessed and, on Kafka, where it was read (:class:`Source`).

An event's JSON stays under a size limit (:meth:`RatingExceptionEvent.bounded`): an oversized original is
replaced by a prefix, its size and its SHA-256, a long message is cut, and an overlong record id is
replaced (:func:`bounded_id`; docs/events.md).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, replace
from typing import Any

import orjson

from rater.errors import ExceptionType, RatingError

RATING_EXCEPTION_SCHEMA = "rating-exception/1"


#: Bytes of an oversized original an exception event keeps (a prefix to recognise the record by).
ORIGINAL_PREFIX = 4096
#: Characters of a message a bounded exception event keeps.
MESSAGE_PREFIX = 1024
#: UTF-8 bytes of a record id a bounded exception event echoes; a longer one is replaced (docs/events.md).
RECORD_ID_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class Source:
    """Where a record was read on Kafka: its topic, partition and offset (absent offline)."""

    topic: str
    partition: int
    offset: int

    @classmethod
    def parse(cls, position: str) -> Source | None:
        """``topic:partition:offset`` (the worker's fallback id; Kafka topic names hold no colon), or None."""
        topic, _, rest = position.partition(":")
        partition, _, offset = rest.partition(":")
        if not topic or not partition.isdigit() or not offset.isdigit():
            return None
        return cls(topic, int(partition), int(offset))

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


@dataclass(frozen=True, slots=True)
class RatingExceptionEvent:
    """A record that could not be rated (R31), with the original input so it can be reprocessed.

    On Kafka it names its ``source`` (topic, partition, offset).  :meth:`bounded` keeps its JSON under a
    size limit: an oversized original is replaced by a prefix, its size and its SHA-256 (docs/events.md)."""

    record_id: str
    type: str
    message: str
    account: str | None
    original: bytes
    source: Source | None = None
    truncated: bool = False
    """``original`` is only a prefix of the record (``original_size`` bytes, digest ``original_sha256``)."""
    original_size: int | None = None
    original_sha256: str | None = None
    drew: bool = False
    """The record drew before the error was raised (pricing failed after its draw): the draw is stored, and
    reprocessing replays it.  Every other exception drew nothing."""

    @classmethod
    def from_error(cls, record_id: str, error: RatingError, original: bytes) -> RatingExceptionEvent:
        return cls(record_id, error.type.value, error.message, error.account, original)

    @property
    def event_id(self) -> str:
        """``<record id>:exception``; a ``duplicate_record`` is not its record id's first outcome, so its id
        also names the bytes it came with (``<record id>:duplicate:<digest>``): it never reuses the first
        outcome's id, and a resend of the same duplicate gets the same id (R1)."""
        if self.type == ExceptionType.DUPLICATE_RECORD:
            digest = hashlib.blake2b(self.original, digest_size=12).hexdigest()
            return f"{self.record_id}:duplicate:{digest}"
        return f"{self.record_id}:exception"

    def to_dict(self) -> dict[str, Any]:
        try:
            text, encoding = self.original.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(self.original).decode("ascii"), "base64"
        body: dict[str, Any] = {
            "schema": RATING_EXCEPTION_SCHEMA,
            "event_id": self.event_id,
            "record_id": self.record_id,
            "type": self.type,
            "message": self.message,
            "account": self.account,
            "original": text,
            "original_encoding": encoding,
        }
        if self.truncated:
            body |= {
                "original_truncated": True,
                "original_size": self.original_size,
                "original_sha256": self.original_sha256,
            }
        if self.source is not None:
            body["source"] = self.source.to_dict()
        if self.drew:
            body["drew"] = True
        return body

    def bounded(self, limit: int, source: Source | None = None) -> tuple[RatingExceptionEvent, bytes]:
        """This event and its JSON, or, when the JSON is over ``limit`` bytes, the same event with a bounded
        original (the first :data:`ORIGINAL_PREFIX` bytes, cut at a character boundary when it is UTF-8),
        message and record id, naming ``source``, where the whole record can be read.  ``limit`` must leave
        room for that: the bounded event is at most about 40 KB (``RATER_MAX_EVENT_BYTES`` is at least
        64 KiB).  An event within the limit does not name its source: the same record resent at another
        offset gets the same bytes (R1)."""
        encoded = orjson.dumps(self.to_dict())
        if len(encoded) <= limit:
            return self, encoded
        event = self if source is None else replace(self, source=source)
        original = self.original
        if not self.truncated and len(original) > ORIGINAL_PREFIX:
            prefix = original[:ORIGINAL_PREFIX]
            try:
                original.decode("utf-8")
                prefix = prefix.decode("utf-8", errors="ignore").encode("utf-8")  # whole characters only
            except UnicodeDecodeError:
                pass
            event = replace(
                event,
                original=prefix,
                truncated=True,
                original_size=len(original),
                original_sha256=hashlib.sha256(original).hexdigest(),
            )
        event = replace(
            event, record_id=bounded_id(event.record_id, event.source), message=_prefix(event.message, MESSAGE_PREFIX)
        )
        encoded = orjson.dumps(event.to_dict())
        assert len(encoded) <= limit, (len(encoded), limit)
        return event, encoded


def bounded_id(record_id: str, source: Source | None) -> str:
    """``record_id``, or, when it is over :data:`RECORD_ID_LIMIT` UTF-8 bytes, a stand-in: where the record
    was read (``topic:partition:offset``) or else ``sha256:<digest of the id>``."""
    raw = record_id.encode("utf-8", errors="surrogatepass")
    if len(raw) <= RECORD_ID_LIMIT:
        return record_id
    if source is not None:
        return f"{source.topic}:{source.partition}:{source.offset}"
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def _prefix(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length] + "…"


def delivery_failure(
    record_id: str, account: str | None, message: str, source: Source | None = None
) -> RatingExceptionEvent:
    """The small ``software_system_error`` event that stands for a record whose output the broker refused for
    good (too large, invalid topic...): no original (the record is at ``source``, or found by its id)."""
    return RatingExceptionEvent(
        bounded_id(record_id, source),
        ExceptionType.SOFTWARE_SYSTEM_ERROR.value,
        _prefix(message, MESSAGE_PREFIX),
        account,
        b"",
        source,
        truncated=True,
    )
