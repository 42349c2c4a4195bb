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
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import duckdb

from pipeline.cli import settings_from_args
from pipeline.errors import ConfigError, StoreError
from pipeline.settings import LIMA, Settings

log = logging.getLogger(__name__)

LABELS = ("relevant", "not_relevant", "ambiguous")  # the check constraint of labels.label
DB_HELP = "the pipeline's DuckDB file (default data/vigia.duckdb, or $VIGIA_DB); its analyst copy is read"


def register(subparsers: Any) -> None:
    search = subparsers.add_parser("search", help="full-text search of titles and texts, best matches first")
    search.add_argument(
        "query", help='words to look for, e.g. "extorsión transportistas" (accents and case ignored)'
    )
    search.add_argument("--db", type=Path, help=DB_HELP)
    search.add_argument("--limit", type=int, default=20, help="how many articles to show (default 20)")
    search.set_defaults(func=cmd_search)

    report = subparsers.add_parser(
        "report", help="chart of the last 30 days of stories by topic and department"
    )
    report.add_argument("--db", type=Path, help=DB_HELP)
    report.add_argument(
        "--out", type=Path, help="directory for report.png and report.html (default data/report)"
    )
    report.add_argument("--days", type=int, default=30, help="days to chart, ending today (default 30)")
    report.set_defaults(func=cmd_report)

    sql = subparsers.add_parser("sql", help="a read-only SQL shell on the analyst copy of the database")
    sql.add_argument("--db", type=Path, help=DB_HELP)
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
    label.add_argument("--db", type=Path, help="DuckDB file (default data/vigia.duckdb, or $VIGIA_DB)")
    label.set_defaults(func=cmd_label)


REPUBLISH = "the next cycle (or python -m pipeline init) publishes a new analyst copy"


def exports_dir(settings: Settings) -> Path:
    """The one directory an analyst session may read and write files in (``copy ... to``)."""
    return settings.analyst_db.parent / "exports"


def session_lockdown(settings: Settings) -> list[str]:
    """The statements that lock an analyst session, in order; shared by every analyst shell.

    Files: only under ``exports/`` (so not the database, nor its lock, nor /etc/passwd); no
    extension loaded or installed; ATTACH of any other file refused (the main database's lock
    would make the next load wait); then the configuration is locked, so none of this can be
    ``SET`` back. (DuckDB takes ``allowed_directories`` only before external access is disabled.)
    """
    allowed = [str(exports_dir(settings).absolute()) + os.sep]
    if settings.store == "ducklake" and settings.lake_data_path:
        allowed.append(settings.lake_data_path.rstrip("/") + "/")  # the lake's Parquet files
    listed = ", ".join(_quote(p) for p in allowed)
    return [
        f"set allowed_directories = [{listed}]",
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


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def lock_session(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    for statement in session_lockdown(settings):
        con.execute(statement)


@contextlib.contextmanager
def analyst_connection(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only, locked connection to what analysts read: the analyst copy, or the lake."""
    from pipeline import publication, store

    if settings.store == "ducklake":
        from pipeline import lake

        con = lake.connect(settings, read_only=True)
    else:
        store.check_paths(settings)  # the same configuration errors as for a cycle
        path = settings.analyst_db
        if not path.exists():
            raise StoreError(
                f"no analyst copy at {path}: run a cycle (python -m pipeline run) or python -m pipeline init"
            )
        if not publication.is_duckdb_file(path):  # as a cycle, which refuses to overwrite it
            raise ConfigError(
                f"VIGIA_ANALYST_DB: {path} is not a DuckDB database (if it was the analyst copy, it is "
                "damaged beyond its header: move it aside and run python -m pipeline init)"
            )
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise store.storage_error(exc, path, "cannot open the analyst copy", REPUBLISH) from exc
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


# ---------------------------------------------------------------- search


def cmd_search(args: argparse.Namespace) -> int:
    from pipeline.search import search

    if args.limit < 1:
        raise ConfigError("--limit must be at least 1")
    with analyst_connection(settings_from_args(args)) as con:
        hits = search(con, args.query, args.limit)
    if not hits:
        print(f"no article matches {args.query!r}")
        return 0
    print(f"{'':>3}  {'score':>6}  {'Lima time':16}  outlet: title")
    for hit in hits:
        when = hit["event_at"].astimezone(LIMA).strftime("%Y-%m-%d %H:%M") if hit["event_at"] else "?"
        print(f"{hit['rank']:>3}. {hit['score']:6.2f}  {when}  {hit['feed']}: {hit['title']}")
        print(f"     {hit['url'] or hit['article_id']}")
    return 0


# ---------------------------------------------------------------- report


MAX_REPORT_DAYS = 366  # a year of daily bars is already 366 bars wide


def cmd_report(args: argparse.Namespace) -> int:
    if args.days < 1:
        raise ConfigError(f"--days must be at least 1, not {args.days}")
    days = args.days
    if days > MAX_REPORT_DAYS:
        print(
            f"--days {days} is more than a daily chart can show: charting the last {MAX_REPORT_DAYS} days",
            file=sys.stderr,
        )
        days = MAX_REPORT_DAYS
    from pipeline.report import write_report  # matplotlib: seconds to import

    settings = settings_from_args(args)
    out = args.out or settings.db_path.parent / "report"
    with analyst_connection(settings) as con:
        png, page = write_report(con, out, days=days)
    print(f"wrote {png} and {page}")
    return 0


# ---------------------------------------------------------------- sql


def cmd_sql(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.write:
        if args.command is None:
            raise ConfigError("--write needs the statements in -c (an interactive shell never writes)")
        return write_statements(settings, args.command, sys.stdout)
    if args.command is not None:
        with analyst_connection(settings) as con:
            return run_statements(con, args.command, sys.stdout)
    cli = duckdb_cli()
    if cli is not None and settings.store == "duckdb":
        if not settings.analyst_db.exists():
            raise StoreError(
                f"no analyst copy at {settings.analyst_db}: run a cycle or python -m pipeline init"
            )
        with contextlib.suppress(OSError):
            exports_dir(settings).mkdir(parents=True, exist_ok=True)
        print(
            f"{settings.analyst_db} (read-only; files only under {exports_dir(settings)}; "
            "quit and start again to see newer loads)",
            file=sys.stderr,
        )
        return subprocess.call([cli, *cli_arguments(settings)])
    with analyst_connection(settings) as con:
        return repl(con)


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
    from pipeline import store

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

    from pipeline import store
    from pipeline.urls import canonical_url

    settings = settings_from_args(args)
    who = args.who or getpass.getuser()
    wanted = canonical_url(args.article) or args.article
    with store.writing(settings) as con:
        row = con.execute(
            "select article_id, title from articles where article_id = ? or url = ? limit 1",
            [args.article, wanted],
        ).fetchone()
        if row is None:
            raise ConfigError(f"no stored article has the id or URL {args.article!r}")
        con.execute(
            "insert into labels (article_id, label, labelled_by, note) values (?, ?, ?, ?)",
            [row[0], args.label, who, args.note],
        )
    print(
        f"labelled {row[0]} ({row[1]!r}) {args.label} by {who}; `python -m pipeline retrain` learns from it"
    )
    return 0


def duckdb_cli() -> str | None:
    """The official DuckDB shell, if installed and of the same version as the library (a newer
    shell would upgrade nothing read-only, but an older one cannot read newer files)."""
    path = shutil.which("duckdb")
    if path is None:
        return None
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    if f"v{duckdb.__version__}" not in version:
        log.info("ignoring %s: %s is not DuckDB v%s", path, version.strip(), duckdb.__version__)
        return None
    return path


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
            run_statements(
                con,
                "select table_name, table_type from information_schema.tables"
                " where table_schema = 'main' order by table_type, table_name;",
                out,
            )
            continue
        buffer.append(line)
        if stripped.endswith(";"):
            run_statements(con, "\n".join(buffer), out)
            buffer = []
    if buffer and "".join(buffer).strip():
        run_statements(con, "\n".join(buffer), out)
    return 0
