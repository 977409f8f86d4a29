"""The ``rater`` command line.

    rater catalog check DIR              validate a catalog (and DIR/subscriptions.yaml when present)
    rater catalog can-delete DIR KIND ID refuse (exit 1) if the entity is in use, else exit 0
    rater rate DIR [--summary] [-o FILE] rate DIR/usage.jsonl offline, one JSON line per outcome

Exit codes: 0 success, 1 validation errors or refusal, 2 usage errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import orjson

from rater.catalog import check_catalog
from rater.catalog.integrity import KINDS, EntityInUse, check_delete
from rater.events import dumps
from rater.issues import Issue, ValidationFailed
from rater.offline import load_folder, rate_folder
from rater.record import DEFAULT_WINDOW_DAYS, TimeWindow
from rater.subscriptions import check_subscriptions, subscriptions_file


def _print_issues(issues: Sequence[Issue]) -> None:
    for issue in issues:
        print(issue, file=sys.stderr)


def cmd_catalog_check(args: argparse.Namespace) -> int:
    folder: Path = args.dir
    catalog, issues = check_catalog(folder)
    if catalog is not None and folder.is_dir() and subscriptions_file(folder).exists():
        _, more = check_subscriptions(folder, catalog)
        issues = [*issues, *more]
    _print_issues(issues)
    errors = sum(1 for issue in issues if issue.severity == "error")
    warnings = len(issues) - errors
    if errors:
        print(f"{folder}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
        return 1
    assert catalog is not None
    print(
        f"{folder}: ok ({len(catalog.usage_classes)} usage classes, {len(catalog.rate_plans)} rate plans, "
        f"{len(catalog.usage_buckets)} usage buckets, {len(catalog.share_plans)} share plans, "
        f"{len(catalog.services)} services, {len(catalog.packages)} packages; {warnings} warning(s))"
    )
    return 0


def cmd_catalog_can_delete(args: argparse.Namespace) -> int:
    try:
        catalog, subscriptions = load_folder(args.dir)
    except ValidationFailed as exc:
        _print_issues(exc.issues)
        return 1
    try:
        check_delete(catalog, subscriptions, args.kind, args.id)
    except EntityInUse as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    print(f"{args.kind} {args.id!r} is not in use and may be deleted")
    return 0


def cmd_rate(args: argparse.Namespace) -> int:
    try:
        window = TimeWindow.around(dt.datetime.now(dt.UTC), args.event_window_days)
        outcomes, summary = rate_folder(args.dir, window)
    except ValidationFailed as exc:
        _print_issues(exc.issues)
        return 1
    out: BinaryIO = args.output.open("wb") if args.output else sys.stdout.buffer
    try:
        for outcome in outcomes:
            out.write(dumps(outcome) + b"\n")
        if args.summary:
            out.write(orjson.dumps(summary.to_dict()) + b"\n")
    finally:
        if args.output:
            out.close()
        else:
            out.flush()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rater", description="Streaming real-time usage rater.")
    commands = parser.add_subparsers(dest="command", required=True)

    catalog = commands.add_parser("catalog", help="validate and inspect a catalog")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    check = catalog_commands.add_parser("check", help="validate a catalog; exit 1 listing every error")
    check.add_argument("dir", type=Path, help="catalog file or folder, or a folder holding catalog/ or catalog.yaml")
    check.set_defaults(func=cmd_catalog_check)
    can_delete = catalog_commands.add_parser(
        "can-delete", help="exit 1 if the entity is in use (referenced by the catalog or subscriptions)"
    )
    can_delete.add_argument("dir", type=Path, help="a folder with the catalog and subscriptions.yaml")
    can_delete.add_argument("kind", choices=KINDS)
    can_delete.add_argument("id")
    can_delete.set_defaults(func=cmd_catalog_can_delete)

    rate = commands.add_parser("rate", help="rate DIR/usage.jsonl offline against DIR's catalog and subscriptions")
    rate.add_argument("dir", type=Path)
    rate.add_argument("--summary", action="store_true", help="end with one JSON summary line")
    rate.add_argument(
        "--event-window-days",
        type=int,
        default=DEFAULT_WINDOW_DAYS,
        help=f"accept event times this many days either side of now (default {DEFAULT_WINDOW_DAYS}); "
        "a record outside is an invalid_record rating exception",
    )
    rate.add_argument("-o", "--output", type=Path, help="write to FILE instead of standard output")
    rate.set_defaults(func=cmd_rate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
