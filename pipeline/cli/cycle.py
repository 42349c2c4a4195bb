"""Commands about throughput: ``python -m pipeline backfill`` (and ``bench``, the benchmark).

    python -m pipeline backfill --from 2025-10-01 [--to 2025-11-01] [--feed NAME] [--db PATH]
    python -m pipeline bench [--quick]          # the same as `make bench`, from a repository checkout

Dates without a time are midnight in Lima (UTC-5), the newsroom's day.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from pipeline.settings import LIMA


def moment(value: str) -> datetime:
    """``2025-10-01`` (midnight in Lima) or an ISO date and time (Lima unless it says otherwise)."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD) or date and time") from exc
    return when if when.tzinfo else when.replace(tzinfo=LIMA)


def cmd_backfill(args: argparse.Namespace) -> int:
    from pipeline.backfill import CHUNK, backfill
    from pipeline.cli import settings_from_args

    if args.to is not None and args.to <= args.since:
        raise SystemExit("--to must come after --from")
    summary = backfill(settings_from_args(args), args.since, args.to, args.feed, args.chunk or CHUNK)
    print(summary.line())
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    try:
        from benchmarks.run import main
    except ImportError:
        print("the benchmark lives in the repository (benchmarks/): run it from a checkout, `make bench`")
        return 2
    return main(["--quick"] if args.quick else [])


def register(subparsers: argparse._SubParsersAction) -> None:
    backfill = subparsers.add_parser(
        "backfill", help="re-extract and reclassify stored articles (pages downloaded again) from a date on"
    )
    backfill.add_argument(
        "--from",
        dest="since",
        type=moment,
        required=True,
        help="first publication date (YYYY-MM-DD, Lima) to backfill",
    )
    backfill.add_argument("--to", type=moment, help="stop before this date (default: up to now)")
    backfill.add_argument("--feed", help="only the articles first seen in this feed")
    backfill.add_argument("--chunk", type=int, help="articles loaded per transaction (default 2,000)")
    backfill.add_argument("--db", type=Path, help="DuckDB file (default data/vigia.duckdb, or $VIGIA_DB)")
    backfill.add_argument("--feeds", type=Path, help="feed registry (default feeds.toml, or $VIGIA_FEEDS)")
    backfill.set_defaults(func=cmd_backfill)

    bench = subparsers.add_parser(
        "bench", help="run the benchmark (README, Performance): the same as `make bench`"
    )
    bench.add_argument("--quick", action="store_true", help="40 of the 200 feeds")
    bench.set_defaults(func=cmd_bench)
