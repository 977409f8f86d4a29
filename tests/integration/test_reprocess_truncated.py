"""Reprocessing never resends a truncated original (docs/provisioning.md, docs/events.md).

An exception event over ``RATER_MAX_EVENT_BYTES`` keeps only a prefix of its record: sending that prefix
back to ``usage`` would rate something else.  The index keeps the flag and where the record was read, and
``reprocess`` skips the entry, ``force`` or not, naming that position; a whole original is still sent.
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from rater.events import RatingExceptionEvent, Source
from streams.api.exceptions_index import ExceptionIndex, reprocess
from tests.integration._api import YEARS

pytestmark = pytest.mark.integration

NOW_MS = 1_772_704_800_000  # 2026-03-05T10:00:00Z


async def test_a_truncated_original_is_refused_and_a_whole_one_sent(redis_client: Redis) -> None:
    """r-big (200,000 bytes, truncated to 4,096 under a 65,536-byte limit, read at usage/2@77) is skipped
    with a reason naming usage:2:77; r-small (8 bytes) is sent as it arrived."""
    index = ExceptionIndex(redis_client, "reprocess-test", retention=YEARS)  # NOW_MS is in March 2026
    big, _ = RatingExceptionEvent(
        "r-big", "rate_not_found", "no rate", "ACC-1", b"x" * 200_000, Source("usage", 2, 77)
    ).bounded(65_536)
    assert big.truncated
    small = RatingExceptionEvent("r-small", "rate_not_found", "no rate", "ACC-1", b"not json")
    assert await index.record(big.to_dict(), NOW_MS)
    assert await index.record(small.to_dict(), NOW_MS)
    sent: list[tuple[bytes | None, bytes]] = []

    async def send(key: bytes | None, value: bytes) -> None:
        sent.append((key, value))

    for force in (False, True):
        report = await reprocess(index, send, ids=["r-big", "r-small"], force=force, now_ms=NOW_MS, result_ttl_s=3600)
        assert report.reprocessed == ["r-small"]
        [skipped] = report.skipped
        assert skipped["record_id"] == "r-big"
        assert "usage:2:77" in skipped["reason"]
    assert sent == [(None, b"not json"), (None, b"not json")]
    entry = await index.get("r-big")
    assert entry is not None
    assert entry["status"] == "open"  # not claimed: still waiting for the full record
