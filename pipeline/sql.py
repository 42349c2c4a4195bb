"""The SQL of Vigía: every statement lives in a file under ``sql/``, read by ``read`` and nothing else.

    sql/migrations/NNN_<name>.sql   the schema, numbered, applied in order and recorded; never edited
    sql/macros/<name>.sql           macros, recreated whenever the database is opened for writing
    sql/views/<name>.sql            one analyst view per file, recreated the same way
    sql/queries/<area>/<name>.sql   what the stages run: one query per file, or a short script of
                                    statements that run in order as one step
    sql/schema.yml                  every table, view and column, and the checks a loaded database
                                    passes (tests/test_schema.py; the page docs/database.md)

A query takes named parameters (``$now``), each statement of a script the ones it names. A few
take a fragment of SQL text as well, written ``{name}`` in the file: a table or column name the
same script serves for, or the condition that picks a set of ids (``id_filter``).
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.settings import REPO_ROOT

SQL_DIR = REPO_ROOT / "sql"
LITERAL_IDS = 2_000  # see id_filter
_FRAGMENT = re.compile(r"\{([a-z_]+)\}")
_registered = itertools.count()


def read(name: str | Path, sql_dir: Path = SQL_DIR) -> str:
    """The text of ``sql/<name>`` (``name`` relative to ``sql_dir``, or a path of its own)."""
    return (sql_dir / name).read_text(encoding="utf-8")


@cache
def query(name: str) -> str:
    """The text of ``sql/queries/<name>.sql``, e.g. ``query("load/fetches")``."""
    return read(f"queries/{name}.sql")


def execute(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, Any] | None = None,
    /,
    **fragments: str,
) -> duckdb.DuckDBPyConnection:
    """Run ``sql/queries/<name>.sql``: each of its statements in order, each with the named
    parameters it uses; ``{fragment}`` placeholders are filled first. Returns the connection, holding
    the last statement's result."""
    text = query(name)
    if fragments:
        text = _FRAGMENT.sub(lambda m: fragments.get(m.group(1), m.group(0)), text)
    missing = _FRAGMENT.findall(text)
    if missing:
        raise ValueError(f"sql/queries/{name}.sql needs the fragments {sorted(set(missing))}")
    params = params or {}
    for statement, names in _statements(text):
        try:
            values = {key: params[key] for key in names}
        except KeyError as exc:
            raise ValueError(f"sql/queries/{name}.sql needs the parameter ${exc.args[0]}") from None
        con.execute(statement, values) if values else con.execute(statement)
    return con


@lru_cache(maxsize=1024)
def _statements(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    return tuple((s.query, frozenset(s.named_parameters)) for s in duckdb.extract_statements(text))


# ---------------------------------------------------------------- the schema's files


def migration_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    """The numbered migrations, in the order they apply."""
    return sorted((sql_dir / "migrations").glob("[0-9][0-9][0-9]_*.sql"))


def definitions(kind: str, sql_dir: Path = SQL_DIR) -> dict[str, str]:
    """``macros`` or ``views``: name → statement text (a view's query, a macro file's statements),
    without the final semicolon."""
    return {p.stem: read(p, sql_dir).strip().rstrip(";") for p in sorted((sql_dir / kind).glob("*.sql"))}


# ---------------------------------------------------------------- picking a set of ids


def literal(value: object) -> str:
    """``value`` as an SQL string literal (quotes doubled), for what cannot be a bound parameter:
    ATTACH targets, comments, literal id lists."""
    return "'" + str(value).replace("'", "''") + "'"


@contextlib.contextmanager
def id_filter(con: duckdb.DuckDBPyConnection, column: str, values: Sequence[str]) -> Iterator[str]:
    """A condition "``column`` is one of ``values``" for set-based SQL over big tables.

    A literal list (``article_id in ('a', 'b')``) is checked while DuckDB scans, before it reads a
    row's other columns, where a join reads every article's text first: 30 ms against 200 ms among a
    million articles, for the few hundred ids of a cycle. Past LITERAL_IDS values the literal check
    costs more than the join, and the values are joined from a registered Arrow table instead."""
    if not values:
        yield "false"
    elif len(values) <= LITERAL_IDS:
        yield f"{column} in (" + ", ".join(literal(v) for v in values) + ")"
    else:
        name = f"_ids_{next(_registered)}"
        con.register(name, pa.table({"id": pa.array(list(values), pa.string())}))
        try:
            yield f"{column} in (select id from {name})"
        finally:
            con.unregister(name)


# ---------------------------------------------------------------- sql/schema.yml: checked, documented

SCHEMA_FILE = SQL_DIR / "schema.yml"
DATABASE_PAGE = REPO_ROOT / "docs" / "database.md"


def declared_schema(path: Path = SCHEMA_FILE) -> dict[str, dict[str, Any]]:
    """``{"tables": {name: {...}}, "views": {name: {...}}}`` as ``sql/schema.yml`` declares them.

    PyYAML is a development dependency: only the tests and the docs generator read this file."""
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def schema_problems(con: duckdb.DuckDBPyConnection, declared: Mapping[str, Any] | None = None) -> list[str]:
    """What the database ``con`` has that ``sql/schema.yml`` does not say, or the reverse, and every
    check of the file that fails on its rows (empty when all hold)."""
    declared = declared or declared_schema()
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in con.execute(
        "select table_name, column_name, data_type from duckdb_columns()"
        " where database_name = current_database() and schema_name = 'main' order by table_name, column_index"
    ).fetchall():
        found.setdefault(table, []).append((column, data_type))
    views = {r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()}
    problems = []
    wanted = {name for kind in ("tables", "views") for name in declared[kind]}
    problems += [f"{name}: in the database, not in sql/schema.yml" for name in sorted(set(found) - wanted)]
    for kind in ("tables", "views"):
        for name, spec in declared[kind].items():
            if name not in found:
                problems.append(f"{name}: declared, not in the database")
                continue
            if (name in views) != (kind == "views"):
                problems.append(f"{name}: declared among the {kind}, but it is not one")
            columns = [(c, str(s["type"])) for c, s in spec["columns"].items()]
            if columns != found[name]:
                problems.append(
                    f"{name}: the database has the columns {found[name]}, sql/schema.yml {columns}"
                )
                continue
            problems += _failed_checks(con, name, spec)
    return problems


def _failed_checks(con: duckdb.DuckDBPyConnection, name: str, spec: Mapping[str, Any]) -> list[str]:
    failed = []
    table = _quoted(name)

    def count(condition_sql: str) -> int:
        return int(con.execute(condition_sql).fetchall()[0][0])

    together = spec.get("unique_together")
    if together:
        key = ", ".join(_quoted(c) for c in together)
        if count(f"select count(*) from (select {key} from {table} group by all having count(*) > 1)"):
            failed.append(f"{name}: ({', '.join(together)}) not unique")
    for column, column_spec in spec["columns"].items():
        col = _quoted(column)
        for check in column_spec.get("checks", ()):
            if check == "unique":
                bad = count(
                    f"select count(*) from (select {col} from {table} group by 1 having count(*) > 1)"
                )
            elif check == "not_null":
                bad = count(f"select count(*) from {table} where {col} is null")
            elif isinstance(check, dict) and "accepted_values" in check:
                allowed = ", ".join(literal(v) for v in check["accepted_values"])
                bad = count(
                    f"select count(*) from {table} where {col} is not null and {col} not in ({allowed})"
                )
            else:
                raise ValueError(f"sql/schema.yml, {name}.{column}: unknown check {check!r}")
            if bad:
                what = check if isinstance(check, str) else "accepted_values"
                failed.append(f"{name}.{column}: {bad} rows fail {what}")
    return failed


def database_page(declared: Mapping[str, Any] | None = None) -> str:
    """docs/database.md, generated from ``sql/schema.yml``."""
    declared = declared or declared_schema()
    lines = [
        "# The database",
        "",
        "Generated from `sql/schema.yml` by `.venv/bin/python -m pipeline.sql docs`; do not edit by hand",
        "(`tests/test_schema.py` fails when this page is stale). The schema itself is the numbered",
        "migrations in `sql/migrations/`; the views are `sql/views/`, one file each. Checks: **unique**,",
        "**not null**, **accepted values**, run on a loaded database by `tests/test_schema.py`.",
        "",
    ]
    for kind, title in (("views", "Views (for analysts)"), ("tables", "Tables")):
        lines += [f"## {title}", ""]
        for name, spec in declared[kind].items():
            lines += [f"### `{name}`", ""]
            if spec.get("description"):
                lines += [spec["description"][0].upper() + spec["description"][1:] + ".", ""]
            if spec.get("unique_together"):
                lines += ["Unique: (" + ", ".join(f"`{c}`" for c in spec["unique_together"]) + ").", ""]
            lines += ["| column | type | checks | meaning |", "| --- | --- | --- | --- |"]
            for column, c in spec["columns"].items():
                checks = []
                for check in c.get("checks", ()):
                    if isinstance(check, dict):
                        checks.append("one of " + ", ".join(f"`{v}`" for v in check["accepted_values"]))
                    else:
                        checks.append(check.replace("_", " "))
                meaning = str(c.get("description", "")).replace("|", "\\|")
                lines.append(f"| `{column}` | {c['type']} | {'; '.join(checks)} | {meaning} |")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipeline.sql docs``: write docs/database.md from sql/schema.yml."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["docs"]:
        print("usage: python -m pipeline.sql docs   (writes docs/database.md from sql/schema.yml)")
        return 2
    DATABASE_PAGE.parent.mkdir(parents=True, exist_ok=True)
    DATABASE_PAGE.write_text(database_page(), encoding="utf-8")
    print(f"wrote {DATABASE_PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
