"""Locks between processes (a file's ``flock``) and within one (re-entrant holds), with bounded waits.

* ``file_lock``: an exclusive ``flock`` on a lock file beside the database, waited for with back-off
  up to a timeout and then DatabaseBusy, never corrupting anything. The holder writes its process
  id into the file, for the message of those who find it taken; the kernel releases the lock when
  the holder dies, even by ``kill -9``.
* ``reentrant``: a lock this thread already holds is not taken again, so a cycle holds the writer
  lock from plan to publication while the functions it calls take it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb

from pipeline.errors import DatabaseBusy
from pipeline.store.failures import first_line, os_error

log = logging.getLogger(__name__)

# DuckDB's message when another process holds the file ("Could not set lock on file ...:
# Conflicting lock is held in ..."). Not just "lock": "block" is in every checksum error.
_LOCK_MESSAGE = re.compile(r"Could not set lock|Conflicting lock|being used", re.I)


def lock_path(db_path: Path) -> Path:
    """The writer lock's file: ``<db>.lock``."""
    return db_path.with_name(db_path.name + ".lock")


def cycle_lock_path(db_path: Path) -> Path:
    """The lock file a whole cycle holds: ``<db>.cycle.lock``."""
    return db_path.with_name(db_path.name + ".cycle.lock")


@contextlib.contextmanager
def file_lock(path: Path, timeout: float, wait: bool = True, what: str = "database") -> Iterator[None]:
    """An exclusive ``flock`` on ``path``: waited for up to ``timeout`` (or not at all)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise os_error(exc, f"cannot create the lock file {path}") from exc
    try:
        try:
            retry(
                lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB),
                (BlockingIOError,),
                timeout if wait else 0.0,
                path,
                lambda: _holder(fd),
                what,
            )
        except OSError as exc:
            raise os_error(exc, f"cannot lock {path}") from exc
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        if text:
            return f" (held by {text})"
    return ""


def retry(
    attempt: Callable[[], Any],
    retry_on: tuple[type[BaseException], ...],
    timeout: float,
    what: Path,
    holder: Callable[[], str] = lambda: "",
    kind: str = "database",
) -> Any:
    """Call ``attempt`` until it stops raising ``retry_on``, backing off from 50 ms to 5 s; then
    DatabaseBusy. A DuckDB error is retried only when it says the file is locked."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return attempt()
        except retry_on as exc:
            if isinstance(exc, duckdb.Error) and not _LOCK_MESSAGE.search(str(exc)):
                raise
            if time.monotonic() >= deadline:
                if kind == "cycle":
                    raise DatabaseBusy(
                        f"another cycle is running on this database{holder()}: this one stops before "
                        "downloading anything (the running cycle fetches the same feeds)"
                    ) from exc
                raise DatabaseBusy(
                    f"{what} stayed locked by another process for {timeout:g} s{holder()}"
                    f" ({first_line(exc)}). Analysts should open the analyst copy instead;"
                    " see README, 'Connecting while ingestion runs'."
                ) from exc
            log.info("%s is locked; retrying in %.2f s", what, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


# Locks this process holds: (lock, thread) → depth.
_HELD: dict[tuple[str, int], int] = {}
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def reentrant(key: str, acquire: Callable[[], contextlib.AbstractContextManager[Any]]) -> Iterator[bool]:
    """Run ``acquire`` (a context manager) unless this thread already holds ``key``; yields whether
    this is the outermost hold."""
    slot = (key, threading.get_ident())
    with _HELD_GUARD:
        depth = _HELD.get(slot, 0)
        if depth:
            _HELD[slot] = depth + 1
    if depth:
        try:
            yield False
        finally:
            with _HELD_GUARD:
                _HELD[slot] -= 1
        return
    with acquire():
        with _HELD_GUARD:
            _HELD[slot] = 1
        try:
            yield True
        finally:
            with _HELD_GUARD:
                del _HELD[slot]
