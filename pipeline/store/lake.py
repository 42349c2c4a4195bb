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
store/lake_sql.py): the constraints DuckLake lacks are dropped, columns and types are kept.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import re
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import duckdb

from pipeline import sql
from pipeline.errors import ConfigError, DatabaseBusy, StoreError
from pipeline.settings import Settings
from pipeline.store.backend import Backend
from pipeline.store.connect import connect as open_duckdb
from pipeline.store.lake_sql import translate
from pipeline.store.locks import cycle_lock_path, file_lock, lock_path
from pipeline.store.publication import Restored
from pipeline.store.schema import (
    apply_migration,
    fingerprint,
    macros_stale,
    stale_views,
    transaction,
)

log = logging.getLogger(__name__)

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


def _instance(extensions: tuple[str, ...] = EXTENSIONS, threads: int = 0) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB with these extensions loaded (and no way to download others)."""
    con = open_duckdb(threads=threads, config={"autoinstall_known_extensions": False})
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


def connect(settings: Settings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection with the lake attached as ``lake`` and in use (unqualified names are its tables)."""
    catalog = _catalog(settings)
    options = ["read_only"] if read_only else []
    if settings.lake_data_path:
        options.append(f"data_path {sql.literal(settings.lake_data_path)}")
    con = _instance(threads=settings.db_threads)
    try:
        con.execute(
            f"attach {sql.literal('ducklake:' + catalog)} as {ALIAS}"
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
        with file_lock(lock_path(settings.db_path), timeout):
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
        with file_lock(cycle_lock_path(settings.db_path), 0.0, wait=False, what="cycle"):
            yield
        return
    busy = "another cycle is running on the lake: this one stops before downloading anything"
    with _advisory_lock(settings, CYCLE_KEY, 0.001, busy):
        yield


@contextlib.contextmanager
def _advisory_lock(settings: Settings, key: int, timeout: float, busy: str) -> Iterator[None]:
    catalog = _catalog(settings)
    con = _instance(("postgres_scanner",), settings.db_threads)
    try:
        con.execute(f"attach {sql.literal(catalog.removeprefix('postgres:'))} as vigia_lock (type postgres)")
        con.execute("begin transaction")
        # lock_timeout bounds the wait; PostgreSQL queues waiters in arrival order (no polling).
        wait_ms = max(1, int(timeout * 1000))
        con.execute(
            "call postgres_execute('vigia_lock', "
            + sql.literal(f"set local lock_timeout = {wait_ms}; select pg_advisory_xact_lock({key})")
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
    """A connection to the lake: writers hold the writer lock while the connection is open
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


def migrate(con: duckdb.DuckDBPyConnection, sql_dir: Path = sql.SQL_DIR) -> list[str]:
    """Apply the translated migrations not applied yet; (re)create the macros and views whose file
    changed.

    Call with the writer lock held. Unlike the embedded store, a lake that is up to date is not
    written at all (every write is a snapshot, and workers open the lake often), and nothing is
    translated: each view carries the fingerprint of its file as its comment, and each macro file
    is run again only when the macros it defines differ from the lake's.
    """
    con.execute(
        "create table if not exists schema_migrations"
        " (version integer not null, name varchar not null, applied_at timestamptz not null)"
    )
    done = {row[0] for row in con.execute("select version from schema_migrations").fetchall()}
    pending = [p for p in sql.migration_files(sql_dir) if int(p.name[:3]) not in done]
    macro_files = sql.definitions("macros", sql_dir)
    stale = stale_views(con, ALIAS, sql.definitions("views", sql_dir), macro_files)
    stale_macros = macros_stale(con, ALIAS, macro_files)
    if not pending and not stale and not stale_macros:
        return []
    if not done:  # a new lake: how long its history is kept (see maintain)
        for option, value in LAKE_OPTIONS.items():
            con.execute(f"call {ALIAS}.set_option(?, ?)", [option, value])
    migrations, macros, views = translate(sql_dir)
    applied = []
    for path, statements in migrations:
        if path in pending:
            apply_migration(con, path, statements, " on the lake")
            applied.append(path.name)
    if pending or stale_macros:
        try:
            with transaction(con):
                for _name, text in macros:
                    for statement in duckdb.extract_statements(text):
                        con.execute(statement.query)
        except duckdb.Error as exc:
            raise StoreError(f"macros could not be created on the lake: {exc}") from exc
    if stale:
        try:
            with transaction(con):  # one snapshot for all of them
                for name, query in views:  # in an order that creates each after the views it reads
                    if name in stale:
                        con.execute(f"create or replace view {name} as\n{query}")
                        con.execute(
                            f"comment on view {name} is {sql.literal(fingerprint(query, macro_files))}"
                        )
        except duckdb.Error as exc:
            raise StoreError(f"views could not be created on the lake: {exc}") from exc
    return applied


# ---------------------------------------------------------------- the backend


class DuckLake(Backend):
    """``VIGIA_STORE=ducklake``: the lake, its catalog in PostgreSQL, read in place by analysts."""

    name = "ducklake"
    shared = True

    def lock_key(self, kind: str) -> str:
        return f"{kind}:lake:{self.settings.lake_catalog}"

    def acquire_writer(self, timeout: float) -> contextlib.AbstractContextManager[None]:
        return writer_lock(self.settings, timeout)

    def acquire_cycle(self) -> contextlib.AbstractContextManager[None]:
        return cycle_lock(self.settings)

    def connection(
        self, read_only: bool, timeout: float, check_blocks: bool
    ) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
        return open_lake(self.settings, read_only, timeout, take_lock=False)

    def analyst_connection(self) -> duckdb.DuckDBPyConnection:
        return connect(self.settings, read_only=True)

    def analyst_directories(self) -> list[str]:
        path = self.settings.lake_data_path
        return [path.rstrip("/") + "/"] if path else []  # the lake's Parquet files

    def restore_sources(self) -> list[Path]:
        raise ConfigError(NO_RESTORE)

    def restore(self, source: Path | None = None) -> Restored:
        raise ConfigError(NO_RESTORE)


NO_RESTORE = "restore is for the DuckDB file; a lake keeps its own history (docs/deployment.md, Scaling out)"
