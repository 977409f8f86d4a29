"""The rating-exception index: every ``rating-exception/1`` event, searchable by type, account and time, and
reprocessable (domain-spec §1.20, R31; architecture "Reprocessable after the catalog is fixed").

**Who writes it.** A consumer of the ``rating-exceptions`` topic (:func:`follow_exceptions`, consumer group
``<RATER_APP_ID>-exceptions``), started with the API.  The topic is the record of what happened, so the
index is a read model: rebuilt by resetting the group, never in the rating path (the worker's batch loop
stays one Redis round trip plus the sends), and its lag or an outage of the API never slows rating.

**Layout** (keys in :func:`rater.keys.exception_key`, one hash tag per deployment): ``entry:<record id>`` is a
hash (type, message, account, original record, times, status, attempts); ``at``, ``type:<type>`` and
``account:<account>`` are sorted sets of record ids scored by the time the exception was raised (the
rating-exceptions message's timestamp, ms).

**Retention and size.** An entry lives ``retention`` seconds (``RATER_EXCEPTION_RETENTION``, 30 days by
default) after it was last raised: the hash expires then (``PEXPIREAT``), and each sorted set it is in drops
the ids raised longer ago than that whenever an exception is added to it, and expires itself ``retention``
after its newest one.  An event older than the retention when it is read (a reset group) is not indexed.
What an entry keeps is bounded: the ``message`` to :data:`MAX_MESSAGE` characters and the ``original`` to
:data:`MAX_ORIGINAL` characters of its text; a longer original keeps its first :data:`MAX_ORIGINAL`
characters and ``original_truncated`` (also set when the event says its original was truncated).  The
complete record stays on the ``rating-exceptions`` and ``usage`` topics.  An entry is thus at most about
17 KB, whatever the input was.

**Status.** ``open`` when raised; ``reprocessed`` once its record was sent back to ``usage``
(:func:`reprocess`).  If the record fails again, the worker raises a new exception event with a later
timestamp and the entry goes back to ``open`` with ``attempts`` + 1 (the "last rating attempted" time of
§1.20 is ``raised_at``).  A copy of an old event read again (a redelivery, a reset group) changes nothing.

**Reprocessing** sends the original bytes to ``usage`` keyed by the record's usage identifier (the key every
producer of usage uses), with the same record id; an exception whose event holds only a prefix of its
record (over ``RATER_MAX_EVENT_BYTES``) is refused, naming where the full record was read.  The kernel
keeps each record's draw under its record id (R1, architecture property 2): a record whose rate was
missing drew nothing (it draws whole or not at all, rater.batch) and draws now, for the first time, as does
a record that failed before its draw; one that failed *after* its draw (a tier's own rate plan missing a
rate: ``rate_not_found``) gets that stored draw back and is priced with the fixed catalog, so its buckets
are drawn once.  An entry is claimed (``open``
-> ``reprocessed``) atomically before it is sent, so two reprocess requests never send one record twice;
``force`` sends it again anyway, and the kernel's stored draw makes that an identical re-emission (same
event id), not a second charge.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from rater.errors import ExceptionType, RetriableError
from rater.keys import exception_key
from rater.redis_store import UNAVAILABLE, guarded
from streams.retry import retry

log = logging.getLogger("rater.exceptions")

#: Exception types that can be raised after the record's draw (a tier's rate plan had to be priced): for
#: entries indexed before events said whether their record drew (``drew``).
AFTER_DRAW = frozenset(
    {ExceptionType.RATE_NOT_FOUND, ExceptionType.RATE_GROUP_NOT_FOUND, ExceptionType.RATE_PLAN_NOT_DEFINED}
)
STATUSES = ("open", "reprocessed")
MAX_LIMIT = 1000
#: Seconds an entry is kept after it was last raised, unless the index is given another retention
#: (``RATER_EXCEPTION_RETENTION``, read in :mod:`streams.settings`).
RETENTION = 30 * 24 * 3600
#: Characters of an exception's ``message`` an entry keeps.
MAX_MESSAGE = 1000
#: Characters of an exception's ``original`` (its UTF-8 text or base64) an entry keeps.
MAX_ORIGINAL = 16 * 1024


@dataclass(frozen=True)
class ExceptionFilter:
    """Which exceptions: each given field must match; ``since`` inclusive, ``until`` exclusive (ms)."""

    type: str | None = None
    account: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    status: str | None = None
    limit: int = 100
    cursor: int = 0


def usage_key(data: bytes) -> bytes | None:
    """The ``usage`` message key of a usage record: its usage identifier (none for malformed input), the
    key that keeps one service's records in one partition (architecture property 6)."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    value = body.get("usage_identifier")
    return str(value).encode() if value not in (None, "") else None


def original_bytes(entry: Mapping[str, Any]) -> bytes:
    """The record exactly as it arrived (``original_encoding``: ``utf-8`` or ``base64``)."""
    text = str(entry.get("original", ""))
    if entry.get("original_encoding") == "base64":
        return base64.b64decode(text)
    return text.encode("utf-8")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _source_text(source: Any) -> str:
    """Where the record was read, ``topic:partition:offset`` ('' when the event does not say)."""
    if isinstance(source, dict) and {"topic", "partition", "offset"} <= source.keys():
        return f"{source['topic']}:{source['partition']}:{source['offset']}"
    return ""


def _ms(entry: Mapping[str, Any], field: str) -> int:
    return int(entry.get(field) or 0)


def iso(ms: int | None) -> str | None:
    if not ms:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def public(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form of an entry (the API's and the CLI's)."""
    return {
        "record_id": entry["record_id"],
        "type": entry["type"],
        "message": entry.get("message", ""),
        "account": entry.get("account") or None,
        "status": entry["status"],
        "attempts": int(entry.get("attempts") or 1),
        "raised_at": iso(_ms(entry, "raised_at")),
        "first_raised_at": iso(_ms(entry, "first_raised_at")),
        "reprocessed_at": iso(_ms(entry, "reprocessed_at")),
        "reprocess_count": int(entry.get("reprocess_count") or 0),
        "original": entry.get("original", ""),
        "original_encoding": entry.get("original_encoding", "utf-8"),
        "original_truncated": entry.get("original_truncated") == "1",
    }


class ExceptionIndex:
    """The index of deployment ``app`` on a Redis client."""

    def __init__(self, client: Redis, app: str, retention: int = RETENTION) -> None:
        self.client = client
        self.app = app
        self.retention_ms = retention * 1000

    def _entry(self, record_id: str) -> str:
        return exception_key(self.app, f"entry:{record_id}")

    def _sets(self, entry: Mapping[str, Any]) -> list[str]:
        keys = [exception_key(self.app, "at"), exception_key(self.app, f"type:{entry['type']}")]
        if entry.get("account"):
            keys.append(exception_key(self.app, f"account:{entry['account']}"))
        return keys

    async def get(self, record_id: str) -> dict[str, Any] | None:
        raw = await self._call(self.client.hgetall(self._entry(record_id)))
        return {_text(k): _text(v) for k, v in raw.items()} if raw else None

    async def record(self, event: Mapping[str, Any], timestamp_ms: int) -> bool:
        """Index one rating-exception event raised at ``timestamp_ms``; True if it opened (or reopened) an
        entry, False for a copy of an event already indexed."""
        record_id = str(event["record_id"])
        expires_ms = timestamp_ms + self.retention_ms
        if expires_ms <= _now_ms():
            return False  # raised longer ago than the retention: it would expire at once
        original = str(event.get("original") or "")
        fresh = {
            "record_id": record_id,
            "type": str(event["type"]),
            "message": str(event.get("message") or "")[:MAX_MESSAGE],
            "account": str(event.get("account") or ""),
            "original": original[:MAX_ORIGINAL],
            "original_encoding": str(event.get("original_encoding") or "utf-8"),
            "original_truncated": "1" if len(original) > MAX_ORIGINAL or event.get("original_truncated") else "",
            "source": _source_text(event.get("source")),
            "drew": "1" if event.get("drew") else "0",
            "raised_at": str(timestamp_ms),
            "status": "open",
        }
        key = self._entry(record_id)

        async def change(pipe: Any) -> bool:
            raw = await pipe.hgetall(key)
            current = {_text(k): _text(v) for k, v in raw.items()}
            if current:
                reopened = current.get("status") == "reprocessed" and timestamp_ms > _ms(current, "reprocessed_at")
                if not reopened:
                    return False
            pipe.multi()
            if current:
                for old in self._sets(current):
                    pipe.zrem(old, record_id)
                pipe.hset(key, mapping={**fresh, "attempts": str(int(current.get("attempts") or 1) + 1)})
            else:
                pipe.hset(key, mapping={**fresh, "attempts": "1", "first_raised_at": str(timestamp_ms)})
            pipe.pexpireat(key, expires_ms)
            for index_key in self._sets(fresh):
                pipe.zadd(index_key, {record_id: timestamp_ms})
                pipe.zremrangebyscore(index_key, "-inf", f"({timestamp_ms - self.retention_ms}")
                # the set lives as long as its newest entry: set an expiry if it has none, else push it later
                pipe.pexpireat(index_key, expires_ms, nx=True)
                pipe.pexpireat(index_key, expires_ms, gt=True)
            await pipe.execute()
            return True

        return bool(await self._transaction(key, change))

    async def claim(self, record_id: str, now_ms: int, *, force: bool = False) -> dict[str, Any] | str:
        """Mark an ``open`` entry ``reprocessed`` (any entry with ``force``) and return it as it was; or the
        reason it cannot be (``not found``, ``already reprocessed``)."""
        key = self._entry(record_id)

        async def change(pipe: Any) -> dict[str, Any] | str:
            raw = await pipe.hgetall(key)
            current = {_text(k): _text(v) for k, v in raw.items()}
            if not current:
                return "not found"
            if current.get("status") != "open" and not force:
                return "already reprocessed (force to send it again)"
            pipe.multi()
            pipe.hset(
                key,
                mapping={
                    "status": "reprocessed",
                    "reprocessed_at": str(now_ms),
                    "reprocess_count": str(int(current.get("reprocess_count") or 0) + 1),
                },
            )
            await pipe.execute()
            return current

        outcome: dict[str, Any] | str = await self._transaction(key, change)
        return outcome

    async def release(self, previous: Mapping[str, Any]) -> None:
        """Undo a claim whose send failed: the entry gets its former status and times back (unless it
        expired in between: a release never brings back an entry without its expiry)."""
        fields: dict[FieldT, EncodableT] = {
            name: str(previous.get(name) or "") for name in ("status", "reprocessed_at", "reprocess_count")
        }
        key = self._entry(str(previous["record_id"]))

        async def change(pipe: Any) -> None:
            if not await pipe.exists(key):
                return
            pipe.multi()
            pipe.hset(key, mapping=fields)
            await pipe.execute()

        await self._transaction(key, change)

    async def find(self, where: ExceptionFilter) -> tuple[list[dict[str, Any]], int | None]:
        """Entries matching ``where`` in the order they were raised, at most ``where.limit``, and the cursor
        of the next page (``None`` when there is none)."""
        if where.account:
            base = exception_key(self.app, f"account:{where.account}")
        elif where.type:
            base = exception_key(self.app, f"type:{where.type}")
        else:
            base = exception_key(self.app, "at")
        low = where.since_ms if where.since_ms is not None else "-inf"
        high = f"({where.until_ms}" if where.until_ms is not None else "+inf"
        limit = max(1, min(where.limit, MAX_LIMIT))
        found: list[dict[str, Any]] = []
        offset = where.cursor
        chunk = max(limit, 100)
        while True:
            ids = await self._call(self.client.zrangebyscore(base, low, high, start=offset, num=chunk))
            if not ids:
                return found, None
            pipe = self.client.pipeline(transaction=False)
            for record_id in ids:
                pipe.hgetall(self._entry(_text(record_id)))
            rows = await self._call(pipe.execute())
            for raw in rows:
                offset += 1
                entry = {_text(k): _text(v) for k, v in raw.items()}
                if not entry or not _matches(entry, where):
                    continue
                found.append(entry)
                if len(found) == limit:
                    more = await self._call(self.client.zrangebyscore(base, low, high, start=offset, num=1))
                    return found, (offset if more else None)
            if len(ids) < chunk:
                return found, None

    async def _transaction(self, key: str, change: Callable[[Any], Awaitable[Any]]) -> Any:
        while True:
            try:
                async with self.client.pipeline(transaction=True) as pipe:
                    await pipe.watch(key)
                    return await change(pipe)
            except redis_errors.WatchError:
                continue
            except UNAVAILABLE as exc:
                raise RetriableError(f"state store unavailable: {exc}") from exc

    async def _call(self, awaitable: Awaitable[Any]) -> Any:
        return await guarded(awaitable)


def _matches(entry: Mapping[str, Any], where: ExceptionFilter) -> bool:
    return (
        (where.type is None or entry.get("type") == where.type)
        and (where.account is None or entry.get("account") == where.account)
        and (where.status is None or entry.get("status") == where.status)
    )


Send = Callable[[bytes | None, bytes], Awaitable[None]]


@dataclass
class ReprocessReport:
    reprocessed: list[str]
    skipped: list[dict[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return {"reprocessed": self.reprocessed, "skipped": self.skipped}


async def reprocess(
    index: ExceptionIndex,
    send: Send,
    *,
    ids: Iterable[str] = (),
    where: ExceptionFilter | None = None,
    force: bool = False,
    now_ms: int,
    result_ttl_s: int,
) -> ReprocessReport:
    """Send the records of the chosen exceptions back to ``usage`` (``send(key, value)`` must return once the
    broker has the message).  ``ids`` and ``where`` add up; ``where`` defaults to ``status=open``.

    An exception whose event kept only a prefix of its record (``original_truncated``, docs/events.md) is
    never sent, ``force`` or not: it is skipped, naming the ``topic:partition:offset`` the full record was read
    at, for the operator to produce it again from there.

    An exception raised after its draw whose stored draw has expired (older than ``result_ttl_s``, the
    worker's ``RATER_RESULT_TTL``) is skipped: rating it again would draw its buckets a second time.
    ``force`` sends it anyway (and sends entries already reprocessed)."""
    chosen: dict[str, dict[str, Any] | None] = dict.fromkeys(ids)  # record id -> its entry once read
    if where is not None:
        status = where.status if where.status is not None or force else "open"
        page = ExceptionFilter(where.type, where.account, where.since_ms, where.until_ms, status, MAX_LIMIT, 0)
        while True:
            found, cursor = await index.find(page)
            for matched in found:
                if chosen.get(matched["record_id"]) is None:
                    chosen[matched["record_id"]] = matched
            if cursor is None:
                break
            page = ExceptionFilter(
                page.type, page.account, page.since_ms, page.until_ms, page.status, MAX_LIMIT, cursor
            )
    report = ReprocessReport([], [])
    for record_id, read in chosen.items():
        entry = read if read is not None else await index.get(record_id)
        if entry is None:
            report.skipped.append({"record_id": record_id, "reason": "not found"})
            continue
        if entry.get("original_truncated"):
            origin = entry.get("source") or "its source offset (unknown)"
            report.skipped.append(
                {
                    "record_id": record_id,
                    "reason": "its event holds only a prefix of the record (over RATER_MAX_EVENT_BYTES): "
                    f"produce the full record again from {origin}",
                }
            )
            continue
        expired = now_ms - _ms(entry, "first_raised_at") > result_ttl_s * 1000
        # Only a record that drew before its exception has a stored draw to lose (an entry indexed before
        # events said so: a type that could follow a draw).
        drew = entry["drew"] == "1" if "drew" in entry else entry["type"] in AFTER_DRAW
        if drew and expired and not force:
            report.skipped.append(
                {
                    "record_id": record_id,
                    "reason": "its stored draw has expired (RATER_RESULT_TTL): rating it again would draw its "
                    "buckets twice (force to send it anyway)",
                }
            )
            continue
        claimed = await index.claim(record_id, now_ms, force=force)
        if isinstance(claimed, str):
            report.skipped.append({"record_id": record_id, "reason": claimed})
            continue
        data = original_bytes(claimed)
        try:
            await send(usage_key(data), data)
        except Exception:
            await index.release(claimed)
            raise
        report.reprocessed.append(record_id)
    return report


async def follow_exceptions(
    index: ExceptionIndex, consumer: Any, *, stop: asyncio.Event | None = None, idle: Callable[[], None] | None = None
) -> None:
    """Index the rating-exceptions topic with a started aiokafka group consumer (manual commits): each batch
    is indexed, then its offsets committed; an unavailable Redis is retried in place (property 7); a
    message that is not an exception event is logged and passed over."""
    while stop is None or not stop.is_set():
        batch = await consumer.getmany(timeout_ms=500)
        if not batch and idle is not None:
            idle()
        for records in batch.values():
            for message in records:
                try:
                    event = orjson.loads(message.value or b"")
                    if not isinstance(event, dict) or "record_id" not in event or "type" not in event:
                        raise ValueError("not a rating-exception event")
                except (orjson.JSONDecodeError, ValueError) as exc:
                    log.warning("rating-exceptions %s:%s: %s", message.partition, message.offset, exc)
                    continue
                timestamp = message.timestamp if message.timestamp and message.timestamp > 0 else _now_ms()
                await retry(lambda e=event, t=timestamp: index.record(e, t), "indexing an exception")  # type: ignore[misc]
        if batch:
            await consumer.commit()


def _now_ms() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1000)
