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
        yield f"{column} in (" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"
    else:
        name = f"_ids_{next(_registered)}"
        con.register(name, pa.table({"id": pa.array(list(values), pa.string())}))
        try:
            yield f"{column} in (select id from {name})"
        finally:
            con.unregister(name)
