"""Commands that run a stage on their own: ``collect`` (one planned batch, what an Airflow collect
task starts, see pipeline.collect.process), ``backfill``, and ``bench`` (the benchmark).

    python -m pipeline -v collect --jobs FILE --run-id RUN --index N
    python -m pipeline backfill --from 2025-10-01 [--to 2025-11-01] [--feed NAME] [--db PATH]
    python -m pipeline bench [--quick]          # the same as `make bench`, from a repository checkout

Dates without a time are midnight in Lima (UTC-5), the newsroom's day.
"""

from __future__ import annotations

import argparse
import logging
from datetime import datetime
from pathlib import Path

from pipeline.cli import options
from pipeline.settings import LIMA

log = logging.getLogger("pipeline.collect.process")


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


def _register_collect(sub: argparse._SubParsersAction) -> None:
    collect = sub.add_parser(
        "collect",
        help="collect one planned batch of feeds and stage it (what an Airflow collect task runs)",
    )
    collect.add_argument("--jobs", type=Path, required=True, help="the batch's jobs file, written by plan")
    collect.add_argument("--run-id", required=True, help="the run the batch belongs to")
    collect.add_argument("--index", type=int, default=0, help="the batch's number in the run")
    collect.set_defaults(func=cmd_collect)


def cmd_collect(args: argparse.Namespace) -> int:
    from pipeline import tasks
    from pipeline.cli import settings_from_args
    from pipeline.collect import process
    from pipeline.errors import FAILED_FEED_OUTCOMES

    process.stop_with_parent()
    # The task's log gets the pipeline's lines, not one line per HTTP request.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    path, batch = tasks.collect_to_file(
        settings_from_args(args), str(args.jobs), args.run_id, args.index, with_batch=True
    )
    failed = sum(1 for f in batch.fetches if f.outcome in FAILED_FEED_OUTCOMES)
    log.info(
        "batch %d: %d feeds (%d failed), %d articles collected, staged in %s",
        args.index,
        len(batch.fetches),
        failed,
        len(batch.articles),
        path,
    )
    print(path, flush=True)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_collect(subparsers)
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
    options.add_db(backfill)
    options.add_feeds(backfill)
    backfill.set_defaults(func=cmd_backfill)

    bench = subparsers.add_parser(
        "bench", help="run the benchmark (README, Performance): the same as `make bench`"
    )
    bench.add_argument("--quick", action="store_true", help="40 of the 200 feeds")
    bench.set_defaults(func=cmd_bench)
