"""The topics of the pipeline and their explicit creation.

Topics are created with the admin client before any worker starts, with their partition counts: a broker
that auto-creates unknown topics (Tansu does, with 4 partitions) would otherwise decide for us.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.settings import Settings

#: The pipeline's topics (names before ``RATER_TOPIC_PREFIX``).  Here, not in the worker, so the API and the
#: operator commands name them without importing the worker.
USAGE = "usage"
RATED = "rated-charges"
CROSSINGS = "tier-crossings"
NOTIFICATIONS = "notifications"
EXCEPTIONS = "rating-exceptions"
#: What a worker produces.
OUTPUTS = (RATED, CROSSINGS, NOTIFICATIONS, EXCEPTIONS)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int = 1


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic with its partition count, for explicit creation."""
    return [TopicSpec(settings.topic(USAGE), settings.usage_partitions, settings.replication)] + [
        TopicSpec(settings.topic(name), settings.output_partitions, settings.replication) for name in OUTPUTS
    ]


async def create_topics(bootstrap: str, topics: Iterable[TopicSpec]) -> None:
    """Create the topics that do not exist yet (existing ones are left as they are)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name=topic.name, num_partitions=topic.partitions, replication_factor=topic.replication)
            for topic in topics
            if topic.name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently by another worker
                await admin.create_topics(wanted)
    finally:
        await admin.close()
