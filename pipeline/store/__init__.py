"""The storage: one interface, two backends, chosen once from the settings (``VIGIA_STORE``).

    backend(settings)      DuckDBFile (store/duckdb_file.py): one DuckDB file and its analyst copy;
                           DuckLake (store/lake.py): the shared lake many workers write at once
    open_db(db, ...)       a connection with every migration applied (writers hold the writer lock)
    writing(db)            a write connection for a command outside a cycle; published on success
    write_lock(db)         the writer lock, re-entrant within a thread
    cycle_lock(settings)   held by a whole cycle
    transaction(con)       committed together, or rolled back

The functions take a Settings or a database path (the other settings from the environment). What
a cycle reads before it writes is in store/reads.py; the schema's migrations in store/schema.py;
the errors that mean the database cannot be used in store/failures.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pipeline.settings import Settings
from pipeline.store.backend import Backend
from pipeline.store.duckdb_file import DuckDBFile
from pipeline.store.failures import is_storage_error, storage_error
from pipeline.store.lake import DuckLake
from pipeline.store.schema import migrate, transaction

__all__ = [
    "Backend",
    "backend",
    "cycle_lock",
    "is_storage_error",
    "migrate",
    "open_db",
    "storage_error",
    "transaction",
    "write_lock",
    "writing",
]

BACKENDS: dict[str, type[Backend]] = {"duckdb": DuckDBFile, "ducklake": DuckLake}


def backend(db: Path | str | Settings) -> Backend:
    """The store these settings name (``VIGIA_STORE``, checked when the settings were made)."""
    settings = db if isinstance(db, Settings) else Settings.from_env(db_path=Path(db))
    return BACKENDS[settings.store](settings)


def open_db(
    db: Path | str | Settings,
    read_only: bool = False,
    lock_timeout: float | None = None,
    take_lock: bool = True,
    check_blocks: bool = False,
) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
    """A connection with every migration applied (see ``Backend.open``)."""
    return backend(db).open(read_only, lock_timeout, take_lock, check_blocks)


def writing(db: Path | str | Settings) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
    """A write connection for commands outside a cycle, published on success (``Backend.writing``)."""
    return backend(db).writing()


def write_lock(
    db: Path | str | Settings, lock_timeout: float | None = None
) -> contextlib.AbstractContextManager[None]:
    """The right to write the database and to replace what analysts read (re-entrant in a thread)."""
    return backend(db).write_lock(lock_timeout)


@contextlib.contextmanager
def cycle_lock(settings: Settings) -> Iterator[None]:
    """Held by a whole cycle (``Backend.cycle_lock``)."""
    with backend(settings).cycle_lock():
        yield
