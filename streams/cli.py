"""The ``rater`` console script: the pure commands of :mod:`rater.cli` plus the shell's commands.

    rater worker                                                 rate the usage topic (settings: streams/settings.py)
    rater bench kernel [--records N] [--batch B] [--clients C]   the Redis kernel vs a trivial script

Environment: ``REDIS_URL`` (use that server instead of starting an embedded valkey-server), and for the
worker the variables listed in streams/settings.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import orjson

from rater.cli import build_parser
from streams.bench import kernel_bench
from streams.worker import main as worker_main


def cmd_bench_kernel(args: argparse.Namespace) -> int:
    result = kernel_bench(args.records, args.batch, args.clients)
    line: dict[str, object] = {**result.to_dict()}
    line["command"] = f"rater bench kernel --records {args.records} --batch {args.batch} --clients {args.clients}"
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    return worker_main()


def parser() -> argparse.ArgumentParser:
    root = build_parser()
    commands = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    worker = commands.add_parser(
        "worker",
        help="rate the usage topic into the output topics (a Faust worker)",
        epilog="Environment: KAFKA_BOOTSTRAP, REDIS_URL (required); RATER_CONFIG, RATER_APP_ID, RATER_TOPIC_PREFIX, "
        "RATER_USAGE_PARTITIONS, RATER_OUTPUT_PARTITIONS, RATER_REPLICATION, RATER_BATCH_SIZE, RATER_BATCH_WITHIN, "
        "RATER_RESULT_TTL, RATER_SESSION_TIMEOUT, RATER_LOG_LEVEL (see streams/settings.py).",
    )
    worker.set_defaults(func=cmd_worker)
    bench = commands.add_parser(
        "bench",
        help="benchmarks; each prints one JSON line",
        epilog="Environment: REDIS_URL (else an embedded server).",
    )
    benches = bench.add_subparsers(dest="bench", required=True)
    kernel = benches.add_parser("kernel", help="the Redis draw-down kernel vs one HINCRBY script, same server and run")
    kernel.add_argument("--records", type=int, default=50_000)
    kernel.add_argument("--batch", type=int, default=100)
    kernel.add_argument("--clients", type=int, default=8)
    kernel.set_defaults(func=cmd_bench_kernel)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
