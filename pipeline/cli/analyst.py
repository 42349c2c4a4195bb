"""``python -m pipeline search | report | sql``: the analysts' commands.

All three read the **analyst copy** (``<db>.analyst.duckdb``, republished after every load), read
only, so they never wait for ingestion nor make it wait; with ``VIGIA_STORE=ducklake`` they attach
the lake read-only instead. Their sessions are locked (``session_lockdown``): no file outside
``exports/`` beside the analyst copy can be read or written, no other database attached, and the
lock cannot be undone from SQL.

    python -m pipeline search "extorsión transportistas" [--limit 20] [--db data/vigia.duckdb]
    python -m pipeline report [--out data/report] [--days 30]
    python -m pipeline sql [-c "select * from spikes"]      # `make sql`

Two commands write, to the pipeline's own database, under the writer lock (waiting for a running
cycle, never interrupting it), then republish the analyst copy:

    python -m pipeline label URL_OR_ID relevant|not_relevant|ambiguous --by ana [--note "..."]
    python -m pipeline sql --write -c "insert into labels ..."
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import duckdb

from pipeline import sql, store
from pipeline.cli import options, settings_from_args
from pipeline.errors import ConfigError, StoreError
from pipeline.settings import LIMA, Settings
from pipeline.store.failures import NO_DATA_HINT, REPUBLISH

log = logging.getLogger(__name__)

LABELS = ("relevant", "not_relevant", "ambiguous")  # the check constraint of labels.label
DB_HELP = (
    "the pipeline's DuckDB file (default data/vigia.duckdb, or $VIGIA_DB; `demo` for the demo's);"
    " its analyst copy is read"
)


def register(subparsers: Any) -> None:
    search = subparsers.add_parser(
        "search",
        help="full-text search of titles and texts, best matches first",
        description="Query: words (all required; their Spanish/English forms match: extorsionadores"
        ' finds extorsión), "a phrase", prefix*, OR, NOT word or -word, parentheses. Accents and case'
        " are ignored.",
    )
    search.add_argument("query", help="e.g. '\"tren de aragua\" OR (extors* -fútbol)'")
    options.add_db(search, DB_HELP)
    search.add_argument("--limit", type=int, default=20, help="how many articles to show (default 20)")
    search.add_argument("--since", type=_day, help="first Peru day, YYYY-MM-DD (event time)")
    search.add_argument("--until", type=_day, help="last Peru day, YYYY-MM-DD, included")
    search.add_argument(
        "--relevant",
        action=argparse.BooleanOptionalAction,
        help="only what the current model finds relevant (--no-relevant: only the rest)",
    )
    search.add_argument("--topic", help="a topic id, e.g. extortion")
    search.add_argument("--department", help='a department, by name ("La Libertad") or ubigeo (13)')
    search.add_argument("--outlet", help="an outlet (site, e.g. rpp.pe) or a feed name")
    search.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="output (default table)"
    )
    search.set_defaults(func=cmd_search)

    report = subparsers.add_parser(
        "report",
        help="one self-contained HTML report of a period's stories (charts, map, top stories)",
    )
    options.add_db(report, DB_HELP)
    report.add_argument("--out", type=Path, help="directory for report.html (default data/report)")
    report.add_argument("--from", dest="start", type=_day, help="first Peru day, YYYY-MM-DD")
    report.add_argument("--to", dest="end", type=_day, help="last Peru day, YYYY-MM-DD (default today)")
    report.add_argument(
        "--days", type=int, default=30, help="the period's length when --from is not given (default 30)"
    )
    report.set_defaults(func=cmd_report)

    sql = subparsers.add_parser("sql", help="a read-only SQL shell on the analyst copy of the database")
    options.add_db(sql, DB_HELP)
    sql.add_argument("-c", "--command", help="run these statements, print their results and exit")
    sql.add_argument(
        "--write",
        action="store_true",
        help="run -c on the pipeline's own database under the writer lock (e.g. to insert labels), "
        "in one transaction, then republish the analyst copy",
    )
    sql.set_defaults(func=cmd_sql)

    label = subparsers.add_parser(
        "label", help="record an analyst's label for an article (retrain learns from it)"
    )
    label.add_argument("article", help="the article's URL (canonicalised) or its article_id")
    label.add_argument("label", choices=LABELS)
    label.add_argument("--by", dest="who", help="who labels (default: $USER)")
    label.add_argument("--note", help="why, in a few words")
    options.add_db(label)
    label.set_defaults(func=cmd_label)


def exports_dir(settings: Settings) -> Path:
    """The one directory an analyst session may read and write files in (``copy ... to``):
    ``exports/`` beside the analyst copy (``data/exports``); the demo's database exports there too,
    so the manual's examples work the same after ``make demo``."""
    if settings.db_path.name == "demo.duckdb" and settings.db_path.parent.name == "demo":
        return settings.db_path.parent.parent / "exports"
    return settings.analyst_db.parent / "exports"


def session_lockdown(settings: Settings) -> list[str]:
    """The statements that lock an analyst session, in order; shared by every analyst shell.

    Files: only under ``exports/`` (so not the database, nor its lock, nor /etc/passwd); no
    extension loaded or installed; ATTACH of any other file refused (the main database's lock
    would make the next load wait); then the configuration is locked, so none of this can be
    ``SET`` back. (DuckDB takes ``allowed_directories`` only before external access is disabled.)
    """
    allowed = [str(exports_dir(settings).absolute()) + os.sep, *store.backend(settings).analyst_directories()]
    listed = ", ".join(sql.literal(p) for p in allowed)
    return [
        f"set allowed_directories = [{listed}]",
        "set autoinstall_known_extensions = false",
        "set enable_external_access = false",
        "set lock_configuration = true",
    ]


def cli_arguments(settings: Settings) -> list[str]:
    """The official DuckDB shell's arguments for the same lock: read-only, the same allowed
    directory, then ``.safe_mode``, which disables external access and locks the configuration
    (the last two statements above) and also the dot commands that reach files or the system
    (``.open``, ``.shell``, ``.output``, ``.read``, ...)."""
    return [
        "-readonly",
        "-cmd",
        session_lockdown(settings)[0],
        "-cmd",
        ".safe_mode",
        str(settings.analyst_db),
    ]


def lock_session(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    for statement in session_lockdown(settings):
        con.execute(statement)


@contextlib.contextmanager
def analyst_connection(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only, locked connection to what analysts read: the analyst copy, or the lake."""
    con = store.backend(settings).analyst_connection()
    try:
        with contextlib.suppress(OSError):  # a read-only share: exports are refused, reads work
            exports_dir(settings).mkdir(parents=True, exist_ok=True)
        lock_session(con, settings)
        yield con
    except Exception as exc:
        if store.is_storage_error(exc):
            raise store.storage_error(exc, settings.analyst_db, "error reading", REPUBLISH) from exc
        raise
    finally:
        with contextlib.suppress(duckdb.Error):
            con.close()


def demo_db(settings: Settings) -> Path:
    """Where ``python -m pipeline demo`` puts its database by default: ``<data dir>/demo/demo.duckdb``."""
    return settings.db_path.parent / "demo" / "demo.duckdb"


def analyst_settings(args: argparse.Namespace) -> Settings:
    """The settings of a reading command. ``--db demo`` names the demo's database; with no
    ``--db`` and nothing collected yet, the demo's is read when there is one (saying so), so
    every command works right after ``make demo``."""
    if getattr(args, "db", None) == Path("demo"):
        args.db = None
        settings = settings_from_args(args)
        return dataclasses.replace(settings, db_path=demo_db(settings), analyst_db_path=None)
    settings = settings_from_args(args)
    analyst_file = store.backend(settings).analyst_file
    if analyst_file is None or getattr(args, "db", None) is not None or analyst_file.exists():
        return settings
    demo = dataclasses.replace(settings, db_path=demo_db(settings), analyst_db_path=None)
    if demo.analyst_db.exists():
        print(
            f"nothing collected yet at {settings.db_path}: reading the demo database {demo.db_path}",
            file=sys.stderr,
        )
        return demo
    return settings


# ---------------------------------------------------------------- search


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day as YYYY-MM-DD") from exc


SEARCH_COLUMNS = ("rank", "score", "day", "outlet", "title", "url", "relevant", "topics", "departments")


def cmd_search(args: argparse.Namespace) -> int:
    from pipeline.publish.search import search

    if args.limit < 1:
        raise ConfigError("--limit must be at least 1")
    with analyst_connection(analyst_settings(args)) as con:
        hits = search(
            con,
            args.query,
            args.limit,
            since=args.since,
            until=args.until,
            relevant=args.relevant,
            topic=args.topic,
            department=args.department,
            outlet=args.outlet,
        )
    if args.format == "json":
        json.dump(
            [
                {k: _plain(hit[k]) for k in (*SEARCH_COLUMNS, "article_id", "story_id", "event_at")}
                for hit in hits
            ],
            sys.stdout,
            ensure_ascii=False,
            indent=1,
        )
        print()
        return 0
    if args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(SEARCH_COLUMNS)
        for hit in hits:
            writer.writerow(
                ["|".join(v) if isinstance(v, list) else v for v in (_plain(hit[k]) for k in SEARCH_COLUMNS)]
            )
        return 0
    if not hits:
        print(f"no article matches {args.query!r}")
        return 0
    print(f"{'':>3}  {'score':>6}  {'Lima time':16}  outlet: title")
    for hit in hits:
        when = hit["event_at"].astimezone(LIMA).strftime("%Y-%m-%d %H:%M") if hit["event_at"] else "?"
        mark = "" if hit["relevant"] else "  (not relevant)"
        print(f"{hit['rank']:>3}. {hit['score']:6.2f}  {when}  {hit['outlet']}: {hit['title']}{mark}")
        print(f"     {hit['url'] or hit['article_id']}")
    return 0


def _plain(value: Any) -> Any:
    """A value as JSON and CSV hold it: days and times as ISO text, null lists as empty ones."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# ---------------------------------------------------------------- report


MAX_REPORT_DAYS = 366  # a year of daily bars is already 366 bars wide


def cmd_report(args: argparse.Namespace) -> int:
    from pipeline.publish.report import write_report

    if args.days < 1:
        raise ConfigError(f"--days must be at least 1, not {args.days}")
    days = args.days
    if days > MAX_REPORT_DAYS:
        print(
            f"--days {days} is more than a daily chart can show: charting the last {MAX_REPORT_DAYS} days",
            file=sys.stderr,
        )
        days = MAX_REPORT_DAYS
    if args.start and args.end and args.start > args.end:
        raise ConfigError(f"--from {args.start} is after --to {args.end}")
    settings = analyst_settings(args)
    out = args.out or settings.db_path.parent / "report"
    with analyst_connection(settings) as con:
        page = write_report(con, out, args.start, args.end, days, settings.language)
    print(f"wrote {page}")
    return 0


# ---------------------------------------------------------------- sql


def cmd_sql(args: argparse.Namespace) -> int:
    if args.write:
        settings = settings_from_args(args)
        if args.command is None:
            raise ConfigError("--write needs the statements in -c (an interactive shell never writes)")
        return write_statements(settings, args.command, sys.stdout)
    settings = analyst_settings(args)
    if args.command is not None:
        with analyst_connection(settings) as con:
            return run_statements(con, args.command, sys.stdout)
    cli = duckdb_cli()
    if cli is not None and store.backend(settings).analyst_file is not None:
        return official_shell(cli, settings)
    with analyst_connection(settings) as con:
        return repl(con)


def official_shell(cli: str, settings: Settings) -> int:
    """Run the DuckDB shell on the analyst copy, read-only and locked (``cli_arguments``)."""
    if not settings.analyst_db.exists():
        raise StoreError(f"no analyst copy at {settings.analyst_db}: {NO_DATA_HINT}")
    exports = exports_dir(settings)
    with contextlib.suppress(OSError):
        exports.mkdir(parents=True, exist_ok=True)
    print(
        f"{settings.analyst_db}: read-only, a snapshot of the last load (leave with .quit and run"
        f" `make sql` again to see newer loads). Exports go to {exports}/.",
        file=sys.stderr,
    )
    return subprocess.call([cli, *cli_arguments(settings)])


# Statements a ``sql --write`` script may not hold: it runs as one transaction, committed only if
# every statement succeeds, so a COMMIT inside it would make it half-applied.
REFUSED_IN_WRITE = {
    duckdb.StatementType.TRANSACTION: "begins, commits or rolls back a transaction itself",
    duckdb.StatementType.ATTACH: "attaches another database",
    duckdb.StatementType.DETACH: "detaches a database",
}


def write_statements(settings: Settings, text: str, out: TextIO) -> int:
    """Run ``text`` on the pipeline's database in one transaction, under the writer lock: all or nothing.

    A script that manages transactions itself (or attaches databases) is refused before anything
    runs (ConfigError); one that fails to parse is rolled back before anything runs.
    """
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        print(f"error: {exc}\nrolled back: nothing written", file=out)
        return 1
    for number, statement in enumerate(statements, 1):
        why = REFUSED_IN_WRITE.get(statement.type)
        if why is not None:
            words = " ".join(statement.query.split())[:40]
            raise ConfigError(
                f"sql --write: statement {number} ({words!r}) {why}; nothing was run. The whole script "
                "already runs in one transaction, committed only if every statement succeeds"
            )
    with store.writing(settings) as con:
        con.execute("begin")
        rc = run_statements(con, text, out)
        con.execute("rollback" if rc else "commit")
    print("rolled back: nothing written" if rc else "committed; the analyst copy is republished", file=out)
    return rc


def cmd_label(args: argparse.Namespace) -> int:
    import getpass

    from pipeline.urls import canonical_url

    settings = settings_from_args(args)
    who = args.who or getpass.getuser()
    wanted = canonical_url(args.article) or args.article
    with store.writing(settings) as con:
        row = sql.execute(con, "publish/label_article", {"article": args.article, "url": wanted}).fetchone()
        if row is None:
            raise ConfigError(f"no stored article has the id or URL {args.article!r}")
        sql.execute(
            con,
            "publish/label",
            {"article_id": row[0], "label": args.label, "labelled_by": who, "note": args.note},
        )
    print(
        f"labelled {row[0]} ({row[1]!r}) {args.label} by {who}; `python -m pipeline retrain` learns from it"
    )
    return 0


def duckdb_cli() -> str | None:
    """The official DuckDB shell of the library's version: the binary the locked ``duckdb-cli``
    package ships (run directly: its ``duckdb`` launcher adds a setting that a locked
    configuration refuses), else a ``duckdb`` on the PATH. An older shell cannot read newer
    files, so any other version is ignored."""
    candidates = []
    spec = importlib.util.find_spec("duckdb_cli")
    if spec is not None and spec.origin is not None:
        candidates.append(str(Path(spec.origin).parent / "duckdb"))
    on_path = shutil.which("duckdb")
    if on_path is not None:
        candidates.append(on_path)
    for path in candidates:
        if not os.access(path, os.X_OK):
            continue
        try:
            version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        if f"v{duckdb.__version__}" in version:
            return path
        log.info("ignoring %s: %s is not DuckDB v%s", path, version.strip(), duckdb.__version__)
    return None


def run_statements(con: duckdb.DuckDBPyConnection, text: str, out: TextIO) -> int:
    """Run each statement of ``text``, printing each result as a table. Returns 1 on an error."""
    try:
        for statement in duckdb.extract_statements(text):
            relation = con.sql(statement.query)
            if relation is not None:  # a query, not a SET or PRAGMA
                print(relation, file=out)
    except duckdb.Error as exc:
        print(f"error: {exc}", file=out)
        return 1
    return 0


PROMPT, MORE = "vigia> ", "  ...> "


def repl(con: duckdb.DuckDBPyConnection, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    """A small SQL shell: statements end with ';'; '.tables' lists tables and views; '.quit' leaves."""
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    interactive = stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
        print(
            "Vigía SQL (read-only). End statements with ';'. .tables lists tables and views, .quit leaves.",
            file=out,
        )
    buffer: list[str] = []
    while True:
        if interactive:
            try:
                line = input(MORE if buffer else PROMPT)
            except EOFError:
                print(file=out)
                break
        else:
            line = stdin.readline()
            if not line:
                break
        stripped = line.strip()
        if not buffer and stripped in (".quit", ".exit", r"\q"):
            break
        if not buffer and stripped == ".tables":
            run_statements(con, sql.query("publish/tables"), out)
            continue
        buffer.append(line)
        if stripped.endswith(";"):
            run_statements(con, "\n".join(buffer), out)
            buffer = []
    if buffer and "".join(buffer).strip():
        run_statements(con, "\n".join(buffer), out)
    return 0
