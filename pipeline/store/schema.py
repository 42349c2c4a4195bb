"""The schema of the DuckDB file: migrations applied in order and recorded, then macros and views.

migrate(con)   applies ``sql/migrations/NNN_*.sql`` not applied yet (each in one transaction,
               recorded in ``schema_migrations``), then (re)creates every macro of ``sql/macros``
               and every view of ``sql/views``. The lake does the same its own way (store/lake.py).
"""

from __future__ import annotations

import contextlib
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
    """Apply numbered migrations not applied yet, then (re)create the macros and views. Returns what
    was applied."""
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
    create_macros(con, sql_dir)
    create_views(con, sql_dir)
    return applied


def create_macros(con: duckdb.DuckDBPyConnection, sql_dir: Path = sql.SQL_DIR) -> None:
    """Run every ``sql/macros/<name>.sql`` (``create or replace macro`` statements)."""
    for name, text in sql.definitions("macros", sql_dir).items():
        try:
            for statement in duckdb.extract_statements(text):
                con.execute(statement.query)
        except duckdb.Error as exc:
            raise StoreError(f"macros of sql/macros/{name}.sql could not be created: {exc}") from exc


def create_views(con: duckdb.DuckDBPyConnection, sql_dir: Path = sql.SQL_DIR) -> None:
    """Create every ``sql/views/<name>.sql`` as view ``<name>``, in whatever order their dependencies need."""
    pending = sql.definitions("views", sql_dir)
    while pending:
        failed: dict[str, str] = {}
        errors = {}
        for name, query in pending.items():
            try:
                con.execute(f"create or replace view {name} as\n{query}")
            except duckdb.CatalogException as exc:  # depends on a view not created yet
                failed[name] = query
                errors[name] = exc
        if len(failed) == len(pending):
            raise StoreError(f"views could not be created: {errors}")
        pending = failed
