"""``python -m pipeline <command>``: the same functions the DAGs call.

Exit codes: 0 success (also when some feeds failed: they are recorded), 2 configuration error,
3 database unusable or busy, 1 anything unexpected.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import ConfigError, StoreError
from pipeline.settings import Settings

log = logging.getLogger("pipeline")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        feeds_path=getattr(args, "feeds", None), db_path=getattr(args, "db", None)
    )


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.ingest import run_once

    summary = run_once(_settings(args))
    print(summary.line())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description="Vigía: Peruvian security news monitor")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one ingestion cycle: fetch feeds, extract, classify, load")
    run.add_argument("--feeds", type=Path, help="feed registry (default feeds.toml, or $VIGIA_FEEDS)")
    run.add_argument("--db", type=Path, help="DuckDB file (default data/vigia.duckdb, or $VIGIA_DB)")
    run.set_defaults(func=cmd_run)

    for module in _COMMAND_MODULES:
        try:
            register = __import__(module, fromlist=["register"]).register
        except (ImportError, AttributeError):
            continue
        register(sub)
    return parser


# Packages that add their own subcommands through ``register(subparsers)``.
_COMMAND_MODULES = ("pipeline.classify.cli", "pipeline.analysis_cli", "pipeline.alerts_cli", "pipeline.bench_cli")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"database error: {exc}", file=sys.stderr)
        return 3
