"""``python -m pipeline <command>``: the same functions the DAGs call.

Exit codes (docs/operations.md, "Exit codes"): 0 success (also when some feeds failed: they are recorded),
2 configuration or usage error, 3 database unusable (busy, damaged, disk full or read-only),
4 our worker pool failed or every feed failed for one reason of ours, 1 anything unexpected (a bug:
with its traceback). Every 2, 3 and 4 is one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.cli import options
from pipeline.errors import ConfigError, CycleFailed, StoreError, WorkerError
from pipeline.settings import LOG_FORMAT, Settings

log = logging.getLogger("pipeline")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings of every command: the environment, overridden by ``--feeds``, ``--db`` and
    ``--allow-mass-disable``."""
    return Settings.from_env(
        feeds_path=getattr(args, "feeds", None),
        db_path=getattr(args, "db", None),
        allow_mass_disable=getattr(args, "allow_mass_disable", None) or None,
    )


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.tasks import run_once

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


def cmd_restore(args: argparse.Namespace) -> int:
    """Put the newest good snapshot (or ``--from``) back in place of a damaged database."""
    from pipeline import store
    from pipeline.store import publication

    settings = settings_from_args(args)
    backend = store.backend(settings)
    sources = backend.restore_sources()  # ConfigError on a lake: it keeps its own history
    if args.list:
        if not sources:
            print(f"no snapshot in {publication.snapshot_dir(settings)} and no analyst copy")
        for path in sources:
            print(path)
        return 0
    source = args.source
    if source is not None and not source.exists():
        raise ConfigError(f"--from {source}: no such file (python -m pipeline restore --list shows them)")
    restored = backend.restore(source)
    as_of = f" (published {restored.as_of:%Y-%m-%d %H:%M:%S} UTC)" if restored.as_of else ""
    kept = f"; the file it replaced is kept as {restored.damaged}" if restored.damaged else ""
    print(
        f"restored {settings.db_path} from {restored.source}{as_of}{kept}; "
        "the next cycle fetches what the feeds published since"
    )
    return 0


DEMO_NEXT = """
What to try next (the demo's database, read-only):
  make sql DB=demo            the DuckDB shell: select * from stories; .tables; .mode csv; .quit
  make report DB=demo         the HTML report, written to {report}
  .venv/bin/python -m pipeline search '"estado de emergencia" OR extors*' --db demo
  .venv/bin/python -m pipeline sql --db demo -c "select * from period_changes where dimension = 'topic'"
Until a real cycle runs (make once, make run), `make sql` and `make report` read this demo too.
"""


def cmd_demo(args: argparse.Namespace) -> int:
    """Serve the sample sites on 127.0.0.1, run one cycle into a demo database, show a trend query."""
    import ipaddress

    import duckdb

    from pipeline import sql
    from pipeline.demo import SampleWeb, sample_feeds_toml
    from pipeline.store.connect import connect
    from pipeline.tasks import run_once

    directory = args.dir or Settings.from_env().db_path.parent / "demo"
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "demo.duckdb"
    for old in [*directory.glob("demo.*"), *directory.glob("snapshots/demo.*")]:
        old.unlink()  # a fresh demo every time
    with SampleWeb() as web:
        feeds = directory / "feeds.toml"
        feeds.write_text(sample_feeds_toml(web.base), encoding="utf-8")
        print(f"serving {len(web.pages)} sample pages and feeds at {web.base}")
        settings = Settings.from_env(
            feeds_path=feeds, db_path=db, allow_networks=(ipaddress.ip_network("127.0.0.1/32"),)
        )
        print(run_once(settings).line())
    con = connect(settings.analyst_db, read_only=True, threads=settings.db_threads)
    try:
        query = sql.query("publish/demo_trends")
        shown = "\n".join(line for line in query.splitlines() if not line.startswith("--")).strip()
        print(f"\n{shown}\n")
        con.sql(query).show(max_width=120)
    except duckdb.CatalogException:
        con.sql(sql.query("publish/demo_articles")).show()
    finally:
        con.close()
    print(f"demo database: {db} (analyst copy {settings.analyst_db})")
    print(DEMO_NEXT.format(report=db.parent / "report" / "report.html"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline", description="Vigía: Peruvian security news monitor"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one ingestion cycle: fetch feeds, extract, classify, load")
    options.add_feeds(run)
    options.add_db(run)
    run.add_argument(
        "--allow-mass-disable",
        action="store_true",
        help="accept a feeds.toml that disables more than half of the enabled feeds at once",
    )
    run.set_defaults(func=cmd_run)

    init = sub.add_parser("init", help="create or migrate the database and publish its analyst copy")
    options.add_db(init)
    init.set_defaults(func=cmd_init)

    restore = sub.add_parser(
        "restore", help="replace a damaged database by its newest good snapshot (the damaged file is kept)"
    )
    options.add_db(restore)
    restore.add_argument(
        "--from", dest="source", type=Path, help="the snapshot to restore (default: the newest)"
    )
    restore.add_argument("--list", action="store_true", help="list the snapshots, newest first, and exit")
    restore.set_defaults(func=cmd_restore)

    demo = sub.add_parser("demo", help="offline demo: sample sites on 127.0.0.1, one cycle, a trend query")
    demo.add_argument(
        "--dir",
        type=Path,
        help="where the demo database goes (default: demo/ beside the database, data/demo)",
    )
    demo.set_defaults(func=cmd_demo)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


# Modules that add their own subcommands through ``register(subparsers)``.
COMMAND_MODULES = (
    "pipeline.cli.classify",
    "pipeline.cli.analyst",
    "pipeline.cli.alerts",
    "pipeline.cli.cycle",
)


def _terminated(signum: int, frame: object) -> None:
    # SIGTERM (Airflow's timeout, docker stop, kill) unwinds like Ctrl-C: every ``finally`` runs,
    # so temporary copies and model files are removed and the lock files released.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format=LOG_FORMAT)
    if argv is None:  # the real command line, not a test calling main()
        signal.signal(signal.SIGTERM, _terminated)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {one_line(exc)}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"database error: {one_line(exc)}", file=sys.stderr)
        return 3
    except (WorkerError, CycleFailed) as exc:
        print(f"cycle failed: {one_line(exc)}", file=sys.stderr)
        return 4
    except Exception as exc:
        # A full or read-only disk, or a damaged file, met outside the store's own handling.
        from pipeline import store

        if not store.is_storage_error(exc):
            raise
        error = store.storage_error(exc, None, "")
        kind = "configuration error" if isinstance(error, ConfigError) else "database error"
        print(f"{kind}: {one_line(error)}", file=sys.stderr)
        return 2 if isinstance(error, ConfigError) else 3


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
