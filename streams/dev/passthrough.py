"""The pass-through worker of ``rater bench e2e``: the same settings, batching and sending as the rating
worker, but it only decodes each record (orjson) and forwards it.  The ratio of the two is what rating
itself costs on the stack.

It runs on the consumer ``RATER_CONSUMER`` names, like the worker: ``faust`` is the Faust agent the
issue's acceptance compares against, ``lean`` the plain aiokafka group loop the worker uses by default
(streams/worker/loop.py), so the bench can report both.

Run as ``python -m streams.dev.passthrough`` with the worker's environment (streams/settings.py).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import faust
import orjson
from aiokafka import ConsumerRecord

from streams.configuration.topics import RATED, USAGE
from streams.settings import Settings
from streams.worker.faust_agent import faust_app
from streams.worker.loop import LeanLoop, serve
from streams.worker.sender import Message, Sender


def build_passthrough(settings: Settings) -> faust.App:
    app = faust_app(settings)
    usage = app.topic(settings.topic(USAGE), key_type=bytes, value_type=bytes)
    sender = Sender(settings)
    out = settings.topic(RATED)

    @app.agent(usage, concurrency=1)
    async def forward(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within):
            batch = [(out, bytes(event.key or b""), orjson.dumps(orjson.loads(bytes(event.value)))) for event in events]
            await sender.send_all(batch)

    return app


async def forward(records: list[ConsumerRecord[bytes, bytes]]) -> list[Message]:
    """The lean pass-through's handler: decode and forward each record to ``rated-charges``."""
    return [(RATED, record.key or b"", orjson.dumps(orjson.loads(record.value or b""))) for record in records]


def main() -> int:
    settings = Settings.from_env()
    if settings.consumer == "lean":
        asyncio.run(serve(LeanLoop(settings, forward)))
        return 0
    worker = faust.Worker(build_passthrough(settings), loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
