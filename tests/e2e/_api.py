"""The API as a process beside the workers of a :class:`~tests.e2e._stream.Stream`, and a tiny HTTP client."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.e2e._stream import ROOT, Stream

TOKEN = "e2e-operator"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ApiProcess:
    """``rater api`` for ``stream`` (same app id, topics, Redis and seed folder)."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.port = free_port()
        self.log = (stream.logs / "api.log").open("wb")
        env = {**stream.env, "RATER_API_PORT": str(self.port), "RATER_OPERATOR_TOKEN": TOKEN}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "api"], env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.call("GET", "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the API did not start\n{self.logs()}")

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=orjson.dumps(body) if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, orjson.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, orjson.loads(error.read())

    def wait_for(self, path: str, ready: Any, timeout: float = 60) -> Any:
        """GET ``path`` until ``ready(body)`` is true; return the body."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.call("GET", path)
            if status == 200 and ready(body):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{path}: {status} {body}\n{self.logs()}")
            time.sleep(0.3)

    def logs(self) -> str:
        return (self.stream.logs / "api.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def send(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes, int | None]]) -> None:
    """Produce ``(key, value, partition)`` messages and wait for the broker to have them."""

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, value, partition in messages:
                await producer.send_and_wait(topic, value=value, key=key, partition=partition)
        finally:
            await producer.stop()

    asyncio.run(run())


def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 30) -> list[tuple[bytes | None, Any]]:
    """``(key, decoded JSON value)`` of the first ``count`` messages of ``topic`` (fewer after ``timeout``)."""

    async def run() -> list[tuple[bytes | None, Any]]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        got: list[tuple[bytes | None, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            while len(got) < count and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got += [(record.key, orjson.loads(record.value or b"null")) for record in records]
        finally:
            await consumer.stop()
        return got

    return asyncio.run(run())
