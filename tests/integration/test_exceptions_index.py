"""The rating-exception index's storage on a real valkey-server: entries expire after the retention
(``RATER_EXCEPTION_RETENTION``), the sorted sets drop what is older, and an entry keeps a bounded copy of
its original (issue finding 7: about 1.1 KB per exception, 1.2 MB for a 1 MB input, kept for ever)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from redis.asyncio import Redis

from rater.keys import exception_key
from streams.api.exceptions_index import MAX_MESSAGE, MAX_ORIGINAL, ExceptionFilter, ExceptionIndex, public, reprocess

pytestmark = pytest.mark.integration

APP = "idx"


def event(record_id: str, original: str = '{"record_id": "x"}', **more: Any) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "type": "rate_not_found",
        "message": "no rate",
        "account": "ACC-1",
        "original": original,
        "original_encoding": "utf-8",
        **more,
    }


def now_ms() -> int:
    return int(time.time() * 1000)


async def test_an_entry_expires_retention_after_it_was_raised(redis_client: Redis) -> None:
    """Retention 100 s, an exception raised 40 s ago: its hash expires at raised + 100 s, so its PTTL is
    about 60,000 ms (between 55,000 and 60,000 allowing 5 s for the test); the three sorted sets it is in
    (all, by type, by account) expire at the same moment.  One raised 101 s ago is not indexed at all."""
    index = ExceptionIndex(redis_client, APP, retention=100)
    raised = now_ms() - 40_000
    assert await index.record(event("r1"), raised)
    ttl = await redis_client.pttl(exception_key(APP, "entry:r1"))
    assert 55_000 <= ttl <= 60_000
    for name in ("at", "type:rate_not_found", "account:ACC-1"):
        assert await redis_client.pexpiretime(exception_key(APP, name)) == raised + 100_000
    assert not await index.record(event("r0"), now_ms() - 101_000)
    assert await index.get("r0") is None


async def test_older_ids_leave_the_sorted_sets_and_their_expiry_follows_the_newest(redis_client: Redis) -> None:
    """Retention 100 s.  r1 raised at t - 90 s, r2 at t + 20 s (t = now): indexing r2 drops from each set
    every id scored before t + 20 - 100 = t - 80 s, so r1 leaves the sets (its hash, expiring at t + 10 s,
    is no longer listed), and each set now expires at r2's t + 120 s, later than r1's t + 10 s."""
    index = ExceptionIndex(redis_client, APP, retention=100)
    t = now_ms()
    await index.record(event("r1"), t - 90_000)
    assert [e["record_id"] for e in (await index.find(ExceptionFilter()))[0]] == ["r1"]
    await index.record(event("r2"), t + 20_000)
    for name in ("at", "type:rate_not_found", "account:ACC-1"):
        key = exception_key(APP, name)
        assert await redis_client.zrange(key, 0, -1) == [b"r2"]
        assert await redis_client.pexpiretime(key) == t + 120_000
    assert [e["record_id"] for e in (await index.find(ExceptionFilter()))[0]] == ["r2"]


async def test_an_entry_keeps_a_bounded_copy_of_a_huge_original(redis_client: Redis) -> None:
    """A 1 MiB original (1,048,576 characters) and a 5,000-character message: the entry keeps the first
    MAX_ORIGINAL = 16,384 characters of the original and MAX_MESSAGE = 1,000 of the message, says
    ``original_truncated``, and takes less than 20,000 bytes of store memory (it took about 1.2 MB).  A
    small original is kept whole, not marked, and so is one the event already says was truncated."""
    index = ExceptionIndex(redis_client, APP)
    huge = "7" * (1024 * 1024)
    await index.record(event("big", huge, message="m" * 5000), now_ms())
    entry = await index.get("big")
    assert entry is not None
    shown = public(entry)
    assert (len(shown["original"]), shown["original"], shown["original_truncated"]) == (16_384, huge[:16_384], True)
    assert (MAX_ORIGINAL, MAX_MESSAGE, len(shown["message"])) == (16_384, 1000, 1000)
    used = await redis_client.memory_usage(exception_key(APP, "entry:big"), samples=0)  # every field: no estimate
    assert used is not None
    assert used < 20_000
    await index.record(event("small"), now_ms())
    small = await index.get("small")
    assert small is not None
    assert (public(small)["original"], public(small)["original_truncated"]) == ('{"record_id": "x"}', False)
    await index.record(event("cut", '{"record_id": "c", "pay', original_truncated=True), now_ms())
    cut = await index.get("cut")
    assert cut is not None
    assert public(cut)["original_truncated"] is True


async def test_only_an_exception_whose_record_drew_is_held_back_once_its_draw_expired(redis_client: Redis) -> None:
    """Two rate_not_found exceptions raised two hours ago, with a stored-draw lifetime (RATER_RESULT_TTL) of
    one hour: "no-draw" drew nothing (a record whose rate is missing draws whole or not at all), so it is sent
    again; "drew" failed while its tiers were priced (``drew``: true), and rating it again would draw twice:
    it is skipped unless forced."""
    index = ExceptionIndex(redis_client, APP)
    raised = now_ms() - 2 * 3600 * 1000
    await index.record(event("no-draw", '{"record_id": "no-draw"}'), raised)
    await index.record(event("drew", '{"record_id": "drew"}', drew=True), raised)
    sent: list[bytes] = []

    async def send(key: bytes | None, value: bytes) -> None:
        sent.append(value)

    report = await reprocess(index, send, ids=["no-draw", "drew"], now_ms=now_ms(), result_ttl_s=3600)
    assert (report.reprocessed, [s["record_id"] for s in report.skipped]) == (["no-draw"], ["drew"])
    assert sent == [b'{"record_id": "no-draw"}']
    forced = await reprocess(index, send, ids=["drew"], force=True, now_ms=now_ms(), result_ttl_s=3600)
    assert forced.reprocessed == ["drew"]
