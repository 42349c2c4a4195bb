"""Errors that mean the database cannot be used, each as one line that says so.

A DuckDB or file-system error met while opening, writing or reading the database becomes

    ConfigError       a path that cannot be one (under a file, a directory ...)         exit 2
    CorruptDatabase   the file is damaged: restore the last good copy                 exit 3
    StoreError        a full, read-only or failing disk; any other storage error      exit 3

(README, "Exit codes"); a bug in a query stays what it is.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

import duckdb

from pipeline.errors import ConfigError, CorruptDatabase, StoreError, VigiaError

# Phrases of DuckDB and OS errors, and what they mean for the operator (README, Exit codes).
_DAMAGE = re.compile(
    r"Corrupt database file|checksum|not a valid DuckDB database|Serialization Error|"
    r"Could not read enough bytes|Failure while replaying WAL|Invalid WAL",
    re.I,
)
_FULL = re.compile(r"No space left|File too large|Disk quota|could not write", re.I)
_STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM}
)
_PATH_ERRNOS = frozenset({errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP})
RESTORE_HINT = (
    "restore the last good copy: python -m pipeline restore (README, 'When the database will not open')"
)
# What reading the analyst copy says when it cannot (the copy is replaced, never repaired).
REPUBLISH = "the next cycle (or python -m pipeline init) publishes a new analyst copy"
NO_DATA_HINT = (
    "`make demo` builds an offline demo database (then `make sql DB=demo`); "
    "`make once` or `make run` collect the configured feeds"
)

# Raised by DuckDB when a file cannot be read or written, or after such an error invalidated the
# database; an internal error on a damaged file is one too (a bug in a query is not).
_STORAGE_EXCEPTIONS = (
    duckdb.IOException,
    duckdb.FatalException,
    duckdb.InternalException,
    duckdb.SerializationException,
)


def storage_error(
    exc: BaseException,
    path: Path | None,
    doing: str = "error in",
    recovery: str = f"the analyst copy was left as it was. To recover, {RESTORE_HINT}",
) -> VigiaError:
    """``exc`` (a DuckDB or OS error) as one clear line: CorruptDatabase, StoreError or ConfigError.
    ``recovery`` ends the message of a damaged file."""
    if isinstance(exc, VigiaError):
        return exc
    if isinstance(exc, OSError):
        return os_error(exc, f"{doing} {path}" if path else doing or "file error")
    text = str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # A fatal error's first line says "invalidated"; the cause is on a later line.
    detail = next((line for line in lines if _DAMAGE.search(line) or _FULL.search(line)), None)
    detail = (detail or (lines[0] if lines else type(exc).__name__)).removeprefix("Original Error: ")
    where = f"{doing} {path}: " if path else ""
    if _FULL.search(text) and not _DAMAGE.search(detail):
        return StoreError(f"{where}{detail} (the disk is full or the file too large: free space, then rerun)")
    if _DAMAGE.search(text):
        return CorruptDatabase(f"{where}{detail}; {recovery}")
    return StoreError(f"{where}{detail}")


def os_error(exc: OSError, doing: str) -> VigiaError:
    """A file-system error: a path that cannot be one (under a file, a directory) is a configuration
    error (exit 2); a full, read-only or failing disk makes the database unusable (exit 3)."""
    message = f"{doing}: {describe_os_error(exc)}"
    if exc.errno in _PATH_ERRNOS:
        return ConfigError(f"{message} (check VIGIA_DB and VIGIA_ANALYST_DB)")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return StoreError(f"{message} (free space, then rerun: nothing half-written is kept)")
    return StoreError(message)


def is_storage_error(exc: BaseException) -> bool:
    """A DuckDB storage error or an OS error about the disk, as opposed to a bug."""
    if isinstance(exc, OSError):
        return exc.errno in _STORAGE_ERRNOS or exc.errno in _PATH_ERRNOS
    if isinstance(exc, duckdb.Error):
        if isinstance(exc, _STORAGE_EXCEPTIONS):
            return True
        return bool(_DAMAGE.search(str(exc)) or _FULL.search(str(exc)))
    return False


def describe_os_error(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
