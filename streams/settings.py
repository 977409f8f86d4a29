"""Settings, read from the environment once, at the composition root, into a frozen object.

This is the one module of ``streams/`` and ``rater/`` that reads the environment (a test holds it to that):
``rater worker`` and ``rater api`` need both servers (:func:`run_with_settings`), the other commands ask
only for what they use (``Settings.from_env(need=...)``), and the dev stack starts its worker processes
with :func:`child_environment`.

| variable | default | meaning |
|---|---|---|
| ``KAFKA_BOOTSTRAP`` | (required) | Kafka bootstrap servers, ``host:port[,host:port]`` |
| ``REDIS_URL`` | (required) | the state store, ``redis://host:port/db`` |
| ``RATER_CONFIG`` | ``config`` | catalog and ``subscriptions.yaml``: seed of the configuration store (first start) |
| ``RATER_APP_ID`` | ``rater`` | the consumer group (and Faust app id); names the configuration in Redis |
| ``RATER_TOPIC_PREFIX`` | (empty) | prefix of every topic name |
| ``RATER_USAGE_PARTITIONS`` | ``8`` | partitions of the ``usage`` topic when rater creates it |
| ``RATER_OUTPUT_PARTITIONS`` | ``8`` | partitions of each output topic when rater creates it |
| ``RATER_REPLICATION`` | ``1`` | replication factor of created topics |
| ``RATER_BATCH_SIZE`` | ``200`` | records rated per store round trip |
| ``RATER_BATCH_WITHIN`` | ``0.05`` | seconds to wait to fill a batch |
| ``RATER_RESULT_TTL`` | ``604800`` | seconds a record's draw (and its id's claim, R1) is kept for redeliveries |
| ``RATER_EVENT_WINDOW_DAYS`` | ``3653`` | event times accepted: this many days either side of the clock |
| ``RATER_SESSION_TIMEOUT`` | ``8`` | consumer-group session timeout, seconds |
| ``RATER_TICK_INTERVAL`` | ``60`` | seconds between time-driven rule runs (activation by time); 0: off |
| ``RATER_EXCEPTION_RETENTION`` | ``2592000`` | seconds the API's exception index keeps an exception (30 days) |
| ``RATER_LOG_LEVEL`` | ``warning`` | worker log level |
| ``RATER_API_HOST`` | ``127.0.0.1`` | address ``rater api`` listens on (``0.0.0.0`` in a container) |
| ``RATER_API_PORT`` | ``8080`` | port of ``rater api`` |
| ``RATER_OPERATOR_TOKEN`` | (none) | bearer token that sees and changes everything (secret) |
| ``RATER_ACCOUNT_TOKENS`` | (none) | ``token=ACCOUNT,...``: tokens that see one account and its children (secret) |
| ``RATER_METRICS_PORT`` | ``0`` | worker's Prometheus ``/metrics`` port; 0: off (``rater api``: at ``/metrics``) |
| ``RATER_CONSUMER`` | ``lean`` | ``lean``: aiokafka consumer group (streams/worker/loop.py); ``faust``: Faust agent |
| ``RATER_MAX_EVENT_BYTES`` | ``524288`` | largest output event, 65536 to 1000000; a larger one is bounded |
| ``RATER_CONTROL_KEY`` | (none) | HMAC-SHA256 key of signed control messages on ``usage``; none: refused (secret) |
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rater.record import DEFAULT_WINDOW_DAYS

#: ``RATER_MAX_EVENT_BYTES`` by default: half of Kafka's default ``message.max.bytes`` (1 MiB).
DEFAULT_MAX_EVENT_BYTES = 512 * 1024


class SettingsError(ValueError):
    """A missing or malformed environment setting."""


#: The settings ``rater worker`` and ``rater api`` cannot start without.
SERVERS = ("KAFKA_BOOTSTRAP", "REDIS_URL")


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str  # "" when not set: only for a command that did not need it
    redis_url: str = field(repr=False)  # likewise
    config: Path = Path("config")
    app_id: str = "rater"
    topic_prefix: str = ""
    usage_partitions: int = 8
    output_partitions: int = 8
    replication: int = 1
    batch_size: int = 200
    batch_within: float = 0.05
    result_ttl: int = 7 * 24 * 3600
    event_window_days: int = DEFAULT_WINDOW_DAYS
    session_timeout: float = 8.0
    tick_interval: float = 60.0
    exception_retention: int = 30 * 24 * 3600
    log_level: str = "warning"
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    operator_token: str | None = field(default=None, repr=False)
    account_tokens: str | None = field(default=None, repr=False)
    metrics_port: int = 0
    consumer: str = "lean"
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    control_key: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        masked = re.sub(r"//[^@/]*@", "//***@", self.redis_url)
        return (
            f"Settings(kafka_bootstrap={self.kafka_bootstrap!r}, redis_url={masked!r}, "
            f"config={str(self.config)!r}, app_id={self.app_id!r})"
        )

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, need: Iterable[str] = SERVERS) -> Settings:
        """The settings of ``env`` (default: this process's environment).  A variable named in ``need`` must
        be set; an unset text setting takes its default; a malformed one raises :class:`SettingsError`."""
        source = os.environ if env is None else env
        required = frozenset(need)

        def text(name: str, default: str = "") -> str:
            value = source.get(name, "").strip()
            if not value and name in required:
                raise SettingsError(f"{name} is required")
            return value or default

        def number(name: str, default: float, kind: type[int] | type[float]) -> float:
            raw = source.get(name, "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError as exc:
                raise SettingsError(f"{name}={raw!r} is not a number") from exc
            if value <= 0:
                raise SettingsError(f"{name} must be greater than zero")
            return value

        return cls(
            kafka_bootstrap=text("KAFKA_BOOTSTRAP"),
            redis_url=text("REDIS_URL"),
            config=Path(text("RATER_CONFIG", "config")),
            app_id=text("RATER_APP_ID", "rater"),
            topic_prefix=text("RATER_TOPIC_PREFIX"),
            usage_partitions=int(number("RATER_USAGE_PARTITIONS", 8, int)),
            output_partitions=int(number("RATER_OUTPUT_PARTITIONS", 8, int)),
            replication=int(number("RATER_REPLICATION", 1, int)),
            batch_size=int(number("RATER_BATCH_SIZE", 200, int)),
            batch_within=float(number("RATER_BATCH_WITHIN", 0.05, float)),
            result_ttl=int(number("RATER_RESULT_TTL", 7 * 24 * 3600, int)),
            event_window_days=int(number("RATER_EVENT_WINDOW_DAYS", DEFAULT_WINDOW_DAYS, int)),
            session_timeout=float(number("RATER_SESSION_TIMEOUT", 8.0, float)),
            tick_interval=_non_negative(source.get("RATER_TICK_INTERVAL", ""), 60.0),
            exception_retention=int(number("RATER_EXCEPTION_RETENTION", 30 * 24 * 3600, int)),
            log_level=text("RATER_LOG_LEVEL", "warning"),
            api_host=text("RATER_API_HOST", "127.0.0.1"),
            api_port=int(number("RATER_API_PORT", 8080, int)),
            operator_token=source.get("RATER_OPERATOR_TOKEN") or None,
            account_tokens=source.get("RATER_ACCOUNT_TOKENS") or None,
            metrics_port=_port(source.get("RATER_METRICS_PORT", "")),
            consumer=_choice("RATER_CONSUMER", source.get("RATER_CONSUMER", ""), CONSUMERS),
            max_event_bytes=_event_bytes(source.get("RATER_MAX_EVENT_BYTES", "")),
            control_key=source.get("RATER_CONTROL_KEY") or None,
        )


CONSUMERS = ("lean", "faust")


def _choice(name: str, text: str, allowed: tuple[str, ...]) -> str:
    value = text.strip() or allowed[0]
    if value not in allowed:
        raise SettingsError(f"{name}={text!r} must be one of {', '.join(allowed)}")
    return value


def _non_negative(text: str, default: float) -> float:
    if not text.strip():
        return default
    try:
        value = float(text)
    except ValueError as exc:
        raise SettingsError(f"RATER_TICK_INTERVAL={text!r} is not a number") from exc
    if value < 0:
        raise SettingsError("RATER_TICK_INTERVAL must be zero or more")
    return value


#: Bounds of ``RATER_MAX_EVENT_BYTES``: room for a bounded exception event (about 40 KB,
#: rater/events/rating_exceptions.py), and under the producer's request limit and Kafka's default
#: ``message.max.bytes`` (1 MiB).
MIN_EVENT_BYTES = 64 * 1024
MAX_EVENT_BYTES = 1_000_000


def _event_bytes(text: str) -> int:
    """``RATER_MAX_EVENT_BYTES``: the largest output event (docs/events.md)."""
    if not text.strip():
        return DEFAULT_MAX_EVENT_BYTES
    try:
        value = int(text)
    except ValueError as exc:
        raise SettingsError(f"RATER_MAX_EVENT_BYTES={text!r} is not a whole number") from exc
    if not MIN_EVENT_BYTES <= value <= MAX_EVENT_BYTES:
        raise SettingsError(f"RATER_MAX_EVENT_BYTES must be from {MIN_EVENT_BYTES} to {MAX_EVENT_BYTES}")
    return value


def _port(text: str) -> int:
    """``RATER_METRICS_PORT``: 0 (off) or a TCP port."""
    if not text.strip():
        return 0
    try:
        value = int(text)
    except ValueError as exc:
        raise SettingsError(f"RATER_METRICS_PORT={text!r} is not a port number") from exc
    if not 0 <= value <= 65535:
        raise SettingsError("RATER_METRICS_PORT must be 0 (off) or a port from 1 to 65535")
    return value


def run_with_settings(run: Callable[[Settings], int], env: Mapping[str, str] | None = None) -> int:
    """``run`` with the environment's settings, or exit code 2 with the reason on stderr when they are bad.
    ``rater worker`` and ``rater api`` both start through it, so they refuse a bad environment alike."""
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return run(settings)


def child_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """The environment of a process this one starts (the demo's and the bench's workers): this process's own,
    with ``overrides``."""
    return {**os.environ, **overrides}
