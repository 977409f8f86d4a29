"""Operator commands: ``rater provision``, ``rater exceptions list|reprocess``, ``rater send``.

They talk to the servers directly (Redis, Kafka) with the same code the API uses, so they work with or
without ``rater api`` running.  Each requires only the settings it uses (streams/settings.py; named in
``--help``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rater.catalog import json_document
from rater.errors import ExceptionType, RetriableError
from rater.issues import ValidationFailed
from rater.provisioning import ProvisioningError, parse_operation
from rater.redis_store import RedisStore, connect
from rater.yamlio import YamlError, loads_yaml
from streams.api.exceptions_index import STATUSES, ExceptionFilter, ExceptionIndex, public, reprocess, usage_key
from streams.configuration.provisioning_feed import PROVISIONING
from streams.configuration.settlement import Provisioner
from streams.configuration.store import ConfigStore
from streams.configuration.topics import RATED, USAGE, TopicSpec, create_topics
from streams.kafka import TopicPublisher, start_producer
from streams.settings import Settings, SettingsError
from streams.worker.control import sign_line

PROVISION_ENV = (
    "Environment: REDIS_URL (required), RATER_APP_ID (default rater), RATER_CONFIG (seeds an empty store), "
    "KAFKA_BOOTSTRAP and RATER_TOPIC_PREFIX (where a cancellation publishes its adjustments on rated-charges; "
    "without KAFKA_BOOTSTRAP a cancellation with prorated buckets to settle fails, changing nothing); with "
    "--via-topic also KAFKA_BOOTSTRAP (required), RATER_TOPIC_PREFIX and RATER_REPLICATION."
)
EXCEPTIONS_ENV = (
    "Environment: REDIS_URL (required), RATER_APP_ID (default rater); reprocess also KAFKA_BOOTSTRAP (required), "
    "RATER_TOPIC_PREFIX, RATER_RESULT_TTL (default 604800, the workers' value)."
)
SEND_ENV = (
    "Environment: KAFKA_BOOTSTRAP (required), RATER_TOPIC_PREFIX, RATER_CONTROL_KEY (signs the file's control "
    "lines, e.g. ticks; without it they are sent as they are and the workers refuse them)."
)


class UsageError(Exception):
    """A command-line mistake: the message is printed, exit code 2."""


def _settings(*need: str) -> Settings:
    """The environment's settings, with the variables in ``need`` required (a usage error otherwise)."""
    try:
        return Settings.from_env(need=need)
    except SettingsError as exc:
        raise UsageError(str(exc)) from exc


def read_operations(text: str) -> list[Any]:
    """Operations from a file: JSON Lines (one object per line), a JSON or YAML list, or one object.  YAML
    and JSON numbers with a fraction are read exactly (``0.10`` stays 0.10); JSON Lines numbers with a
    fraction are floats, which amounts refuse: write amounts as strings there."""
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        parsed = [orjson.loads(line) for line in lines]
        if len(parsed) > 1 and all(isinstance(item, dict) for item in parsed):
            return parsed
    except orjson.JSONDecodeError:
        pass
    try:
        document = loads_yaml(text)
    except YamlError as exc:
        raise UsageError(f"the operations are neither JSON Lines nor a YAML/JSON document: {exc}") from exc
    body = json_document(document)
    if isinstance(body, dict) and "operations" in body:
        body = body["operations"]
    return body if isinstance(body, list) else [body]


def _input(path: str) -> str:
    return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")


def cmd_provision(args: argparse.Namespace) -> int:
    try:
        bodies = read_operations(_input(args.file))
        need = ["KAFKA_BOOTSTRAP"] if args.via_topic else []
        if not args.via_topic or args.wait > 0:
            need.append("REDIS_URL")
        return asyncio.run(_provision(_settings(*need), bodies, args.via_topic, args.wait))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationFailed as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1


async def _provision(settings: Settings, bodies: list[Any], via_topic: bool, wait: float) -> int:
    refused = 0
    client = connect(settings.redis_url) if (not via_topic or wait > 0) else None
    store = ConfigStore(client, settings.app_id) if client is not None else None
    try:
        if not via_topic:
            assert store is not None
            seed = settings.config
            if await store.version() == 0 and not seed.exists():
                raise UsageError(f"the store holds no configuration yet and RATER_CONFIG={seed} does not exist")
            await store.seed(seed)
            assert client is not None
            # a cancellation settles prorated buckets and publishes the adjustments (R41): on the broker
            # when there is one; without one, such a cancellation is refused as retriable, changing nothing
            bootstrap = settings.kafka_bootstrap
            publisher = TopicPublisher(bootstrap, settings.topic(RATED)) if bootstrap else None
            provisioner = Provisioner(store, RedisStore(client), publisher)
            try:
                for body in bodies:
                    try:
                        result = (await provisioner.submit(parse_operation(body))).to_dict()
                    except (ProvisioningError, RetriableError) as exc:
                        op = str(body.get("op")) if isinstance(body, dict) else ""
                        result = {"operation": body.get("id") if isinstance(body, dict) else None, "op": op}
                        error = (
                            exc.to_dict()
                            if isinstance(exc, ProvisioningError)
                            else {"code": "unavailable", "message": str(exc)}
                        )
                        result |= {"status": "refused", "error": error}
                    refused += result["status"] != "applied"
                    print(orjson.dumps(result).decode(), flush=True)
            finally:
                if publisher is not None:
                    await publisher.close()
            return 1 if refused else 0
        ids = []
        topic = settings.topic(PROVISIONING)
        # one partition, so operations apply in the order they are produced (a broker that auto-creates
        # topics would pick several)
        await create_topics(settings.kafka_bootstrap, [TopicSpec(topic, 1, settings.replication)])
        send = TopicPublisher(settings.kafka_bootstrap, topic)
        try:
            for body in bodies:
                named = {**body, "id": body.get("id") or uuid.uuid4().hex} if isinstance(body, dict) else body
                op_id = str(named["id"]) if isinstance(named, dict) else uuid.uuid4().hex
                ids.append(op_id)
                await send(op_id.encode(), orjson.dumps(named))
        finally:
            await send.close()
        if store is None:
            for op_id in ids:
                print(orjson.dumps({"operation": op_id, "status": "sent"}).decode())
            return 0
        deadline = time.monotonic() + wait
        for op_id in ids:
            while (stored := await store.result(op_id)) is None and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            line = stored.to_dict() if stored is not None else {"operation": op_id, "status": "pending"}
            refused += line["status"] != "applied"
            print(orjson.dumps(line).decode(), flush=True)
        return 1 if refused else 0
    finally:
        if client is not None:
            await client.aclose()


def _filter(args: argparse.Namespace, limit: int = 100) -> ExceptionFilter:
    def ms(name: str, text: str | None) -> int | None:
        if not text:
            return None
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise UsageError(f"--{name} {text!r} is not an ISO 8601 time") from exc
        if moment.tzinfo is None:
            raise UsageError(f"--{name} {text!r} needs a time zone (e.g. Z)")
        return int(moment.timestamp() * 1000)

    return ExceptionFilter(
        args.type, args.account, ms("since", args.since), ms("until", args.until), args.status, limit
    )


def cmd_exceptions_list(args: argparse.Namespace) -> int:
    try:
        where = _filter(args, args.limit)
        found = asyncio.run(_list(_settings("REDIS_URL"), where))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for entry in found:
        if args.json:
            print(orjson.dumps(public(entry)).decode())
        else:
            shown = public(entry)
            print(
                f"{shown['raised_at']}  {shown['record_id']:<24} {shown['type']:<32} {shown['account'] or '-':<16} "
                f"{shown['status']:<11} {shown['message']}"
            )
    return 0


async def _list(settings: Settings, where: ExceptionFilter) -> list[dict[str, Any]]:
    client = connect(settings.redis_url)
    try:
        found, _ = await ExceptionIndex(client, settings.app_id).find(where)
        return found
    finally:
        await client.aclose()


def cmd_exceptions_reprocess(args: argparse.Namespace) -> int:
    try:
        filtering = any((args.type, args.account, args.since, args.until, args.status))
        if not args.ids and not filtering:
            raise UsageError("give record ids, or a filter (--type, --account, --since, --until, --status)")
        settings = _settings("KAFKA_BOOTSTRAP", "REDIS_URL")
        report = asyncio.run(_reprocess(settings, args.ids, _filter(args) if filtering else None, args.force))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps(report).decode())
    return 0


async def _reprocess(settings: Settings, ids: list[str], where: ExceptionFilter | None, force: bool) -> dict[str, Any]:
    send = TopicPublisher(settings.kafka_bootstrap, settings.topic(USAGE))
    client = connect(settings.redis_url)
    try:
        report = await reprocess(
            ExceptionIndex(client, settings.app_id),
            send,
            ids=ids,
            where=where,
            force=force,
            now_ms=int(time.time() * 1000),
            result_ttl_s=settings.result_ttl,
        )
        return report.to_dict()
    finally:
        await send.close()
        await client.aclose()


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield line.rstrip(b"\r\n")


def cmd_send(args: argparse.Namespace) -> int:
    try:
        path = Path(args.file)
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        settings = _settings("KAFKA_BOOTSTRAP")
        count = asyncio.run(_send(settings, path, args.topic, not args.quiet))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps({"sent": count, "topic": settings.topic(args.topic)}).decode())
    return 0


async def _send(settings: Settings, path: Path, topic_name: str, progress: bool) -> int:
    """Produce every non-blank line, keyed by its usage identifier, 1,000 in flight at a time; control lines
    signed with ``RATER_CONTROL_KEY`` when it is set (streams/worker/control.py)."""
    total = sum(1 for _ in _lines(path))
    topic = settings.topic(topic_name)
    key = settings.control_key
    producer = await start_producer(settings.kafka_bootstrap, linger_ms=5)
    sent = 0
    columns = (TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.speed} rec/s"))
    try:
        with Progress(*columns, TimeRemainingColumn(), disable=not progress, transient=False) as bar:
            task = bar.add_task("send", total=total)
            pending = []
            for line in _lines(path):
                value = sign_line(line, key) if key is not None else line
                pending.append(await producer.send(topic, value=value, key=usage_key(line)))
                if len(pending) >= 1000:
                    await asyncio.gather(*pending)
                    sent += len(pending)
                    bar.update(task, completed=sent)
                    pending = []
            await asyncio.gather(*pending)
            sent += len(pending)
            bar.update(task, completed=sent)
    finally:
        await producer.stop()
    return sent


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    provision = commands.add_parser(
        "provision",
        help="apply provisioning operations (docs/provisioning.md) from a file or stdin",
        description="Apply operations one by one, in order, and print each result as a JSON line (exit 1 if one "
        "was refused).  Directly against the configuration store, or with --via-topic through the provisioning "
        "topic (as other systems would).  FILE holds JSON Lines, a JSON/YAML list or one operation; '-' is stdin.",
        epilog=PROVISION_ENV,
    )
    provision.add_argument("file", help="operations file, or - for stdin")
    provision.add_argument("--via-topic", action="store_true", help="produce to the provisioning topic instead")
    provision.add_argument(
        "--wait", type=float, default=30.0, help="with --via-topic: seconds to wait for the results (0: do not wait)"
    )
    provision.set_defaults(func=cmd_provision)

    exceptions = commands.add_parser("exceptions", help="list and reprocess rating exceptions", epilog=EXCEPTIONS_ENV)
    actions = exceptions.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="rating exceptions, oldest first", epilog=EXCEPTIONS_ENV)
    again = actions.add_parser(
        "reprocess",
        help="send exceptions' records back to the usage topic after the configuration is fixed",
        description="Each chosen exception (by id and/or filter; the filter takes open ones unless --status "
        "says otherwise) is marked reprocessed and its original record sent back to usage with the same key.",
        epilog=EXCEPTIONS_ENV,
    )
    for sub in (listing, again):
        sub.add_argument("--type", choices=[t.value for t in ExceptionType])
        sub.add_argument("--account")
        sub.add_argument("--since", help="ISO 8601 time, inclusive (e.g. 2026-03-01T00:00:00Z)")
        sub.add_argument("--until", help="ISO 8601 time, exclusive")
        sub.add_argument("--status", choices=STATUSES)
    listing.add_argument("--limit", type=int, default=100, help="at most N (default 100, at most 1000)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=cmd_exceptions_list)
    again.add_argument("ids", nargs="*", help="record ids")
    again.add_argument("--force", action="store_true", help="send again even if reprocessed or its draw expired")
    again.set_defaults(func=cmd_exceptions_reprocess)

    send = commands.add_parser(
        "send",
        help="produce a usage JSONL file to Kafka, keyed by usage identifier, with a progress bar",
        epilog=SEND_ENV,
    )
    send.add_argument("file", help="usage records, one JSON object per line")
    send.add_argument("--topic", default=USAGE, help="topic name before RATER_TOPIC_PREFIX (default usage)")
    send.add_argument("--quiet", action="store_true", help="no progress bar")
    send.set_defaults(func=cmd_send)
