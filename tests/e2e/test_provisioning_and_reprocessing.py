"""Provisioning and reprocessing on the real stack: worker processes, the API process, the embedded broker
and valkey-server (architecture: "a provisioning interface that takes effect for records after it is
applied, survives restarts and is seen by every worker"; §1.20 and R31: exceptions reprocessable after the
catalog is fixed)."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from rater.keys import PREFIX
from rater.redis_store import RedisStore, connect
from streams.configuration.provisioning_feed import PROVISIONING, PROVISIONING_RESULTS
from streams.configuration.topics import EXCEPTIONS, RATED
from tests.e2e._api import ApiProcess, read_topic, send
from tests.e2e._stream import CATALOG, Collector, Stream

pytestmark = pytest.mark.e2e

UIDS = ("+15550000100", "+15550000101")  # one per usage partition


def record(record_id: str, uid: str, quantity: int, day: int) -> bytes:
    return orjson.dumps(
        {
            "record_id": record_id,
            "usage_identifier": uid,
            "usage_class": "SMS",
            "quantity": quantity,
            "event_time": f"2026-03-{day:02d}T10:00:00Z",
        }
    )


def outcomes(stream: Stream, ids: set[str], timeout: float = 90) -> dict[str, list[dict[str, Any]]]:
    seen = Collector(stream.bootstrap, [stream.topic(RATED), stream.topic(EXCEPTIONS)])
    deadline = asyncio.run(_now()) + timeout
    while True:
        found = seen.collect(len(ids), 10)
        if ids <= set(found) or asyncio.run(_now()) > deadline:
            return {record_id: found.get(record_id, []) for record_id in ids}


async def _now() -> float:
    return asyncio.get_running_loop().time()


def kind(bodies: list[dict[str, Any]]) -> str:
    """``rated`` or the exception type of a record's single distinct outcome."""
    distinct = {orjson.dumps(body, option=orjson.OPT_SORT_KEYS) for body in bodies}
    assert len(distinct) == 1, bodies
    body = bodies[0]
    return "rated" if body["schema"].startswith("rated-charge") else str(body["type"])


def test_a_change_reaches_both_workers_for_the_next_records(
    kafka_bootstrap: str, e2e_redis_url: str, tmp_path: Path
) -> None:
    """Two workers in one group, one usage partition each.  Before the change, records of two new UIDs (one on
    each partition) are "No UDR Usage Identifier match" (R2).  An account owning both UIDs is created over
    HTTP; once the API has answered, the next records on both partitions are rated to it.  Then the account
    is cancelled through the provisioning topic (after a message that is no operation, refused); once its
    result says applied (by id, and on provisioning-results), the next records on both
    partitions are outside the UIDs' windows (R2, E25).  Both workers report rating with the last version,
    and a worker started after them rates with it too (the seed files, with no account, are not read again)."""
    folder = tmp_path / "scenario"
    folder.mkdir()
    shutil.copy(CATALOG, folder / "catalog.yaml")
    (folder / "subscriptions.yaml").write_text("accounts: []\n")
    with redis.Redis.from_url(e2e_redis_url) as client:
        client.flushdb()
    stream = Stream(kafka_bootstrap, e2e_redis_url, folder, tmp_path, usage_partitions=2)
    stream.create_topics()
    api = ApiProcess(stream)
    stream.start_worker()
    stream.start_worker()
    try:
        usage = stream.topic("usage")

        def phase(name: str, day: int) -> dict[str, str]:
            ids = {f"{name}-p{p}" for p in (0, 1)}
            send(
                kafka_bootstrap, usage, [(UIDS[p].encode(), record(f"{name}-p{p}", UIDS[p], 1, day), p) for p in (0, 1)]
            )
            return {record_id: kind(bodies) for record_id, bodies in outcomes(stream, ids).items() if bodies}

        assert phase("before", 2) == {
            "before-p0": "no_usage_identifier_match",
            "before-p1": "no_usage_identifier_match",
        }

        status, result = api.call(
            "POST",
            "/v1/operations",
            {
                "id": "create-NEW",
                "op": "create_account",
                "account": {
                    "id": "NEW",
                    "packages": [
                        {
                            "id": "NEW-PKG",
                            "package": "PKG-MOBILE",
                            "effective": "2026-03-01",
                            "services": [
                                {
                                    "id": f"NEW-PHONE{p}",
                                    "service": "SVC-PHONE",
                                    "usage_identifiers": [{"uid": UIDS[p], "start": "2026-03-01"}],
                                }
                                for p in (0, 1)
                            ],
                        }
                    ],
                },
            },
        )
        assert (status, result["status"], result["version"]) == (200, "applied", 2), result
        assert phase("created", 3) == {"created-p0": "rated", "created-p1": "rated"}

        operation = {"id": "cancel-NEW", "op": "cancel_account", "account": "NEW", "cancel": "2026-03-04"}
        garbage = (None, b"not an operation", None)  # refused, and the consumer goes on
        send(kafka_bootstrap, stream.topic(PROVISIONING), [garbage, (b"cancel-NEW", orjson.dumps(operation), None)])
        applied = api.wait_for("/v1/operations/cancel-NEW", lambda body: body["status"] == "applied")
        assert applied["version"] == 3
        results = read_topic(kafka_bootstrap, stream.topic(PROVISIONING_RESULTS), 2)
        assert [(body["status"], body.get("error", {}).get("code")) for _, body in results] == [
            ("refused", "invalid_operation"),
            ("applied", None),
        ]
        assert results[1] == (b"cancel-NEW", applied)
        assert phase("cancelled", 5) == {
            "cancelled-p0": "usage_identifier_time_mismatch",
            "cancelled-p1": "usage_identifier_time_mismatch",
        }
        _, config = api.call("GET", "/v1/configuration")
        assert [worker["version"] for worker in config["workers"].values()] == [3, 3], config["workers"]

        # the configuration survives restarts: new workers rate with version 3, not with the seed files
        stream.stop_workers()
        stream.start_worker()
        assert phase("restarted", 6) == {
            "restarted-p0": "usage_identifier_time_mismatch",
            "restarted-p1": "usage_identifier_time_mismatch",
        }
    finally:
        stream.stop_workers()
        api.stop()


def test_a_rate_not_found_is_rated_once_after_the_rate_is_added(
    kafka_bootstrap: str, e2e_redis_url: str, tmp_path: Path
) -> None:
    """E1's catalog with the SMS rate missing from the overage plan: T1 100 messages free, T2 100 with a 5.00
    flat charge, no repeat.  A record of 250 messages draws 200 from the bucket (stored under its record id),
    and its 50 overflow messages find no rate: ``rate_not_found`` (R31, raised after the draw).

    The rate (0.10 per message) is added over HTTP and the exception reprocessed.  By hand: the stored draw
    is reused, so T2's flat charge 5.00 + 50 x 0.10 = 5.00 gives 10.00 (domain-spec E1); a second draw would
    have found the bucket empty and priced all 250 messages at 0.10 = 25.00 with no flat charge.  Exactly one
    rated charge comes out for the record, the bucket's counter says 200, and a second reprocess request
    sends nothing; a forced one re-emits the identical charge (same event id) and draws nothing."""
    folder = tmp_path / "scenario"
    folder.mkdir()
    catalog = CATALOG.read_text().replace("          - {class: SMS, amount: 0.10, per: message}\n", "")
    assert "amount: 0.10" not in catalog
    (folder / "catalog.yaml").write_text(catalog.replace("        rates:\n", "        rates: []\n"))
    (folder / "subscriptions.yaml").write_text(
        "accounts:\n"
        "  - id: ACC-1\n"
        "    packages:\n"
        "      - {id: AP-1, package: PKG-MOBILE, effective: 2026-03-01, services: [{id: AS-1, service: SVC-PHONE,"
        ' usage_identifiers: [{uid: "+15195550100", start: 2026-03-01}]}]}\n'
    )
    with redis.Redis.from_url(e2e_redis_url) as client:
        client.flushdb()
    stream = Stream(kafka_bootstrap, e2e_redis_url, folder, tmp_path, usage_partitions=1)
    stream.create_topics()
    api = ApiProcess(stream)
    stream.start_worker()
    try:
        usage = stream.topic("usage")
        send(kafka_bootstrap, usage, [(b"+15195550100", record("e1-250", "+15195550100", 250, 2), None)])
        listed = api.wait_for("/v1/exceptions?type=rate_not_found", lambda body: len(body["exceptions"]) == 1)
        assert listed["exceptions"][0]["record_id"] == "e1-250"
        assert listed["exceptions"][0]["account"] == "ACC-1"

        fix = {
            "op": "add_rate",
            "rate_plan": "RP-SMS-OVERAGE",
            "rate_group": "STANDARD",
            "rate": {"class": "SMS", "amount": "0.10", "per": "message"},
        }
        status, result = api.call("POST", "/v1/operations", fix)
        assert (status, result["status"]) == (200, "applied"), result

        status, report = api.call("POST", "/v1/exceptions/reprocess", {"type": "rate_not_found"})
        assert (status, report) == (200, {"reprocessed": ["e1-250"], "skipped": []})
        seen = Collector(kafka_bootstrap, [stream.topic(RATED)]).collect(1, 90)
        assert len(seen.get("e1-250", [])) == 1, stream.worker_logs()
        charge = seen["e1-250"][0]
        assert charge["total_amount"] == "10.00"
        assert [(line["type"], line["amount"]) for line in charge["charges"]] == [
            ("flat_charge", "5.00"),
            ("rate_plan", "5.00"),
        ]
        assert [(draw["before"], draw["after"]) for draw in charge["draws"]] == [(0, 200)]

        status, report = api.call("POST", "/v1/exceptions/reprocess", {"ids": ["e1-250"]})
        assert report["reprocessed"] == []
        assert "already reprocessed" in report["skipped"][0]["reason"]
        # a later record shows the bucket drawn once: it starts where the first left off
        send(kafka_bootstrap, usage, [(b"+15195550100", record("e1-next", "+15195550100", 1, 3), None)])
        seen = Collector(kafka_bootstrap, [stream.topic(RATED), stream.topic(EXCEPTIONS)]).collect(2, 60)
        # the record's history: its first exception and exactly one rated charge
        assert sorted(body["schema"] for body in seen["e1-250"]) == ["rated-charge/1", "rating-exception/1"]
        assert seen["e1-next"][0]["total_amount"] == "0.10"
        listed = api.wait_for("/v1/exceptions?status=reprocessed", lambda body: len(body["exceptions"]) == 1)
        assert listed["exceptions"][0]["attempts"] == 1
        # forced, it is sent again: the stored draw makes it an identical re-emission, not a second charge
        status, report = api.call("POST", "/v1/exceptions/reprocess", {"ids": ["e1-250"], "force": True})
        assert report["reprocessed"] == ["e1-250"]
        deadline = time.monotonic() + 60
        while len(rated := Collector(kafka_bootstrap, [stream.topic(RATED)]).collect(3, 5).get("e1-250", [])) < 2:
            assert time.monotonic() < deadline, stream.worker_logs()
        assert rated[0] == rated[1] == charge
    finally:
        stream.stop_workers()
        api.stop()
    counters = asyncio.run(_bucket_counters(e2e_redis_url))
    # the March period's consumed counter (c:<period>) of the line's SMS200 instance: 200, drawn once
    assert counters["rater:{ACC-1}:bucket:AS-1/SMS200"]["c:0"] == 200, counters


async def _bucket_counters(url: str) -> dict[str, dict[str, int]]:
    client = connect(url)
    try:
        keys = [key.decode() async for key in client.scan_iter(f"{PREFIX}:*:bucket:*")]
        store = RedisStore(client)
        return {key: await store.fields(key) for key in keys}
    finally:
        await client.aclose()
