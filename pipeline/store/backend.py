"""What the pipeline asks of its storage, the same whichever backend holds the data.

    open(read_only=...)   a connection with every migration applied; writers hold the writer lock
    write_lock()          the right to write (re-entrant within a thread: a cycle holds it from plan
                          to publication while what it calls takes it again)
    cycle_lock()          held by a whole cycle: a second one stops before downloading anything
    writing()             a write connection for a command outside a cycle; published on success
    publish()             what analysts read made current (the DuckDB file: its verified analyst
                          copy; the lake: nothing, analysts read it in place)
    analyst_connection()  a read-only connection to what analysts read
    restore()             a damaged database replaced by its last good copy

``Backend`` holds the logic both share; ``DuckDBFile`` (store/duckdb_file.py) and ``DuckLake``
(store/lake.py) supply the primitives: how to lock, connect and migrate, and what publishing means.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import duckdb

from pipeline.settings import Settings
from pipeline.store.locks import reentrant

if TYPE_CHECKING:
    from pipeline.store.publication import Restored


class Backend(ABC):
    name: ClassVar[str]
    # Written by workers on several machines at once (their writers queue for one lock, and readers
    # never wait): a load builds its model before it queues, not while it holds the lock.
    shared: ClassVar[bool] = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # ---------------------------------------------------------------- what each backend supplies

    @abstractmethod
    def lock_key(self, kind: str) -> str:
        """This process's name for the ``kind`` ("write", "cycle") lock of this store."""

    @abstractmethod
    def acquire_writer(self, timeout: float) -> contextlib.AbstractContextManager[None]:
        """Take the writer lock (not re-entrant: ``write_lock`` makes it so)."""

    @abstractmethod
    def acquire_cycle(self) -> contextlib.AbstractContextManager[None]:
        """Take the cycle lock at once, or raise DatabaseBusy."""

    @abstractmethod
    def connection(
        self, read_only: bool, timeout: float, check_blocks: bool
    ) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A connection (a writer's migrated), the writer lock already held by a writer."""

    def exists(self) -> bool:
        """Whether there is a database to read yet."""
        return True

    def check_paths(self) -> None:
        """ConfigError for locations that cannot work (checked before any lock is taken)."""
        return None  # nothing, unless the backend says otherwise

    def first_hold(self) -> None:
        """Run when the writer lock is taken (not re-entered): sweep what a killed writer left."""
        return None  # nothing, unless the backend says otherwise

    def after_writes(self, con: duckdb.DuckDBPyConnection) -> None:
        """Run on a command's write connection before it closes (the DuckDB file checkpoints)."""
        return None  # nothing, unless the backend says otherwise

    def publish(self) -> None:
        """Make what was written what analysts read. Writer lock held, no connection open."""
        return None  # nothing, unless the backend says otherwise

    def refresh_analyst_copy(self) -> None:
        """Publish, taking the writer lock, what connections already closed wrote (a backfill's chunks)."""
        return None  # nothing, unless the backend says otherwise

    @abstractmethod
    def analyst_connection(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to what analysts read (not yet locked down: see publish/session.py)."""

    def analyst_directories(self) -> list[str]:
        """Directories an analyst session must read besides its exports (the lake's Parquet files)."""
        return []

    @property
    def analyst_file(self) -> Path | None:
        """The file analysts open (the official DuckDB shell needs one), if there is one."""
        return None

    def restore_sources(self) -> list[Path]:
        """What a restore can start from, best first."""
        raise NotImplementedError

    def restore(self, source: Path | None = None) -> Restored:
        """Put ``source`` (default: the newest good copy) in place of the database, and publish it."""
        raise NotImplementedError

    # ---------------------------------------------------------------- the same for every backend

    @property
    def lock_timeout(self) -> float:
        return self.settings.db_lock_timeout

    @contextlib.contextmanager
    def write_lock(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the right to write (re-entrant within a thread). The outermost hold first sweeps
        what a killed run left."""
        wait = self.lock_timeout if timeout is None else timeout
        self.check_paths()
        with reentrant(self.lock_key("write"), lambda: self.acquire_writer(wait)) as outermost:
            if outermost:
                self.first_hold()
            yield

    @contextlib.contextmanager
    def cycle_lock(self) -> Iterator[None]:
        """Held by a whole cycle: a second cycle raises DatabaseBusy at once, before it downloads
        anything. The writer lock is taken too (waiting for a short writer such as ``label``) and
        kept until the cycle ends, so ``retrain``, ``label`` and the others wait for the whole cycle."""
        self.check_paths()
        with reentrant(self.lock_key("cycle"), self.acquire_cycle), self.write_lock():
            yield

    @contextlib.contextmanager
    def open(
        self,
        read_only: bool = False,
        lock_timeout: float | None = None,
        take_lock: bool = True,
        check_blocks: bool = False,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with every migration applied. Writers hold the writer lock for as long as it
        is open (``take_lock=False`` when the caller holds it already); readers take no lock. With
        ``check_blocks`` (a cycle's first open) a writer checks the whole file first."""
        timeout = self.lock_timeout if lock_timeout is None else lock_timeout
        lock = self.write_lock(timeout) if take_lock and not read_only else contextlib.nullcontext()
        with lock, self.connection(read_only, timeout, check_blocks) as con:
            yield con

    @contextlib.contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write connection for commands outside a cycle (init, retrain, reclassify, labels,
        ``sql --write``): waits for the writer lock like a load does, and on success publishes, so
        analysts see the change at their next connection. An exception publishes nothing."""
        with self.write_lock():
            with self.open(take_lock=False) as con:
                yield con
                self.after_writes(con)
            self.publish()
