"""``python -m pipeline <command>``: the same functions the DAGs call.

Exit codes: 0 success (also when some feeds failed: they are recorded), 2 configuration error,
3 database unusable or busy, 4 our worker pool failed or every feed failed for one reason of ours,
1 anything unexpected.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import ConfigError, CycleFailed, StoreError, WorkerError
from pipeline.settings import Settings

log = logging.getLogger("pipeline")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings of every command: the environment, overridden by ``--feeds`` and ``--db``."""
    return Settings.from_env(feeds_path=getattr(args, "feeds", None), db_path=getattr(args, "db", None))


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.ingest import run_once

    summary = run_once(settings_from_args(args))
    print(summary.line())
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Create or migrate the database and publish its analyst copy, so `make sql` works at once."""
    from pipeline import store

    settings = settings_from_args(args)
    with store.writing(settings):
        pass  # opening migrates; leaving checkpoints and publishes
    print(f"database ready: {settings.db_path} (analyst copy: {settings.analyst_db})")
    return 0


DEMO_QUERY = """
select day, topic, stories, articles
from daily_topic_counts
order by day desc, stories desc, topic
limit 12
"""


def cmd_demo(args: argparse.Namespace) -> int:
    """Serve the sample sites on 127.0.0.1, run one cycle into a demo database, show a trend query."""
    import ipaddress

    import duckdb

    from pipeline.ingest import run_once
    from pipeline.localweb import LocalWeb, sample_feeds_toml, sample_site

    directory = args.dir
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "demo.duckdb"
    for old in directory.glob("demo.*"):
        old.unlink()  # a fresh demo every time
    with LocalWeb() as web:
        web.routes.update(sample_site(web.base))
        feeds = directory / "feeds.toml"
        feeds.write_text(sample_feeds_toml(web.base), encoding="utf-8")
        print(f"serving {len(web.routes)} sample pages and feeds at {web.base}")
        settings = Settings.from_env(
            feeds_path=feeds, db_path=db, allow_networks=(ipaddress.ip_network("127.0.0.1/32"),)
        )
        print(run_once(settings).line())
    con = duckdb.connect(str(settings.analyst_db), read_only=True)
    try:
        print(f"\n{DEMO_QUERY.strip()}\n")
        con.sql(DEMO_QUERY).show(max_width=120)
    except duckdb.CatalogException:
        con.sql("select feed, count(*) as articles from articles group by feed order by feed").show()
    finally:
        con.close()
    print(f"demo database: {db} (analyst copy {settings.analyst_db})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline", description="Vigía: Peruvian security news monitor"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one ingestion cycle: fetch feeds, extract, classify, load")
    run.add_argument("--feeds", type=Path, help="feed registry (default feeds.toml, or $VIGIA_FEEDS)")
    run.add_argument("--db", type=Path, help="DuckDB file (default data/vigia.duckdb, or $VIGIA_DB)")
    run.set_defaults(func=cmd_run)

    init = sub.add_parser("init", help="create or migrate the database and publish its analyst copy")
    init.add_argument("--db", type=Path, help="DuckDB file (default data/vigia.duckdb, or $VIGIA_DB)")
    init.set_defaults(func=cmd_init)

    demo = sub.add_parser("demo", help="offline demo: sample sites on 127.0.0.1, one cycle, a trend query")
    demo.add_argument("--dir", type=Path, default=Path("data/demo"), help="where the demo database goes")
    demo.set_defaults(func=cmd_demo)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


# Modules that add their own subcommands through ``register(subparsers)``.
COMMAND_MODULES = (
    "pipeline.classify.cli",
    "pipeline.analysis_cli",
    "pipeline.alerts_cli",
    "pipeline.bench_cli",
    "pipeline.collect_process",
)


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
    except (WorkerError, CycleFailed) as exc:
        print(f"cycle failed: {exc}", file=sys.stderr)
        return 4
