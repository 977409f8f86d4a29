"""The ``rater`` console script: the pure commands of :mod:`rater.cli` plus the shell's commands.

    rater worker                                                 rate the usage topic (settings: streams/settings.py)
    rater bench core [--records N] [--batch B]                   the pure rating core on the demo stream, in memory
    rater bench kernel [--records N] [--batch B] [--clients C]   the Redis kernel vs a trivial script
    rater demo [--records N] [--json] [--workers W] [--rate R]   the whole pipeline on the embedded stack
    rater bench e2e [--records N] [--batch B] [--partitions P]   a rating worker vs a pass-through worker
    rater api                                                    the HTTP API (settings: streams/settings.py)
    rater balances ACCOUNT | --service ID | --share-plan ACCOUNT/PLAN [--at TIME] [--json]
                                                                 balances read from Redis (REDIS_URL, RATER_CONFIG)
    rater provision FILE|- [--via-topic]                         apply provisioning operations
    rater exceptions list|reprocess [filters]                    rating exceptions
    rater send FILE                                              produce a usage file to Kafka

Environment: ``REDIS_URL`` (use that server instead of starting an embedded valkey-server), for the demo
``KAFKA_BOOTSTRAP`` too (that broker instead of the embedded one), and for the worker the variables listed in
streams/settings.py.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from rater.balances import Balances, UnknownSubject
from rater.cli import build_parser
from rater.errors import RetriableError
from rater.issues import ValidationFailed
from rater.offline import load_folder
from rater.redis_store import connect, read_hashes
from streams.api.app import run_api
from streams.cli.ops import add_commands as add_operator_commands
from streams.configuration.store import ConfigStore
from streams.settings import Settings, SettingsError, run_with_settings
from streams.worker.main import main as worker_main


def cmd_bench_core(args: argparse.Namespace) -> int:
    from streams.dev.bench_core import core_bench  # noqa: PLC0415 (the dev stack: only for this command)

    line: dict[str, object] = {**core_bench(args.records, args.batch)}
    line["command"] = f"rater bench core --records {args.records} --batch {args.batch}"
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    return 0


def cmd_bench_kernel(args: argparse.Namespace) -> int:
    from streams.dev.bench import kernel_bench  # noqa: PLC0415 (the dev stack: only for this command)

    result = kernel_bench(args.records, args.batch, args.clients)
    line: dict[str, object] = {**result.to_dict()}
    line["command"] = f"rater bench kernel --records {args.records} --batch {args.batch} --clients {args.clients}"
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    return 0


def cmd_bench_e2e(args: argparse.Namespace) -> int:
    from streams.dev.bench import e2e_bench  # noqa: PLC0415 (the dev stack: only for this command)

    line: dict[str, object] = {**e2e_bench(args.records, args.batch, args.partitions)}
    line["command"] = f"rater bench e2e --records {args.records} --batch {args.batch} --partitions {args.partitions}"
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.dev.demo import DemoError, DemoOptions, format_report, run_demo  # noqa: PLC0415 (dev stack: only here)

    options = DemoOptions(
        records=args.records,
        workers=args.workers,
        partitions=args.partitions,
        seed=args.seed,
        rate=args.rate,
        timeout=args.timeout,
        keep=args.keep,
        progress=not args.quiet,
    )
    try:
        report = run_demo(options)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(orjson.dumps(report).decode() + "\n")
    else:
        sys.stdout.write(format_report(report) + "\n")
    complete = report["rated"] + sum(report["exceptions"].values()) == report["records"]
    return 0 if report["lost"] == 0 and report["duplicated"] == 0 and complete else 1


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} is not greater than zero")
        return value

    return parse


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="generate an operator and a usage stream, rate it through Kafka and Redis, report",
        description="Starts the embedded broker and valkey-server and a worker, produces a generated usage stream on "
        "the example catalog, and reports records in, rated, exceptions, lost, duplicated, redelivered, "
        "throughput, latency, charges, tier crossings and balances.  Exit 1 if a record was lost or charged "
        "twice.",
        epilog="Environment: KAFKA_BOOTSTRAP, REDIS_URL (use those servers instead of starting embedded ones; the "
        "demo clears the keys of its DEMO-* accounts on that Redis).",
    )
    demo.add_argument("--records", type=_positive(int), default=100_000, help="usage records (default 100,000)")
    demo.add_argument("--json", action="store_true", help="print the report as one JSON line")
    demo.add_argument("--workers", type=_positive(int), default=1, help="worker processes (default 1)")
    demo.add_argument("--partitions", type=_positive(int), default=4, help="usage topic partitions (default 4)")
    demo.add_argument("--seed", type=int, default=7, help="seed of the generated operator and usage (default 7)")
    demo.add_argument(
        "--rate", type=float, default=0.0, help="pace the producer at R records/s (default 0: as fast as it can)"
    )
    demo.add_argument(
        "--timeout", type=_positive(float), default=60.0, help="give up after T s without a new outcome (default 60)"
    )
    demo.add_argument("--keep", action="store_true", help="keep the generated folder (with usage.jsonl) and logs")
    demo.add_argument("--quiet", action="store_true", help="no progress on stderr")
    demo.set_defaults(func=cmd_demo)


def cmd_worker(args: argparse.Namespace) -> int:
    return worker_main()


def cmd_api(args: argparse.Namespace) -> int:
    return run_with_settings(run_api)


# --- rater balances -------------------------------------------------------------------------------------


def cmd_balances(args: argparse.Namespace) -> int:
    """Balances read straight from the state store with the API's pure function (rater.balances), under the
    configuration in force: the configuration store's (provisioning), or the ``RATER_CONFIG`` files while
    the store holds none yet."""
    try:
        settings = Settings.from_env(need=["REDIS_URL"])
    except SettingsError as exc:
        print(f"error: {exc} (the state store the workers draw down)", file=sys.stderr)
        return 2
    moment = dt.datetime.now(dt.UTC) if args.at is None else _aware(args.at)
    if moment is None:
        print(f"error: --at {args.at!r} is not an ISO 8601 time with a UTC offset", file=sys.stderr)
        return 2

    async def read() -> dict[str, Any]:
        client = connect(settings.redis_url)
        try:
            store = ConfigStore(client, settings.app_id)
            if await store.version() > 0:
                _, config = await store.current()
                catalog, subscriptions = config.catalog, config.subscriptions
            else:
                catalog, subscriptions = load_folder(settings.config)
            balances = Balances(catalog, subscriptions)
            if args.service is not None:
                selection = balances.service(args.service)
            elif args.share_plan is not None:
                holder, _, plan = args.share_plan.partition("/")
                selection = balances.share_plan(holder, plan)
            else:
                selection = balances.account(args.account)
            return balances.view(selection, await read_hashes(client, selection.keys), moment).to_dict()
        finally:
            await client.aclose()

    try:
        view = asyncio.run(read())
    except ValidationFailed as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    except (UnknownSubject, RetriableError) as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    sys.stdout.write((orjson.dumps(view).decode() if args.json else format_balances(view)) + "\n")
    return 0


def _aware(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def format_balances(view: dict[str, Any]) -> str:
    """A balance view as a table: one line per bucket, share-plan participants below their pool."""
    subject = " ".join(f"{name} {view[name]}" for name in ("account", "account_service", "share_plan") if name in view)
    lines = [f"{subject} at {view['at']} (day {view['day']})"]
    if not view["buckets"]:
        return "\n".join([*lines, "  no bucket is active on that day"])
    rows = [("bucket instance", "level", "period", "used", "allowance", "remaining", "tier", "unit")]

    def number(value: int | None) -> str:
        return "unlimited" if value is None else f"{value:,}"

    for bucket in view["buckets"]:
        period = f"{bucket['period_start']}..{bucket['period_end'] or ''}"
        tier = f"{bucket['tier']}" + (f" r{bucket['repeat']}" if bucket["repeat"] else "")
        rows.append(
            (
                bucket["bucket_instance"],
                bucket["level"],
                period,
                f"{bucket['used']:,}",
                number(bucket["allowance"]),
                number(bucket["remaining"]),
                tier,
                bucket["unit"],
            )
        )
        mine = bucket.get("participation")
        for participant in [mine] if mine else bucket.get("participants", []):
            rows.append(
                (
                    f"  participant {participant['participant']}",
                    "",
                    "",
                    f"{participant['used']:,}",
                    number(participant["limit"]),
                    number(participant["remaining"]),
                    "",
                    "",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def _add_balances(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "balances",
        help="show balances read from Redis: an account, an account-service or a share plan",
        description="Each bucket in the period containing --at (default now): used, allowance, remaining, tier; "
        "share-plan pools with each participant's use and limit.  The same numbers as the balance API.",
        epilog="Environment: REDIS_URL (required: the state store), RATER_APP_ID (default rater: whose configuration "
        "store), RATER_CONFIG (the catalog and subscriptions folder, default config; used while the configuration "
        "store holds none).",
    )
    which = command.add_mutually_exclusive_group(required=True)
    which.add_argument("account", nargs="?", help="an account: the buckets it holds")
    which.add_argument("--service", metavar="ID", help="an account-service: everything it may draw from")
    which.add_argument("--share-plan", metavar="ACCOUNT/PLAN", help="a share plan held by ACCOUNT: its pools")
    command.add_argument("--at", metavar="TIME", help="ISO 8601 time with a UTC offset (default now)")
    command.add_argument("--json", action="store_true", help="print the view as one JSON line (the API's body)")
    command.set_defaults(func=cmd_balances)


def parser() -> argparse.ArgumentParser:
    root = build_parser()
    commands = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    worker = commands.add_parser(
        "worker",
        help="rate the usage topic into the output topics (a consumer group; RATER_CONSUMER=faust: a Faust agent)",
        epilog="Environment: KAFKA_BOOTSTRAP, REDIS_URL (required); RATER_CONFIG, RATER_APP_ID, RATER_TOPIC_PREFIX, "
        "RATER_USAGE_PARTITIONS, RATER_OUTPUT_PARTITIONS, RATER_REPLICATION, RATER_BATCH_SIZE, RATER_BATCH_WITHIN, "
        "RATER_RESULT_TTL, RATER_SESSION_TIMEOUT, RATER_LOG_LEVEL, "
        "RATER_METRICS_PORT, RATER_TICK_INTERVAL, RATER_CONSUMER (see streams/settings.py).",
    )
    worker.set_defaults(func=cmd_worker)
    api = commands.add_parser(
        "api",
        help="serve the HTTP API: balances, provisioning, rating exceptions",
        epilog="Environment: KAFKA_BOOTSTRAP, REDIS_URL (required); RATER_CONFIG (seeds an empty configuration "
        "store), RATER_APP_ID, RATER_TOPIC_PREFIX, RATER_RESULT_TTL, RATER_SESSION_TIMEOUT, RATER_API_HOST, "
        "RATER_API_PORT, RATER_OPERATOR_TOKEN, RATER_ACCOUNT_TOKENS, RATER_EXCEPTION_RETENTION, RATER_LOG_LEVEL "
        "(see streams/settings.py).",
    )
    api.set_defaults(func=cmd_api)
    bench = commands.add_parser(
        "bench",
        help="benchmarks; each prints one JSON line",
        epilog="Environment: REDIS_URL (else an embedded server); bench e2e also KAFKA_BOOTSTRAP (else an embedded "
        "broker).",
    )
    benches = bench.add_subparsers(dest="bench", required=True)
    core = benches.add_parser(
        "core",
        help="the pure rating core (decode, resolve, claim, draw, price) on the demo stream, in-memory store",
        epilog="No server: the generated demo stream (rater demo's operator) rated against the in-memory store.",
    )
    core.add_argument("--records", type=int, default=100_000)
    core.add_argument("--batch", type=int, default=512)
    core.set_defaults(func=cmd_bench_core)
    kernel = benches.add_parser(
        "kernel",
        help="the Redis draw-down kernel vs one HINCRBY script, same server and run",
        epilog="Environment: REDIS_URL (else an embedded server).",
    )
    kernel.add_argument("--records", type=int, default=50_000)
    kernel.add_argument("--batch", type=int, default=100)
    kernel.add_argument("--clients", type=int, default=8)
    kernel.set_defaults(func=cmd_bench_kernel)
    e2e = benches.add_parser(
        "e2e",
        help="a rating worker vs a pass-through worker on the embedded stack, same run",
        epilog="Environment: KAFKA_BOOTSTRAP, REDIS_URL (else embedded servers).",
    )
    e2e.add_argument("--records", type=int, default=20_000)
    e2e.add_argument("--batch", type=int, default=200)
    e2e.add_argument("--partitions", type=int, default=4)
    e2e.set_defaults(func=cmd_bench_e2e)
    _add_demo(commands)
    _add_balances(commands)
    add_operator_commands(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
