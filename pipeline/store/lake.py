"""DuckLake: the shared store many workers write at once (``VIGIA_STORE=ducklake``).

The embedded DuckDB file admits one writing process on one machine. A lake keeps the same tables
as Parquet files under ``VIGIA_LAKE_DATA_PATH`` (a volume every worker mounts, or an object store)
and their catalog in PostgreSQL (``VIGIA_LAKE_CATALOG``, e.g. ``postgres:dbname=vigia_lake
host=postgres user=vigia password=vigia``). Analysts attach it read-only from any DuckDB and see
the same tables and views as in the embedded file.

Writers. DuckLake commits optimistically and has no PRIMARY KEY or UNIQUE: two loads that both
insert a new article (``insert ... where not exists``) commit side by side and the article is
stored twice. So every writer holds one PostgreSQL advisory lock, taken in the lake's own
catalog database, for its whole load transaction (``writer_lock``; ``store.write_lock`` and
``store.open_db`` route here). The lock is taken *before* the writer opens the lake, so its
snapshot already holds the previous writer's commit, and it is released only after that commit.
A transaction-scoped lock is released by PostgreSQL when the holder's session ends, so a writer
killed mid-load (even ``kill -9``) frees it at once; waiting is bounded by ``db_lock_timeout``
and ends in DatabaseBusy. Collecting feeds and pages, the slow part of a cycle, needs no lock.

Extensions are loaded from the files of the installed PyPI packages (``duckdb-extension-ducklake``
and ``-postgres-scanner``), by path: nothing is ever downloaded, and no copy into ``~/.duckdb``
is made that two processes starting together could race on.

Migrations are the same ``sql/migrations`` files as the embedded store, translated (see
``lake_statements``): the constraints DuckLake lacks are dropped, columns and types are kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import re
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import duckdb

from pipeline import store
from pipeline.errors import ConfigError, DatabaseBusy, StoreError
from pipeline.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

SQL_DIR = REPO_ROOT / "sql"
ALIAS = "lake"  # analysts attach it under the same name: ATTACH 'ducklake:...' AS lake (READ_ONLY)
EXTENSIONS = ("ducklake", "postgres_scanner")
# pg_advisory_xact_lock key of "the Vigía lake writer" ("VIGIA" in ASCII).
LOCK_KEY = 0x56_49_47_49_41
CYCLE_KEY = LOCK_KEY + 1  # held by a whole CLI cycle
# A writer compacts the lake when the snapshot counter (one per load) passes a multiple of this:
# about daily with one load every 15 minutes.
MAINTAIN_EVERY = 100
# Snapshots (time travel) are kept a week; files they alone used are deleted two days after
# that, so that no analyst's long read-only session loses a file it is scanning.
LAKE_OPTIONS = {"expire_older_than": "7 days", "delete_older_than": "2 days"}


# ---------------------------------------------------------------- connecting


@cache
def extension_file(name: str) -> Path:
    """The ``.duckdb_extension`` file the ``duckdb-extension-<name>`` PyPI package ships for this DuckDB."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    base = Path(spec.origin).parent if spec and spec.origin else Path("/nonexistent")
    path = base / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.exists():
        raise StoreError(
            f"no {path.name} for DuckDB {duckdb.__version__}: pip install duckdb-extension-{name}"
        )
    return path


def _instance(extensions: tuple[str, ...] = EXTENSIONS) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB with these extensions loaded (and no way to download others)."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    try:
        for name in extensions:
            con.execute(f"load '{extension_file(name)}'")
    except BaseException:
        con.close()
        raise
    return con


def _catalog(settings: Settings) -> str:
    if not settings.lake_catalog:
        raise ConfigError(
            "VIGIA_STORE=ducklake needs VIGIA_LAKE_CATALOG,"
            " e.g. 'postgres:dbname=vigia_lake host=db user=vigia'"
        )
    return settings.lake_catalog


def _redacted(catalog: str) -> str:
    return re.sub(r"password=\S+", "password=***", catalog)


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connect(settings: Settings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection with the lake attached as ``lake`` and in use (unqualified names are its tables)."""
    catalog = _catalog(settings)
    options = ["read_only"] if read_only else []
    if settings.lake_data_path:
        options.append(f"data_path {_quote_literal(settings.lake_data_path)}")
    con = _instance()
    try:
        con.execute(
            f"attach {_quote_literal('ducklake:' + catalog)} as {ALIAS}"
            + (f" ({', '.join(options)})" if options else "")
        )
        con.execute(f"use {ALIAS}")
    except duckdb.Error as exc:
        con.close()
        if read_only and "does not exist" in str(exc):
            raise StoreError(
                f"the lake {_redacted(catalog)!r} does not exist yet: run a cycle first"
            ) from exc
        raise StoreError(f"cannot attach the lake {_redacted(catalog)!r}: {_redacted(str(exc))}") from exc
    return con


# ---------------------------------------------------------------- the writer lock


@contextlib.contextmanager
def writer_lock(settings: Settings, timeout: float | None = None) -> Iterator[None]:
    """Hold the right to write the lake: a PostgreSQL advisory lock in the catalog database.

    Catalogs that are not PostgreSQL (a DuckDB or SQLite file: one machine only) fall back to
    the embedded store's file lock beside ``VIGIA_DB``.
    """
    timeout = settings.db_lock_timeout if timeout is None else timeout
    if not _catalog(settings).startswith("postgres:"):
        with store._file_lock(store.lock_path(settings.db_path), timeout):
            yield
        return
    busy = (
        f"another writer held the lake for {timeout:g} s; analysts' read-only sessions never block "
        "writers, so a load is still running or stuck"
    )
    with _advisory_lock(settings, LOCK_KEY, timeout, busy):
        yield


@contextlib.contextmanager
def cycle_lock(settings: Settings) -> Iterator[None]:
    """Held by a whole ``python -m pipeline run`` on the lake: a second one stops at once."""
    if not _catalog(settings).startswith("postgres:"):
        path = settings.db_path.with_name(settings.db_path.name + ".cycle.lock")
        with store._file_lock(path, 0.0, wait=False, what="cycle"):
            yield
        return
    busy = "another cycle is running on the lake: this one stops before downloading anything"
    with _advisory_lock(settings, CYCLE_KEY, 0.001, busy):
        yield


@contextlib.contextmanager
def _advisory_lock(settings: Settings, key: int, timeout: float, busy: str) -> Iterator[None]:
    catalog = _catalog(settings)
    con = _instance(("postgres_scanner",))
    try:
        con.execute(
            f"attach {_quote_literal(catalog.removeprefix('postgres:'))} as vigia_lock (type postgres)"
        )
        con.execute("begin transaction")
        # lock_timeout bounds the wait; PostgreSQL queues waiters in arrival order (no polling).
        wait_ms = max(1, int(timeout * 1000))
        con.execute(
            "call postgres_execute('vigia_lock', "
            + _quote_literal(f"set local lock_timeout = {wait_ms}; select pg_advisory_xact_lock({key})")
            + ")"
        )
    except duckdb.Error as exc:
        con.close()
        if "lock timeout" in str(exc):
            raise DatabaseBusy(busy) from exc
        raise StoreError(
            f"cannot take the lake's writer lock in {_redacted(catalog)!r}: {_redacted(str(exc))}"
        ) from exc
    try:
        yield
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")  # ends the lock's transaction: the lock is released
        con.close()


@contextlib.contextmanager
def open_lake(
    settings: Settings, read_only: bool = False, lock_timeout: float | None = None, take_lock: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """``store.open_db`` for the lake: writers hold the writer lock while the connection is open
    (``take_lock=False`` when the caller holds it) and find every migration applied."""
    if read_only:
        with contextlib.closing(connect(settings, read_only=True)) as con:
            yield con
        return
    with writer_lock(settings, lock_timeout) if take_lock else contextlib.nullcontext():
        con = connect(settings)
        try:
            migrate(con, settings.sql_dir)
            first = _snapshot(con)
            yield con
            if _snapshot(con) // MAINTAIN_EVERY > first // MAINTAIN_EVERY:
                maintain(con)
        finally:
            con.close()


def _snapshot(con: duckdb.DuckDBPyConnection) -> int:
    (snapshot,) = con.execute(f"select max(snapshot_id) from {ALIAS}.snapshots()").fetchone() or (0,)
    return snapshot


def maintain(con: duckdb.DuckDBPyConnection) -> None:
    """DuckLake's CHECKPOINT (inlined rows to Parquet, small files merged, old snapshots and files
    dropped). Seconds even on a small lake, hence every MAINTAIN_EVERY snapshots rather than every
    load; under the writer lock, as it deletes files no commit refers to (another writer's, in flight)."""
    started = time.monotonic()
    con.execute("checkpoint")
    log.info("lake: maintenance took %.1f s", time.monotonic() - started)


# ---------------------------------------------------------------- migrations


def migrate(con: duckdb.DuckDBPyConnection, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply the translated migrations not applied yet; (re)create the views whose file changed.

    Call with the writer lock held. Unlike the embedded store, a lake that is up to date is not
    written at all (every write is a snapshot, and workers open the lake often), and nothing is
    translated: each view carries the fingerprint of its file as its comment.
    """
    con.execute(
        "create table if not exists schema_migrations"
        " (version integer not null, name varchar not null, applied_at timestamptz not null)"
    )
    done = {row[0] for row in con.execute("select version from schema_migrations").fetchall()}
    pending = [p for p in store.migration_files(sql_dir) if int(p.name[:3]) not in done]
    stored = dict(
        con.execute(
            "select view_name, comment from duckdb_views() where database_name = ? and not internal", [ALIAS]
        ).fetchall()
    )
    stale = {name for name, query in _view_files(sql_dir).items() if stored.get(name) != _fingerprint(query)}
    if not pending and not stale:
        return []
    if not done:  # a new lake: how long its history is kept (see maintain)
        for option, value in LAKE_OPTIONS.items():
            con.execute(f"call {ALIAS}.set_option(?, ?)", [option, value])
    migrations, views = translate(sql_dir)
    applied = []
    for path, statements in migrations:
        if path in pending:
            store.apply_migration(con, path, statements, " on the lake")
            applied.append(path.name)
    if stale:
        try:
            with store.transaction(con):  # one snapshot for all of them
                for name, query in views:  # in an order that creates each after the views it reads
                    if name in stale:
                        con.execute(f"create or replace view {name} as\n{query}")
                        con.execute(f"comment on view {name} is {_quote_literal(_fingerprint(query))}")
        except duckdb.Error as exc:
            raise StoreError(f"views could not be created on the lake: {exc}") from exc
    return applied


def _view_files(sql_dir: Path) -> dict[str, str]:
    return {
        p.stem: p.read_text(encoding="utf-8").strip().rstrip(";")
        for p in sorted((sql_dir / "views").glob("*.sql"))
    }


def _fingerprint(query: str) -> str:
    return "vigia:" + hashlib.sha256(query.encode()).hexdigest()[:16]


def translate(sql_dir: Path = SQL_DIR) -> tuple[list[tuple[Path, list[str]]], list[tuple[str, str]]]:
    """Every migration as lake statements, and the views in an order that creates them.

    Migrations are replayed in a scratch in-memory DuckDB, which parses each table the way the
    embedded store would; the lake gets tables rebuilt from that catalog, without constraints.
    Returns ``([(migration file, statements)], [(view, query)])``.
    """
    scratch = duckdb.connect()
    try:
        migrations = []
        for path in store.migration_files(sql_dir):
            try:
                statements = lake_statements(path.read_text(encoding="utf-8"), scratch)
            except (duckdb.Error, ValueError) as exc:
                raise StoreError(f"migration {path.name} cannot be translated for the lake: {exc}") from exc
            migrations.append((path, statements))
        pending = _view_files(sql_dir)
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
        return migrations, views
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
