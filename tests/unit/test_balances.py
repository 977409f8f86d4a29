"""The balance view as a pure function of catalog, subscriptions, counter fields and a moment, checked
against hand-computed numbers of the worked examples (domain-spec §3)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from rater.balances import Balances, BucketBalance, UnknownSubject
from rater.memory_store import MemoryStore
from rater.offline import load_folder
from rater.rating import Rater
from tests.unit._builders import charge_of, rate_one, store_of
from tests.unit.test_consumption_properties import _records, _write, scenario

ROOT = Path(__file__).resolve().parents[2]


def _rated(name: str, records: int | None = None) -> tuple[Balances, MemoryStore]:
    """The example's first ``records`` usage lines rated offline; its balances and memory store."""
    folder = ROOT / "examples" / name
    catalog, subscriptions = load_folder(folder)
    rater = Rater(catalog, subscriptions)
    lines = [line for line in (folder / "usage.jsonl").read_bytes().splitlines() if line.strip()]
    for number, line in enumerate(lines[:records], start=1):
        rate_one(rater, line, f"usage.jsonl:{number}")
    return Balances(catalog, subscriptions), store_of(rater)


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _one(balances: Balances, store: MemoryStore, service: str, at: str) -> BucketBalance:
    (bucket,) = balances.view(balances.service(service), store.hashes, _at(at)).buckets
    return bucket


@pytest.mark.parametrize(
    ("records", "used", "remaining", "tier"),
    [(0, 0, 200, 0), (100, 100, 100, 1), (101, 101, 99, 2), (150, 150, 50, 2), (200, 200, 0, 2), (250, 200, 0, 2)],
)
def test_e1_sms_bucket_used_remaining_and_tier(records: int, used: int, remaining: int, tier: int) -> None:
    """E1: SMS200 is T1 = 100 + T2 = 100 messages, no repeat.  Tier 2 is reached by the 101st message (R15,
    R16); the allowance ends at 200 and messages 201-250 overflow to the rate plan (R19b), so after 250 SMS
    the bucket shows used 200 of 200, remaining 0, tier 2, in the period 2026-03-01..2026-04-01 (R39)."""
    balances, store = _rated("E01-tier-boundary-250-messages", records)
    bucket = _one(balances, store, "AS-A250", "2026-03-31T12:00:00Z")
    assert (bucket.used, bucket.remaining, bucket.tier, bucket.repeat) == (used, remaining, tier, 0)
    assert (bucket.allowance, bucket.tiers, bucket.carry) == (200, (100, 100), 0)
    assert (bucket.period_start, bucket.period_end) == (dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    assert (bucket.level, bucket.unit, bucket.unit_type) == ("account_service", "event", "count")


def test_e1_next_period_starts_empty() -> None:
    """R35: in April the recurring bucket is full again: used 0, remaining 200, tier 0 (no usage yet)."""
    balances, store = _rated("E01-tier-boundary-250-messages")
    bucket = _one(balances, store, "AS-A250", "2026-04-02T00:00:00Z")
    assert (bucket.period_start, bucket.period_end) == (dt.date(2026, 4, 1), dt.date(2026, 5, 1))
    assert (bucket.used, bucket.remaining, bucket.allowance, bucket.tier) == (0, 200, 200, 0)


def test_e1_account_view_lists_the_service_bucket() -> None:
    balances, store = _rated("E01-tier-boundary-250-messages")
    view = balances.view(balances.account("ACC-A250"), store.hashes, _at("2026-03-31T12:00:00Z"))
    body = view.to_dict()
    assert body["account"] == "ACC-A250"
    assert body["day"] == "2026-03-31"
    assert [(b["bucket_instance"], b["account_service"], b["used"]) for b in body["buckets"]] == [
        ("AS-A250/SMS200", "AS-A250", 200)
    ]


def test_e8_recurring_forfeits() -> None:
    """E8 (R35): VOICE100 is 100 min = 6,000,000 ms a month.  January: 40 + 30 min = 4,200,000 ms used,
    1,800,000 left; February starts again at 100 min (the 30 unused are forfeited, carry 0): 60 + 40 min
    fill it to 6,000,000 (the 41st minute overflowed)."""
    balances, store = _rated("E08-recurring-forfeits-rollover-carries")
    january = _one(balances, store, "AS-RECUR", "2026-01-25T00:00:00Z")
    assert (january.used, january.remaining, january.allowance, january.carry) == (4_200_000, 1_800_000, 6_000_000, 0)
    february = _one(balances, store, "AS-RECUR", "2026-02-25T00:00:00Z")
    assert (february.used, february.remaining, february.allowance, february.carry) == (6_000_000, 0, 6_000_000, 0)
    assert february.unit == "ms"


def test_e8_rollover_carries() -> None:
    """E8 (R36): S = 100 GB.  After January's 80 GB the February allowance is 100 + 20 = 120 GB, shown before
    February's first draw fixes it (pending carry); after February's 110 GB, March has 100 + 10 = 110 GB,
    all used by the 110 GB record (the 1 GB after it overflowed)."""
    balances, store = _rated("E08-recurring-forfeits-rollover-carries", 5)
    pending = _one(balances, store, "AS-ROLL", "2026-02-01T00:00:00Z")
    assert (pending.used, pending.carry, pending.allowance, pending.tiers) == (
        0,
        20 * 10**9,
        120 * 10**9,
        (120 * 10**9,),
    )
    balances, store = _rated("E08-recurring-forfeits-rollover-carries")
    march = _one(balances, store, "AS-ROLL", "2026-03-25T00:00:00Z")
    assert (march.carry, march.allowance, march.used, march.remaining, march.tier) == (
        10 * 10**9,
        110 * 10**9,
        110 * 10**9,
        0,
        1,
    )
    february = _one(balances, store, "AS-ROLL", "2026-02-25T00:00:00Z")
    assert (february.carry, february.allowance, february.used, february.remaining) == (
        20 * 10**9,
        120 * 10**9,
        110 * 10**9,
        10 * 10**9,
    )


def test_e18_pool_with_participation_limits() -> None:
    """E18 (R59 VST, R61): the pool is 50 contributing instances x 100 MB = 5,000,000,000 B.  A (X01) drew
    1 GB, its limit; B (X02) drew 1 GB: the pool shows 2,000,000,000 used, 3,000,000,000 left; X01 and X02
    have used their 1,000,000,000 B limit, X03 nothing."""
    balances, store = _rated("E18-participation-limit")
    view = balances.view(balances.share_plan("XCORP", "SP-PKG-X"), store.hashes, _at("2026-03-20T00:00:00Z"))
    (pool,) = view.buckets
    assert (pool.allowance, pool.used, pool.remaining, pool.tier) == (5 * 10**9, 2 * 10**9, 3 * 10**9, 1)
    assert pool.level == "share_plan"
    assert pool.share_plan == "SP-PKG-X"
    by_participant = {p.participant: p for p in pool.participants}
    assert len(by_participant) == 50
    assert (by_participant["X01"].used, by_participant["X01"].limit, by_participant["X01"].remaining) == (
        10**9,
        10**9,
        0,
    )
    assert (by_participant["X02"].used, by_participant["X03"].used, by_participant["X03"].remaining) == (
        10**9,
        0,
        10**9,
    )
    mine = _one(balances, store, "X01-PHONE", "2026-03-20T00:00:00Z")
    assert mine.participation is not None
    assert (mine.participation.participant, mine.participation.used, mine.participation.limit) == ("X01", 10**9, 10**9)
    assert "participants" not in mine.to_dict()


def test_e15_participants_without_a_limit_show_their_use() -> None:
    """E15 (R59 Fixed, R61): SVC-PHONE takes part in SP-TEAM-10 with no participation limit.  March:
    PHONE1 3 GB, PHONE2 3 GB, PHONE3 3 GB, PHONE4 2 GB = 11,000,000,000 B of the pool (its last tier
    repeats: allowance and remaining null).  Each phone shows exactly what it drew (3,000,000,000 B for
    PHONE1-3, 2,000,000,000 B for PHONE4) with limit and remaining null; after the first three records
    PHONE4 shows 0, a number, not null."""
    balances, store = _rated("E15-fixed-share-plan")
    view = balances.view(balances.share_plan("TEAM4", "SP-TEAM-10"), store.hashes, _at("2026-03-20T00:00:00Z"))
    (pool,) = view.buckets
    assert (pool.used, pool.allowance, pool.remaining) == (11 * 10**9, None, None)
    assert [(p.participant, p.used, p.limit, p.remaining) for p in pool.participants] == [
        ("TEAM4-PHONE1", 3 * 10**9, None, None),
        ("TEAM4-PHONE2", 3 * 10**9, None, None),
        ("TEAM4-PHONE3", 3 * 10**9, None, None),
        ("TEAM4-PHONE4", 2 * 10**9, None, None),
    ]
    assert pool.to_dict()["participants"][3] == {
        "participant": "TEAM4-PHONE4",
        "catalog_participant": "SVC-PHONE",
        "account": "TEAM4",
        "used": 2 * 10**9,
        "limit": None,
        "remaining": None,
    }
    mine = _one(balances, store, "TEAM4-PHONE2", "2026-03-20T00:00:00Z")
    assert mine.participation is not None
    assert (mine.participation.used, mine.participation.limit) == (3 * 10**9, None)
    balances, store = _rated("E15-fixed-share-plan", 3)
    view = balances.view(balances.share_plan("TEAM4", "SP-TEAM-10"), store.hashes, _at("2026-03-20T00:00:00Z"))
    assert [p.used for p in view.buckets[0].participants] == [3 * 10**9, 3 * 10**9, 3 * 10**9, 0]


def test_unknown_subjects_and_naive_moments_are_refused() -> None:
    balances, store = _rated("E01-tier-boundary-250-messages", 0)
    with pytest.raises(UnknownSubject):
        balances.account("NOPE")
    with pytest.raises(UnknownSubject):
        balances.service("NOPE")
    with pytest.raises(UnknownSubject):
        balances.share_plan("ACC-A250", "NOPE")
    with pytest.raises(ValueError, match="time zone"):
        balances.view(balances.account("ACC-A250"), store.hashes, dt.datetime(2026, 3, 1))


def test_selection_keys_share_one_hash_tag() -> None:
    """Architecture property 5: one view reads keys of one sharing root, so one atomic read serves it."""
    balances, _ = _rated("E18-participation-limit", 0)
    for selection in [
        balances.account("XCORP"),
        balances.service("X01-PHONE"),
        balances.share_plan("XCORP", "SP-PKG-X"),
    ]:
        assert selection.keys
        assert {key.split("}")[0] for key in selection.keys} == {"rater:{" + selection.root}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenario())
def test_balances_show_every_draw_as_rated(case: dict[str, Any]) -> None:
    """On random catalogs (service, account, parent and share-plan buckets of every type, repeats, rollover,
    participation limits; the generator of test_consumption_properties), right after each record the
    account-service's view at the record's moment shows, for every bucket the record drew from, the draw's
    ``after`` as ``used``, its allowance and carry (R15, R19, R36) and period; a share-plan participant's
    ``used``, limited or not, is the sum of what its records drew from the pool in that period (R61), within
    its limit when it has one; and remaining = allowance - used."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, case)
        catalog, subscriptions = load_folder(folder)
    rater = Rater(catalog, subscriptions)
    store = store_of(rater)
    balances = Balances(catalog, subscriptions)
    drawn: dict[tuple[str, str, str], int] = {}  # what each participant drew of a pool in a period
    for record in _records(case):
        outcome = charge_of(rater, record)
        at = dt.datetime.fromisoformat(str(record["event_time"]))
        view = balances.view(balances.service(outcome.account_service), store.hashes, at)
        shown = {bucket.bucket_instance: bucket for bucket in view.buckets}
        for draw in outcome.draws:
            bucket = shown[draw.bucket_instance]
            assert (bucket.used, bucket.allowance, bucket.carry) == (draw.after, draw.allowance, draw.carry)
            assert bucket.period_start.isoformat() == draw.period_start
            assert bucket.level == draw.level
            if bucket.allowance is not None:
                assert bucket.remaining == max(0, bucket.allowance - bucket.used)
            if draw.participant is not None:
                key = (draw.bucket_instance, draw.period_start, draw.participant)
                drawn[key] = drawn.get(key, 0) + draw.quantity
                assert bucket.participation is not None
                assert bucket.participation.participant == draw.participant
                assert bucket.participation.used == drawn[key]
                if bucket.participation.limit is not None:
                    assert bucket.participation.used <= bucket.participation.limit
