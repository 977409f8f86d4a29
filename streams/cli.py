"""The ``rater`` console script: the pure commands of :mod:`rater.cli` plus the shell's commands.

    rater bench kernel [--records N] [--batch B] [--clients C]   the Redis kernel vs a trivial script

Environment: ``REDIS_URL`` (use that server instead of starting an embedded valkey-server).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import orjson

from rater.cli import build_parser
from streams.bench import kernel_bench


def cmd_bench_kernel(args: argparse.Namespace) -> int:
    result = kernel_bench(args.records, args.batch, args.clients)
    line: dict[str, object] = {**result.to_dict()}
    line["command"] = f"rater bench kernel --records {args.records} --batch {args.batch} --clients {args.clients}"
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    return 0


def parser() -> argparse.ArgumentParser:
    root = build_parser()
    commands = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
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
