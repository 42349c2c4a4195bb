"""The embedded store: one DuckDB file, its writer lock, and the analyst copy analysts read.

DuckDB lets one process write a database file and, meanwhile, keeps every other process out,
readers included. So:

* every writer first takes ``<db>.lock`` (an advisory file lock), waiting with back-off up to
  ``db_lock_timeout`` and then failing with DatabaseBusy, never corrupting anything;
* a cycle is loaded in one transaction: a crash (even ``kill -9``) leaves only committed cycles;
* after each load the database is copied, verified and atomically renamed to the **analyst
  copy** (``<db>.analyst.duckdb``, see store/publication.py), which analysts open read-only for
  as long as they like: the loader never waits for them, and they never see a half-loaded cycle;
* a cycle (``python -m pipeline run``) also holds ``<db>.cycle.lock`` from start to end: a second
  cycle stops at once (DatabaseBusy) instead of downloading everything again, and holds the
  writer lock throughout, so other writers wait for the whole cycle;
* a DuckDB or file-system error that means the database cannot be used (damaged, disk full,
  read-only) becomes a StoreError with one line saying so (store/failures.py); the CLI exits 3.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pipeline import leftovers
from pipeline.errors import ConfigError, CorruptDatabase, StoreError
from pipeline.store import publication
from pipeline.store.backend import Backend
from pipeline.store.connect import connect
from pipeline.store.failures import (
    NO_DATA_HINT,
    REPUBLISH,
    RESTORE_HINT,
    is_storage_error,
    os_error,
    storage_error,
)
from pipeline.store.locks import cycle_lock_path, file_lock, lock_path, retry
from pipeline.store.schema import migrate


class DuckDBFile(Backend):
    """``VIGIA_STORE=duckdb`` (the default): the file ``VIGIA_DB`` and its analyst copy."""

    name = "duckdb"

    @property
    def path(self) -> Path:
        return self.settings.db_path

    def lock_key(self, kind: str) -> str:
        return f"{kind}:{os.path.abspath(self.path)}"

    def acquire_writer(self, timeout: float) -> contextlib.AbstractContextManager[None]:
        return file_lock(lock_path(self.path), timeout)

    def acquire_cycle(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(cycle_lock_path(self.path), 0.0, wait=False, what="cycle")

    def exists(self) -> bool:
        return self.path.exists()

    def first_hold(self) -> None:
        publication.sweep(self.settings)
        leftovers.sweep_model_files()

    def after_writes(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute("checkpoint")

    def publish(self) -> None:
        """Verify the (closed, checkpointed) database and publish it as the analyst copy (see
        store/publication.py)."""
        publication.publish(self.settings)

    def refresh_analyst_copy(self) -> None:
        with self.write_lock():
            self.publish()

    @contextlib.contextmanager
    def connection(
        self, read_only: bool, timeout: float, check_blocks: bool
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only open of a database that does not exist yet raises StoreError. A writer first
        checks the file's headers (CorruptDatabase: nothing is written into a damaged file), and
        refuses to start an empty database where published copies of a lost one exist; with
        ``check_blocks`` it checks every block's checksum too."""
        path = self.path
        if read_only:
            if not path.exists():
                raise StoreError(f"database {path} does not exist yet: run a cycle first")
        else:
            self._check_before_writing()
            if check_blocks:
                self.check_sound()
        con = _connect(path, read_only, timeout, self.settings.db_threads)
        try:
            if not read_only:
                migrate(con, self.settings.sql_dir)
            yield con
        except Exception as exc:
            if is_storage_error(exc):
                raise storage_error(exc, path) from exc
            raise
        finally:
            _close(con)

    def check_paths(self) -> None:
        """ConfigError for database paths that cannot work: under a regular file, a directory, the
        analyst copy on the database itself, or an analyst copy that would overwrite a foreign file."""
        db, analyst = self.path, self.settings.analyst_db
        for name, path in (("VIGIA_DB", db), ("VIGIA_ANALYST_DB", analyst)):
            for parent in path.parents:
                if parent.exists():
                    if not parent.is_dir():
                        raise ConfigError(f"{name}: {parent} is a file, so {path} cannot be created under it")
                    break
        if db.is_dir():
            raise ConfigError(f"VIGIA_DB: {db} is a directory, not a DuckDB file")
        if os.path.abspath(db) == os.path.abspath(analyst) or (
            analyst.exists() and publication._same_file(db, analyst)
        ):
            raise ConfigError(f"VIGIA_ANALYST_DB is the database itself ({db}): it must be another file")
        publication.refuse_foreign_file(analyst, "VIGIA_ANALYST_DB")

    def _check_before_writing(self) -> None:
        path = self.path
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = None
        except OSError as exc:
            raise os_error(exc, f"cannot read {path}") from exc
        if not size:
            sources = publication.restore_sources(self.settings)
            if sources:
                state = "is empty" if size == 0 else "is missing"
                raise StoreError(
                    f"{path} {state}, but {sources[0]} holds its last published copy: restore it with "
                    "python -m pipeline restore (or move the snapshots and the analyst copy aside to "
                    "start an empty database)"
                )
            return
        try:
            publication.check_header(path)
        except CorruptDatabase as exc:
            raise CorruptDatabase(
                f"{path} is damaged ({exc}): nothing was written. To recover, {RESTORE_HINT}"
            ) from exc
        except OSError as exc:
            raise os_error(exc, f"cannot read {path}") from exc

    def check_sound(self) -> None:
        """Every block's checksum (a fraction of a second a GB from the page cache): a cycle checks
        the database this way before it downloads anything, and stops if it is damaged. Call with the
        writer lock held (a block being written is not a damaged one)."""
        try:
            if not self.path.stat().st_size:
                return  # a new database, or one lost: opening it says which
        except FileNotFoundError:
            return
        except OSError as exc:
            raise os_error(exc, f"cannot read {self.path}") from exc
        try:
            publication.scan_blocks(self.path)
        except CorruptDatabase as exc:
            raise CorruptDatabase(
                f"{self.path} is damaged ({exc}): the cycle stopped before downloading anything. "
                f"To recover, {RESTORE_HINT}"
            ) from exc
        except OSError as exc:
            raise os_error(exc, f"cannot read {self.path}") from exc

    # ---------------------------------------------------------------- the analysts' side

    @property
    def analyst_file(self) -> Path:
        return self.settings.analyst_db

    def analyst_connection(self) -> duckdb.DuckDBPyConnection:
        """The analyst copy, read-only: the same configuration errors as for a cycle first."""
        self.check_paths()
        path = self.settings.analyst_db
        if not path.exists():
            raise StoreError(f"no analyst copy at {path}: {NO_DATA_HINT}")
        if not publication.is_duckdb_file(path):  # as a cycle, which refuses to overwrite it
            raise ConfigError(
                f"VIGIA_ANALYST_DB: {path} is not a DuckDB database (if it was the analyst copy, it is "
                "damaged beyond its header: move it aside and run python -m pipeline init)"
            )
        try:
            return connect(path, read_only=True, threads=self.settings.db_threads)
        except duckdb.Error as exc:
            raise storage_error(exc, path, "cannot open the analyst copy", REPUBLISH) from exc

    def restore_sources(self) -> list[Path]:
        return publication.restore_sources(self.settings)

    def restore(self, source: Path | None = None) -> publication.Restored:
        with self.write_lock():
            restored = publication.restore(self.settings, source)
            self.publish()
        return restored


def _connect(path: Path, read_only: bool, timeout: float, threads: int) -> duckdb.DuckDBPyConnection:
    try:
        return retry(lambda: connect(path, read_only, threads), (duckdb.IOException,), timeout, path)
    except duckdb.Error as exc:
        raise storage_error(exc, path, "cannot open") from exc


def _close(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # a database invalidated by a fatal error
        con.close()
