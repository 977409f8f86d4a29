"""``rater api`` starts and answers with its broker down: Kafka sits beside the handlers (its consumers retry
in the background, its publishers connect on first use), so health and balances never wait for it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from redis.asyncio import Redis

from streams.dev.servers import free_port
from tests.integration._api import E20, OPERATOR, TOKENS, rate_folder_into

ROOT = Path(__file__).resolve().parents[2]


async def _rate(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        await client.flushdb()
        await rate_folder_into(client, E20)
    finally:
        await client.aclose()


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read())


@pytest.mark.timeout(60)
def test_api_serves_health_and_balances_with_the_broker_down(redis_url: str, tmp_path: Path) -> None:
    asyncio.run(_rate(redis_url))
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # nothing listens there
        "RATER_CONFIG": str(E20),
        "RATER_APP_ID": f"nokafka-{uuid.uuid4().hex}",
        "RATER_API_PORT": str(port),
        "RATER_OPERATOR_TOKEN": OPERATOR,
        "RATER_ACCOUNT_TOKENS": TOKENS,
    }
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "api"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                status, body = _get(f"{base}/health")
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.1)
        assert (status, body) == (200, {"status": "ok"})
        status, body = _get(f"{base}/v1/account-services/C1-PHONE/balances?at=2026-03-10T00:00:00Z", "p-token")
        assert status == 200
        assert body["account_service"] == "C1-PHONE"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
