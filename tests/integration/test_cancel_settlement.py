"""A cancellation through provisioning settles its prorated buckets in the stream (R41, E13) on a real
valkey-server: the configuration store, the Redis kernel's ``rater_adjust`` and the publication of
``rated-adjustment/1`` events, exactly once per operation id even when the provisioner crashes and the
operation is sent again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from rater.batch import rate_batch
from rater.events import RatedAdjustment
from rater.keys import bucket_key
from rater.offline import rate_folder
from rater.provisioning import parse_operation
from rater.rating import Rater
from rater.redis_store import RedisStore
from streams.configuration.settlement import Provisioner
from streams.configuration.store import ConfigStore

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GB = 1_000_000_000


class Crash(Exception):
    """Stands for the provisioner's process dying at one step."""


class Published:
    """The publish callable of a provisioner: keeps (key, value); can crash on its next call."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []
        self.crash_next = False

    async def __call__(self, key: bytes, value: bytes) -> None:
        if self.crash_next:
            self.crash_next = False
            raise Crash("publish")
        self.sent.append((key, value))


def usage_before_cancel(folder: Path) -> list[bytes]:
    lines = (folder / "usage.jsonl").read_bytes().splitlines()
    return lines[: next(i for i, line in enumerate(lines) if b'"control"' in line)]


def cancel_operation(folder: Path) -> dict[str, Any]:
    control = next(
        orjson.loads(line) for line in (folder / "usage.jsonl").read_bytes().splitlines() if b'"control"' in line
    )
    return {
        "op": "cancel_account_service",
        "id": control["id"],
        "account_service": control["account_service"],
        "cancel": control["cancel"],
    }


async def consumed(state: RedisStore, key: str) -> list[int]:
    """The consumption of every period of a bucket counter (one period here: September)."""
    return [value for name, value in (await state.fields(key)).items() if name.startswith("c:")]


def offline_adjustments(folder: Path) -> list[bytes]:
    events, _ = rate_folder(folder)
    return [orjson.dumps(event.to_dict()) for event in events if isinstance(event, RatedAdjustment)]


async def rated_before_cancel(client: Redis, app: str, folder: Path) -> tuple[ConfigStore, RedisStore]:
    """Seed the configuration from ``folder`` and rate its records before the cancel line with the kernel."""
    config = ConfigStore(client, app)
    _, current = await config.bootstrap(folder)
    state = RedisStore(client)
    items = [(line, f"usage.jsonl:{n}") for n, line in enumerate(usage_before_cancel(folder), start=1)]
    await rate_batch(Rater(current.catalog, current.subscriptions), state, items)
    return config, state


@pytest.mark.parametrize(
    ("name", "total", "kept"),
    [("E13-proration-on-cancel", "8.00", 12 * GB), ("E13-proration-on-cancel-21-gb", "9.00", 20 * GB)],
)
async def test_a_cancellation_publishes_the_offline_adjustment_once(
    redis_client: Redis, name: str, total: str, kept: int
) -> None:
    """E13: monthly 30 GB T1 free + 10 GB T2 flat 8.00, overage 1.00/GB, Prorate on; cancelled from Sept 11,
    so T1' = 30 x 10/30 = 10 GB.  12 GB consumed: 2 GB move into T2 -> 8.00, the counter keeps 12 GB.
    21 GB consumed: T2 covers 10-20 GB (8.00) and 1 GB overflows at 1.00 -> 9.00, the counter keeps 20 GB.
    The event published (keyed by account) is byte for byte the adjustment ``rater rate`` writes; the
    configuration moved one version and the service's UID window now ends on Sept 11 (R2)."""
    folder = EXAMPLES / name
    config, state = await rated_before_cancel(redis_client, "e13", folder)
    published = Published()
    operation = cancel_operation(folder)
    result = await Provisioner(config, state, published).submit(parse_operation(operation))
    assert (result.status, result.version) == ("applied", 2)
    expected = offline_adjustments(folder)
    assert [value for _, value in published.sent] == expected
    event = orjson.loads(expected[0])
    assert (event["total_amount"], event["kept"]) == (total, kept)
    assert [key for key, _ in published.sent] == [event["account"].encode()]
    _, after = await config.snapshot()
    service = after.subscriptions.services[operation["account_service"]]
    assert service.cancel == dt.date(2026, 9, 11)
    assert await consumed(state, bucket_key(event["account"], event["bucket_instance"])) == [kept]


async def test_a_retry_after_each_crash_publishes_the_same_events_and_cuts_once(redis_client: Redis) -> None:
    """E13's 21 GB case (21 GB consumed, cut to 20 GB, 9.00).  The provisioner dies (1) after settling,
    before applying; (2) after applying, before publishing.  Each time the operation is sent again with its
    id: the counter is cut once (20 GB, not re-priced from 20 GB to a smaller adjustment), the configuration
    moves once (version 2), and the event published is the one of the first settlement, identical each
    time.  A third send (say a re-read topic message) publishes it once more, identical: consumers dedupe on
    ``event_id``."""
    folder = EXAMPLES / "E13-proration-on-cancel-21-gb"
    config, state = await rated_before_cancel(redis_client, "e13-crash", folder)
    operation = parse_operation(cancel_operation(folder))
    published = Published()

    class CrashingConfig(ConfigStore):
        async def submit(self, operation: Any) -> Any:
            raise Crash("apply")

    crashing = CrashingConfig(redis_client, "e13-crash")
    with pytest.raises(Crash):
        await Provisioner(crashing, state, published).submit(operation)
    assert await config.version() == 1
    assert published.sent == []
    published.crash_next = True
    with pytest.raises(Crash):
        await Provisioner(config, state, published).submit(operation)
    assert await config.version() == 2
    assert published.sent == []
    for _ in range(2):
        result = await Provisioner(config, state, published).submit(operation)
        assert (result.status, result.version) == ("applied", 2)
    expected = offline_adjustments(folder)
    assert [value for _, value in published.sent] == expected * 2
    assert await consumed(state, bucket_key("ACC-21", "AS-21/DATA30")) == [20 * GB]


async def test_a_refused_cancellation_settles_nothing(redis_client: Redis) -> None:
    """An unknown account-service is refused (not_found) before anything is cut or published."""
    folder = EXAMPLES / "E13-proration-on-cancel"
    config, state = await rated_before_cancel(redis_client, "e13-refused", folder)
    published = Published()
    operation = parse_operation(
        {"op": "cancel_account_service", "id": "x", "account_service": "AS-NONE", "cancel": "2026-09-11"}
    )
    result = await Provisioner(config, state, published).submit(operation)
    assert result.status == "refused"
    assert result.error is not None
    assert result.error["code"] == "not_found"
    assert published.sent == []
    assert await config.version() == 1


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "cancel_account_package", "id": "cancel-pkg", "account_package": "AP-12", "cancel": "2026-09-11"},
        {"op": "cancel_account", "id": "cancel-acc", "account": "ACC-12", "cancel": "2026-09-11"},
    ],
)
async def test_cancelling_the_package_or_the_account_settles_its_services(
    redis_client: Redis, operation: dict[str, Any]
) -> None:
    """A package or account cancelled from Sept 11 cancels AS-12 from Sept 11 (§1.3): the same E13 cut as
    cancelling the service itself (12 GB, 2 GB into T2 -> 8.00), under this operation's id."""
    folder = EXAMPLES / "E13-proration-on-cancel"
    config, state = await rated_before_cancel(redis_client, f"e13-{operation['id']}", folder)
    published = Published()
    result = await Provisioner(config, state, published).submit(parse_operation(operation))
    assert result.status == "applied"
    (offline,) = [orjson.loads(body) for body in offline_adjustments(folder)]
    expected = {
        **offline,
        "adjustment_id": f"{operation['id']}:AS-12/DATA30",
        "event_id": f"{operation['id']}:AS-12/DATA30:adjustment",
    }
    assert [orjson.loads(value) for _, value in published.sent] == [expected]
    assert expected["total_amount"] == "8.00"


async def test_a_cancellation_at_a_period_end_settles_nothing(redis_client: Redis) -> None:
    """Cancelled from Dec 1: the last active day, Nov 30, ends a whole November (30 of 30 days), so no tier 1
    is cut (R40, R42) and nothing is settled or published; the cancellation itself is applied."""
    folder = EXAMPLES / "E13-proration-on-cancel"
    config, state = await rated_before_cancel(redis_client, "e13-later", folder)
    published = Published()
    operation = {"op": "cancel_account_package", "id": "late", "account_package": "AP-12", "cancel": "2026-12-01"}
    assert (await Provisioner(config, state, published).submit(parse_operation(operation))).status == "applied"
    assert published.sent == []
    assert await consumed(state, bucket_key("ACC-12", "AS-12/DATA30")) == [12 * GB]
