"""The ``rater`` command line.

    rater catalog check DIR              validate a catalog, and DIR/subscriptions.yaml when there is one
                                         (the ok line says "catalog only" when there is none)
    rater catalog can-delete DIR KIND ID refuse (exit 1) if the entity is in use, else exit 0
    rater rate DIR [--summary] [-o FILE] rate DIR/usage.jsonl offline, one JSON line per outcome; DIR must
                                         hold its catalog, subscriptions.yaml and usage.jsonl

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
    with_subscriptions = folder.is_dir() and subscriptions_file(folder).exists()
    if catalog is not None and with_subscriptions:
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
        + ("" if with_subscriptions else "; catalog only: no subscriptions.yaml checked")
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
    usage = args.dir / "usage.jsonl"
    if not usage.is_file():
        print(f"error: {usage}: not found: rater rate reads DIR/usage.jsonl (see rater rate --help)", file=sys.stderr)
        return 1
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


RATE_HELP = """\
Rate the usage records of a folder offline, in file order, with the same core as the stream, and write one
JSON line per outcome (a rated-charge/1, rating-exception/1 ... event, docs/events.md).

The folder DIR holds:
  catalog.yaml or catalog/   the catalog (docs/catalog.md); without either, the folder's own *.yaml files
                             except subscriptions*.yaml
  subscriptions.yaml         the accounts (docs/subscriptions.md); required ('accounts: []' for none)
  usage.jsonl                one usage record per line (docs/events.md), plus optional control lines
                             {"control": "tick", "time": ...} and {"control": "cancel", ...}
  expected.yaml              optional, not read here: what the example tests expect (examples/README.md)

A line's content never stops the run: a malformed record or control line is a rating exception.
Exit codes: 0 rated (exceptions included), 1 the folder is not valid (every error on stderr), 2 usage error.
"""


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

    rate = commands.add_parser(
        "rate",
        help="rate DIR/usage.jsonl offline against DIR's catalog and subscriptions",
        description=RATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rate.add_argument("dir", type=Path, help="the rating folder (layout above)")
    rate.add_argument(
        "--summary",
        action="store_true",
        help="after the outcomes, write one more line: a JSON summary (records, rated, exceptions by type, "
        "duplicates, total and billed amounts, crossings, notifications, adjustments)",
    )
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
