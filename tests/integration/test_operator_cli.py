"""``rater provision``, ``rater exceptions`` and ``rater send`` against real servers (valkey-server and the
embedded broker, started by the fixtures)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from rater.redis_store import connect
from streams.api.exceptions_index import ExceptionIndex
from streams.cli.main import main
from streams.cli.ops import read_operations
from streams.configuration.store import ConfigStore
from streams.dev.servers import KafkaBroker
from streams.worker.control import sign
from tests.integration._api import YEARS
from tests.unit.provisioning_builders import ACCOUNTS, CATALOG

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    with KafkaBroker() as running:
        yield running.bootstrap


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, redis_url: str, tmp_path: Path) -> Path:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    (tmp_path / "subscriptions.yaml").write_text(ACCOUNTS)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("RATER_APP_ID", "cli")
    monkeypatch.setenv("RATER_CONFIG", str(tmp_path))
    return tmp_path


def test_read_operations_formats() -> None:
    lines = '{"op": "a"}\n\n{"op": "b"}\n'
    assert read_operations(lines) == [{"op": "a"}, {"op": "b"}]
    assert read_operations('[{"op": "a", "rate": {"amount": 0.10}}]') == [{"op": "a", "rate": {"amount": "0.10"}}]
    assert read_operations("- op: a\n  cancel: 2026-04-01\n") == [{"op": "a", "cancel": "2026-04-01"}]
    assert read_operations('{"operations": [{"op": "a"}]}') == [{"op": "a"}]


def test_provision_applies_in_order_and_reports_refusals(
    env: Path, redis_client: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = tmp_path / "ops.yaml"
    ops.write_text(
        "- {id: rate-1, op: add_rate, rate_plan: RP-SMS, rate_group: STANDARD,\n"
        "   rate: {class: SMS, amount: 0.10, per: message}}\n"
        "- {id: del-1, op: delete_catalog_entity, kind: share_plan, entity: SP-TEAM}\n"
    )
    assert main(["provision", str(ops)]) == 1
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["operation"], r["status"]) for r in results] == [("rate-1", "applied"), ("del-1", "refused")]
    assert results[1]["error"]["code"] == "entity_in_use"
    assert main(["provision", str(ops)]) == 1  # idempotent: rate-1 is not added twice
    again = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert again[0]["version"] == results[0]["version"] == 2


def test_provision_through_the_topic_is_refused_without_a_broker_setting(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    (tmp_path / "one.json").write_text('{"op": "update_account", "account": "TEAM", "set": {"name": "x"}}\n')
    assert main(["provision", "--via-topic", str(tmp_path / "one.json")]) == 2
    assert "KAFKA_BOOTSTRAP is required" in capsys.readouterr().err


def test_provision_refuses_a_cancellation_to_settle_without_a_broker(
    redis_url: str,
    redis_client: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """R41: cancelling AS-12 of E13 on 2026-09-11 must publish a proration adjustment; with no broker the
    operation is one refused result line (code ``unavailable``), exit 1, and the configuration stays at
    version 1 (nothing applied, nothing cut)."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("RATER_APP_ID", "cli-cancel")
    monkeypatch.setenv(
        "RATER_CONFIG", str(Path(__file__).resolve().parents[2] / "examples" / "E13-proration-on-cancel")
    )
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    (tmp_path / "cancel.json").write_text(
        '{"id": "c1", "op": "cancel_account_service", "account_service": "AS-12", "cancel": "2026-09-11"}\n'
    )
    assert main(["provision", str(tmp_path / "cancel.json")]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    result = json.loads(line)
    assert (result["operation"], result["status"], result["error"]["code"]) == ("c1", "refused", "unavailable")

    async def version() -> int:
        client = connect(redis_url)
        try:
            return await ConfigStore(client, "cli-cancel").version()
        finally:
            await client.aclose()

    assert asyncio.run(version()) == 1


def test_exceptions_list(env: Path, redis_url: str, redis_client: object, capsys: pytest.CaptureFixture[str]) -> None:
    async def seed() -> None:
        client = connect(redis_url)
        index = ExceptionIndex(client, "cli", retention=YEARS)  # raised in March 2026
        for n, kind in enumerate(("rate_not_found", "no_usage_identifier_match")):
            body = {"record_id": f"r{n}", "type": kind, "message": "m", "account": "TEAM", "original": "{}"}
            await index.record(body, 1_772_409_600_000 + n)
        await client.aclose()

    asyncio.run(seed())
    assert main(["exceptions", "list", "--json", "--type", "rate_not_found"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["record_id"] for line in lines] == ["r0"]
    assert main(["exceptions", "list", "--since", "2026-03-02"]) == 2  # no zone


def test_send_produces_every_line_keyed_by_usage_identifier(
    broker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every non-blank line, as it is, but for the control line: signed with RATER_CONTROL_KEY (its
    canonical body plus ``signature``, streams/worker/control.py)."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP", broker)
    monkeypatch.setenv("RATER_TOPIC_PREFIX", "cli-")
    monkeypatch.setenv("RATER_CONTROL_KEY", "cli-key")
    usage = tmp_path / "usage.jsonl"
    usage.write_text(
        '{"record_id": "a", "usage_identifier": "+1"}\n\nnot json\n{"record_id": "b", "usage_identifier": "+2"}\n'
        '{"control": "tick", "time": "2026-04-01T00:00:00Z"}\n'
    )
    assert main(["send", str(usage), "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == {"sent": 4, "topic": "cli-usage"}

    async def read() -> list[tuple[bytes | None, bytes]]:
        consumer = AIOKafkaConsumer("cli-usage", bootstrap_servers=broker, auto_offset_reset="earliest")
        await consumer.start()
        try:
            got: list[tuple[bytes | None, bytes]] = []
            for _ in range(20):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got += [(r.key, r.value or b"") for r in records]
                if len(got) >= 4:
                    break
            return got
        finally:
            await consumer.stop()

    got = asyncio.run(read())
    # (the broker auto-creates the topic with several partitions: order holds per key only)
    tick = sign({"control": "tick", "time": "2026-04-01T00:00:00Z"}, "cli-key")
    assert sorted((key or b"", value) for key, value in got) == [
        (b"", b"not json"),
        (b"", orjson.dumps(tick)),
        (b"+1", b'{"record_id": "a", "usage_identifier": "+1"}'),
        (b"+2", b'{"record_id": "b", "usage_identifier": "+2"}'),
    ]
