"""The embedded store's migrations as statements DuckLake accepts.

DuckLake has no PRIMARY KEY, UNIQUE, CHECK or FOREIGN KEY, and no indexes: the lake replays the
same ``sql/migrations`` files as the DuckDB file, translated here. Each migration is replayed in a
scratch in-memory DuckDB, which parses each table the way the embedded store would; the lake gets
tables rebuilt from that catalog, without the constraints, and ``insert ... on conflict do
nothing`` becomes an anti-join on the key the embedded table declares (``lake_statements``).
Anything else (macros, updates, data fixes) runs unchanged.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import duckdb

from pipeline import sql
from pipeline.errors import StoreError

log = logging.getLogger(__name__)


def translate(
    sql_dir: Path = sql.SQL_DIR,
) -> tuple[list[tuple[Path, list[str]]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Every migration as lake statements, the macros, and the views in an order that creates them.

    Migrations are replayed in a scratch in-memory DuckDB, which parses each table the way the
    embedded store would; the lake gets tables rebuilt from that catalog, without constraints.
    Returns ``([(migration file, statements)], [(macro file, statements)], [(view, query)])``.
    """
    scratch = duckdb.connect()
    try:
        migrations = []
        for path in sql.migration_files(sql_dir):
            try:
                statements = lake_statements(sql.read(path, sql_dir), scratch)
            except (duckdb.Error, ValueError) as exc:
                raise StoreError(f"migration {path.name} cannot be translated for the lake: {exc}") from exc
            migrations.append((path, statements))
        macros = list(sql.definitions("macros", sql_dir).items())
        for name, text in macros:
            try:
                scratch.execute(text)
            except duckdb.Error as exc:
                raise StoreError(f"macros of sql/macros/{name}.sql cannot be created: {exc}") from exc
        pending = sql.definitions("views", sql_dir)
        views: list[tuple[str, str]] = []
        while pending:  # a view can be created once the views it reads exist
            created = {}
            for name, query in pending.items():
                try:
                    scratch.execute(f"create or replace view {name} as\n{query}")
                except duckdb.CatalogException:
                    continue
                created[name] = query
            if not created:
                raise StoreError(f"views could not be created: {sorted(pending)}")
            views += created.items()
            pending = {k: v for k, v in pending.items() if k not in created}
        return migrations, macros, views
    finally:
        scratch.close()


# What DuckLake cannot hold; a statement of only these is skipped.
_CONSTRAINT = re.compile(r"\b(primary\s+key|unique|check|foreign\s+key|references|constraint)\b", re.I)
_CREATE_INDEX = re.compile(r"^\s*create\s+(unique\s+)?index\b", re.I)
_CREATE_TABLE = re.compile(r"^\s*create\s+(or\s+replace\s+)?(temp\w*\s+)?table\b", re.I)
_INSERT = re.compile(r"^\s*insert\s+(or\s+(?P<or>ignore|replace)\s+)?into\s+", re.I)
_ON_CONFLICT = re.compile(r"\bon\s+conflict\b", re.I)


def lake_statements(sql: str, scratch: duckdb.DuckDBPyConnection) -> list[str]:
    """One migration file as statements DuckLake accepts, replaying it in ``scratch`` meanwhile.

    * ``create table``: rebuilt from the scratch catalog with the same columns, types, NOT NULL
      and defaults, without PRIMARY KEY, UNIQUE, CHECK or FOREIGN KEY;
    * ``alter table ... add column``: the same, for the new columns; constraint-only alters and
      ``create index`` are skipped (DuckLake has neither);
    * ``insert ... on conflict do nothing`` (or ``insert or ignore``): an anti-join on the key
      the embedded table declares;
    * anything else (views, macros, updates, data fixes) runs unchanged.
    """
    out: list[str] = []
    tables = _columns(scratch)  # kept current after each statement that can change it
    for statement in duckdb.extract_statements(sql):
        text = _strip_comments(statement.query).strip().rstrip(";").strip()
        if not text:
            continue
        kind, before = statement.type, tables
        # (translated against the table as it is before the insert)
        anti_join = _insert_ignoring_conflicts(text, scratch) if kind == _INSERT_TYPE else None
        scratch.execute(text)
        if kind in _SCHEMA_CHANGES:
            tables = _columns(scratch)
        if anti_join is not None:
            out.append(anti_join)
        elif kind == duckdb.StatementType.CREATE and _CREATE_INDEX.match(text):
            log.debug("lake: skipped %s", text.split("\n", 1)[0])
        elif kind == duckdb.StatementType.CREATE and _CREATE_TABLE.match(text) and not _is_ctas(text):
            out += [_create_table(table, cols) for table, cols in tables.items() if table not in before]
        elif kind == duckdb.StatementType.ALTER:
            added = [(t, c) for t, cols in tables.items() if t in before for c in cols if c not in before[t]]
            if added:
                out += [f"alter table {table} add column {_column(col)}" for table, col in added]
            elif not _CONSTRAINT.search(_mask(text)):
                out.append(text)
        else:
            out.append(text)
    return out


_SCHEMA_CHANGES = {duckdb.StatementType.CREATE, duckdb.StatementType.ALTER, duckdb.StatementType.DROP}
_INSERT_TYPE = duckdb.StatementType.INSERT


def _is_ctas(text: str) -> bool:
    masked = _mask(text)
    head = masked[: masked.find("(")] if "(" in masked else masked
    return re.search(r"\bas\b", head, re.I) is not None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


Column = tuple[str, str, bool, str | None]  # name, type, nullable, default


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[Column]]:
    rows = con.execute(
        "select schema_name, table_name, column_name, data_type, is_nullable, column_default"
        " from duckdb_columns() where database_name = current_database() and not internal"
        " and table_name in (select table_name from duckdb_tables() where database_name = current_database())"
        " order by schema_name, table_name, column_index"
    ).fetchall()
    tables: dict[str, list[Column]] = {}
    for schema, table, name, data_type, nullable, default in rows:
        key = _ident(table) if schema == "main" else f"{_ident(schema)}.{_ident(table)}"
        tables.setdefault(key, []).append((name, data_type, nullable, default))
    return tables


def _column(col: Column) -> str:
    name, data_type, nullable, default = col
    default_clause = "" if default is None else f" default {default}"
    return f"{_ident(name)} {data_type}{default_clause}{'' if nullable else ' not null'}"


def _create_table(table: str, cols: list[Column]) -> str:
    body = ",\n    ".join(_column(c) for c in cols)
    return f"create table if not exists {table} (\n    {body}\n)"


def _key_columns(scratch: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    name = table.split(".")[-1].strip('"')
    rows = scratch.execute(
        "select constraint_type, constraint_column_names from duckdb_constraints()"
        " where table_name = ? and constraint_type in ('PRIMARY KEY', 'UNIQUE')"
        " order by constraint_type = 'PRIMARY KEY' desc, constraint_index",
        [name],
    ).fetchall()
    if not rows:
        raise ValueError(f"{table} has no primary key or unique constraint to resolve conflicts on")
    return list(rows[0][1])


def _insert_ignoring_conflicts(text: str, scratch: duckdb.DuckDBPyConnection) -> str | None:
    """``insert into t [(cols)] <source> on conflict [(keys)] do nothing`` (or ``insert or
    ignore``) as an anti-join; None for an insert that ignores no conflict."""
    masked = _mask(text)
    head = _INSERT.match(masked)
    if head is None or not (head.group("or") or _ON_CONFLICT.search(masked)):
        return None
    if (head.group("or") or "").lower() == "replace":
        raise ValueError("INSERT OR REPLACE has no lake equivalent here: write it as MERGE INTO")
    target = re.match(r'\s*((?:"(?:[^"]|"")*"|[\w$]+)(?:\.(?:"(?:[^"]|"")*"|[\w$]+))?)', masked[head.end() :])
    if target is None:
        raise ValueError(f"cannot find the target table in {text[:80]!r}")
    table = target.group(1)
    pos = head.end() + target.end()
    columns: list[str] | None = None
    rest = masked[pos:]
    if rest.lstrip().startswith("(") and not re.match(r"\s*\(\s*(select|values|with|from)\b", rest, re.I):
        start = pos + rest.index("(")
        end = _closing(masked, start)
        columns = [c.strip() for c in text[start + 1 : end].split(",")]
        pos = end + 1
    conflict = _depth0(_ON_CONFLICT, masked, pos)
    source_end = conflict.start() if conflict else len(text)
    source = text[pos:source_end].strip()
    keys: list[str] | None = None
    if conflict:
        clause = masked[conflict.end() :]
        if not re.search(r"\bdo\s+nothing\s*$", clause, re.I):
            raise ValueError("ON CONFLICT DO UPDATE has no lake equivalent here: write it as MERGE INTO")
        listed = re.match(r"\s*\(([^)]*)\)", clause)
        if listed:
            keys = [k.strip() for k in listed.group(1).split(",")]
    if columns is None:
        name = table.split(".")[-1].strip('"')
        columns = [
            r[0]
            for r in scratch.execute(
                "select column_name from duckdb_columns() where table_name = ? order by column_index", [name]
            ).fetchall()
        ]
    keys = keys or _key_columns(scratch, table)
    cols = ", ".join(columns)
    match = " and ".join(f"_t.{k} = _n.{k}" for k in keys)
    return (
        f"insert into {table} ({cols})\nselect * from (\n{source}\n) as _n ({cols})\n"
        f"where not exists (select 1 from {table} _t where {match})"
    )


# ---------------------------------------------------------------- SQL text helpers

_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)


def _mask(text: str) -> str:
    """``text`` with string literals and comments blanked (same length), so that keywords and
    parentheses found in it are real ones. Quoted identifiers are kept."""
    return _LITERAL.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " " * len(m.group(0)), text)


def _strip_comments(text: str) -> str:
    return _LITERAL.sub(lambda m: "" if m.group(0).startswith(("--", "/*")) else m.group(0), text)


def _closing(masked: str, start: int) -> int:
    depth = 0
    for i in range(start, len(masked)):
        if masked[i] == "(":
            depth += 1
        elif masked[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced parentheses")


def _depth0(pattern: re.Pattern[str], masked: str, start: int) -> re.Match[str] | None:
    """The first match of ``pattern`` after ``start`` outside any parentheses."""
    for m in pattern.finditer(masked, start):
        prefix = masked[start : m.start()]
        if prefix.count("(") == prefix.count(")"):
            return m
    return None
