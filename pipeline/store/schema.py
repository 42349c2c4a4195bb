"""The schema of the DuckDB file: migrations applied in order and recorded, then macros and views.

migrate(con)   applies ``sql/migrations/NNN_*.sql`` not applied yet (each in one transaction,
               recorded in ``schema_migrations``), then (re)creates the macros of ``sql/macros``
               and the views of ``sql/views`` whose files changed. The lake does the same its own
               way (store/lake.py), with the same checks of what changed (below).

A database that is up to date is not written: each view carries as its comment the fingerprint of
its file and of the macro files (views call the macros), and what is stale is created again.
Re-creating every macro and view at each writer's open cost 20 ms and made the next checkpoint
rewrite the catalog.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline import sql
from pipeline.errors import StoreError


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """What the block writes is committed together at its end, or rolled back on any exception."""
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        # A commit that failed (a full disk) has ended the transaction already: the rollback's own
        # "no transaction is active" must not hide why.
        with contextlib.suppress(duckdb.TransactionException):
            con.execute("rollback")
        raise


def apply_migration(
    con: duckdb.DuckDBPyConnection, path: Path, statements: Sequence[str], where: str = ""
) -> None:
    """Run one migration's statements and record it, in one transaction (StoreError if it fails)."""
    try:
        with transaction(con):
            for statement in statements:
                con.execute(statement)
            con.execute(
                "insert into schema_migrations values (?, ?, ?)",
                [int(path.name[:3]), path.stem, datetime.now(UTC)],
            )
    except duckdb.Error as exc:
        raise StoreError(f"migration {path.name} failed{where}: {exc}") from exc


def migrate(con: duckdb.DuckDBPyConnection, sql_dir: Path = sql.SQL_DIR) -> list[str]:
    """Apply numbered migrations not applied yet, then (re)create the macros and views whose files
    changed (all of them after a migration). Returns what was applied."""
    con.execute(
        "create table if not exists schema_migrations ("
        " version integer primary key, name varchar not null, applied_at timestamptz not null)"
    )
    done = {row[0] for row in con.execute("select version from schema_migrations").fetchall()}
    applied = []
    for path in sql.migration_files(sql_dir):
        if int(path.name[:3]) not in done:
            apply_migration(con, path, [sql.read(path, sql_dir)])
            applied.append(path.name)
    (database,) = con.execute("select current_database()").fetchone() or ("",)
    views, macros = sql.definitions("views", sql_dir), sql.definitions("macros", sql_dir)
    stale = set(views) if applied else stale_views(con, database, views, macros)
    if stale:  # a changed macro file makes every view stale
        create_macros(con, macros)
        create_views(con, {name: views[name] for name in stale}, macros)
    return applied


def create_macros(con: duckdb.DuckDBPyConnection, macros: dict[str, str]) -> None:
    """Run the macro files ``macros`` (name → text of ``sql/macros/<name>.sql``: ``create or
    replace macro`` statements)."""
    for name, text in macros.items():
        try:
            for statement in duckdb.extract_statements(text):
                con.execute(statement.query)
        except duckdb.Error as exc:
            raise StoreError(f"macros of sql/macros/{name}.sql could not be created: {exc}") from exc


def create_views(con: duckdb.DuckDBPyConnection, views: dict[str, str], macros: dict[str, str]) -> None:
    """Create each of ``views`` (name → query of ``sql/views/<name>.sql``) as view ``<name>``, marked
    with its fingerprint (see ``macros``), in whatever order their dependencies need."""
    pending = dict(views)
    while pending:
        failed: dict[str, str] = {}
        errors = {}
        for name, query in pending.items():
            try:
                con.execute(f"create or replace view {name} as\n{query}")
            except duckdb.CatalogException as exc:  # depends on a view not created yet
                failed[name] = query
                errors[name] = exc
                continue
            con.execute(f"comment on view {name} is {sql.literal(fingerprint(query, macros))}")
        if len(failed) == len(pending):
            raise StoreError(f"views could not be created: {errors}")
        pending = failed


# ---------------------------------------------------------------- what changed since the last writer


def fingerprint(query: str, macros: dict[str, str]) -> str:
    """What a view's comment holds: the digest of its file's text and of the macro files'."""
    text = "\x1e".join([query, *(macros[name] for name in sorted(macros))])
    return "vigia:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def stale_views(
    con: duckdb.DuckDBPyConnection, database: str, views: dict[str, str], macros: dict[str, str]
) -> set[str]:
    """The views of ``views`` (name → query) that ``database`` lacks or holds from another text of
    theirs or of the macro files ``macros``."""
    stored = dict(
        con.execute(
            "select view_name, comment from duckdb_views() where database_name = ? and not internal",
            [database],
        ).fetchall()
    )
    return {name for name, query in views.items() if stored.get(name) != fingerprint(query, macros)}


def macros_stale(con: duckdb.DuckDBPyConnection, database: str, files: dict[str, str]) -> bool:
    """Whether ``database`` lacks a macro of the macro files ``files`` or defines one otherwise
    (compared as DuckDB stores them, with a scratch database that ran the files: 35 ms, which the
    lake's writers, slower to open, can afford)."""
    if not files:
        return False
    scratch = duckdb.connect()
    try:
        for text in files.values():
            for statement in duckdb.extract_statements(text):
                scratch.execute(statement.query)
        found = _macros(con, database)
        return any(found.get(key) != value for key, value in _macros(scratch, "memory").items())
    finally:
        scratch.close()


def _macros(con: duckdb.DuckDBPyConnection, database: str) -> dict[tuple[str, str], tuple]:
    rows = con.execute(
        "select function_name, function_type, parameters, macro_definition from duckdb_functions()"
        " where database_name = ? and function_type in ('macro', 'table_macro')",
        [database],
    ).fetchall()
    return {
        (name, kind): (tuple(parameters or ()), definition) for name, kind, parameters, definition in rows
    }
