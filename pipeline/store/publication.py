"""The analyst copy, its dated snapshots, and putting one back in place of a damaged database.

Analysts read the **analyst copy** (``<db>.analyst.duckdb``), republished after every load. What
is published must be sound, or the last good data would be replaced by a damaged copy, so:

    verify(path)         every block's checksum (DuckDB's own algorithm, so blocks DuckDB has not
                         read yet are covered too), then every column of every table read back by
                         DuckDB; CorruptDatabase on the first failure
    publish(settings)    copy the database → verify the copy → snapshot it → rename it over the
                         analyst copy. A copy that fails verification is never published.
    snapshots(settings)  the last ``VIGIA_SNAPSHOTS`` published copies, newest first
    restore(settings)    a snapshot back in place of the database; the damaged file is kept aside
    sweep(settings)      temporary copies a killed run left (called under the writer lock)

A published file is never modified in place (it is replaced by a rename, and is read-only, mode
0444), so a snapshot is a hard link to the published copy: taking one copies no bytes, and the
disk holds one file per snapshot that differs from the current copy.

Every function here is called with the writer lock held (``Backend.write_lock``), no connection
to the database open. Publication cost grows with the database (one copy, one read); a cheaper
scheme changes these functions only.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np

from pipeline.errors import ConfigError, CorruptDatabase, StoreError
from pipeline.leftovers import remove_quietly
from pipeline.settings import Settings
from pipeline.store.failures import describe_os_error, first_line

log = logging.getLogger(__name__)

# DuckDB's file format (storage version 64+, DuckDB 1.x): a main header and two database headers
# of 4 KiB each, then blocks (256 KiB unless the database says otherwise). Each header and block
# starts with a 64-bit checksum of the rest of it.
HEADER_SIZE = 4096
DATA_START = 3 * HEADER_SIZE
MAGIC = b"DUCK"
CHECKSUM_SEED = 5381
CHECKSUM_FACTOR = np.uint64(0xBF58476D1CE4E5B9)
CHUNK_BYTES = 16 * 1024 * 1024  # blocks are checked this many bytes at a time
STAMP = "%Y%m%dT%H%M%S%fZ"
_STAMP = re.compile(r"^\d{8}T\d{12}Z$")


@dataclass(frozen=True, slots=True)
class BlockScan:
    blocks: int
    empty: int  # all zero: free blocks the filesystem gave back (hole punching)
    block_size: int


# ---------------------------------------------------------------- verification


def is_duckdb_file(path: Path) -> bool:
    """Whether ``path`` starts like a DuckDB database (its magic bytes)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return head[8:12] == MAGIC


def _checksum(words: np.ndarray) -> np.ndarray:
    """DuckDB's checksum of each row of 64-bit words: the XOR of every word times a constant."""
    return np.bitwise_xor.reduce(words * CHECKSUM_FACTOR, axis=-1) ^ np.uint64(CHECKSUM_SEED)


def check_header(path: Path) -> tuple[int, int]:
    """Check the three headers; return the block size and the number of blocks the database uses.

    Blocks past that number belong to no checkpoint (a checkpoint that failed, on a full disk,
    leaves some, partly written): DuckDB ignores them and so does this check. The file can also
    end before it: DuckDB gives free blocks at the end back to the file system after writing the
    header. CorruptDatabase messages here say what is wrong, not which file: callers name it.
    """
    size = path.stat().st_size
    if size < DATA_START:
        raise CorruptDatabase(f"truncated: {size} bytes, less than DuckDB's headers")
    with open(path, "rb") as fh:
        head = fh.read(DATA_START)
    if head[8:12] != MAGIC:
        raise CorruptDatabase("not a DuckDB database file")
    words = np.frombuffer(head, dtype="<u8").reshape(3, HEADER_SIZE // 8)
    bad = [i for i, ok in enumerate(words[:, 0] == _checksum(words[:, 1:])) if not ok]
    if bad:
        raise CorruptDatabase(f"checksum mismatch in file header {bad[0]}")
    # The database header in use is the one of the higher iteration.
    headers = [struct.unpack_from("<QQQQQQ", head, offset + 8) for offset in (HEADER_SIZE, 2 * HEADER_SIZE)]
    _iteration, _meta, _free, block_count, block_size, _vector = max(headers)
    block_size = block_size or 262144
    if block_size < HEADER_SIZE or block_size & (block_size - 1) or block_size > 1 << 30:
        raise CorruptDatabase(f"impossible block size {block_size} in the file header")
    whole, partial = divmod(size - DATA_START, block_size)
    if partial and whole < block_count:
        raise CorruptDatabase(f"truncated: the file ends inside block {whole}")
    return block_size, block_count


def scan_blocks(path: Path) -> BlockScan:
    """Check the headers and the checksum of every block the database uses (CorruptDatabase if one
    fails). An all-zero block is counted apart: a free block whose space the file system took back."""
    block_size, block_count = check_header(path)
    words = block_size // 8
    per_chunk = max(1, CHUNK_BYTES // block_size)
    buffer = np.empty(per_chunk * words, dtype="<u8")
    blocks = empty = 0
    with open(path, "rb") as fh:
        fh.seek(DATA_START)
        while blocks < block_count:
            got = fh.readinto(buffer.view(np.uint8).data)  # fills it unless at the end
            n = min(got // block_size, block_count - blocks)
            if not n:
                break
            chunk = buffer[: n * words].reshape(n, words)
            for i in np.nonzero(chunk[:, 0] != _checksum(chunk[:, 1:]))[0]:
                if chunk[i].any():
                    number = blocks + int(i)
                    start = DATA_START + number * block_size
                    raise CorruptDatabase(
                        f"checksum mismatch in block {number}, bytes {start}-{start + block_size - 1}"
                    )
                empty += 1
            blocks += n
    return BlockScan(blocks, empty, block_size)


def verify(path: Path) -> BlockScan:
    """Prove ``path`` readable: every block's checksum, then every table read whole by DuckDB.

    The read catches what checksums cannot (a block that is missing, or a sound block where
    another should be, when DuckDB trips over it) and is DuckDB's own check of every data block.
    """
    scan = scan_blocks(path)
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise CorruptDatabase(f"DuckDB cannot open it: {first_line(exc)}") from exc
    try:
        free = con.execute("select free_blocks from pragma_database_size()").fetchone()
        if free is not None and scan.empty > free[0]:
            raise CorruptDatabase(f"{scan.empty} blocks are zeroed but only {free[0]} are free")
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()
        for schema, table in tables:
            name = f'"{schema.replace(chr(34), chr(34) * 2)}"."{table.replace(chr(34), chr(34) * 2)}"'
            try:
                # hash(_t) reads every column of every row: nothing can be skipped.
                con.execute(f"select count(*), bit_xor(hash(_t)) from {name} as _t").fetchall()
            except duckdb.Error as exc:
                raise CorruptDatabase(f"table {table} cannot be read: {first_line(exc)}") from exc
    except duckdb.Error as exc:
        raise CorruptDatabase(f"DuckDB cannot read it: {first_line(exc)}") from exc
    finally:
        con.close()
    return scan


# ---------------------------------------------------------------- the analyst copy and snapshots


def refuse_foreign_file(path: Path, setting: str) -> None:
    """ConfigError if ``path`` exists and is not a DuckDB database: never overwrite someone's file."""
    if path.is_dir():
        raise ConfigError(f"{setting}: {path} is a directory, not a DuckDB file")
    if path.exists() and not is_duckdb_file(path):
        raise ConfigError(f"{setting}: {path} exists and is not a DuckDB database; refusing to overwrite it")


def snapshot_dir(settings: Settings) -> Path:
    """Beside the analyst copy (hard links cannot cross filesystems)."""
    return settings.analyst_db.parent / "snapshots"


def snapshots(settings: Settings) -> list[Path]:
    """The dated snapshots of this database, newest first."""
    prefix = settings.db_path.stem + "."
    found = []
    for path in snapshot_dir(settings).glob(f"{prefix}*.duckdb"):
        stamp = path.name[len(prefix) : -len(".duckdb")]
        if _STAMP.match(stamp):
            found.append((stamp, path))
    return [path for _, path in sorted(found, reverse=True)]


def snapshot_time(path: Path) -> datetime:
    return datetime.strptime(path.name.rsplit(".", 2)[-2], STAMP).replace(tzinfo=UTC)


def publish(settings: Settings, now: datetime | None = None) -> Path:
    """Copy the (closed, checkpointed) database to the analyst copy, verified, atomically.

    An analyst session open on the old copy keeps reading it (its inode lives until closed); a new
    session sees the new one. A database that fails verification raises CorruptDatabase and the
    previous analyst copy stays.
    """
    target = settings.analyst_db
    refuse_foreign_file(target, "VIGIA_ANALYST_DB")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(settings.db_path, tmp)  # copy_file_range: reflinks where the filesystem can
        try:
            verify(tmp)
        except CorruptDatabase as exc:
            raise CorruptDatabase(
                f"{settings.db_path} is damaged ({exc}), so it was not published: {target} is still "
                "the last good copy. To recover: python -m pipeline restore"
            ) from exc
        os.chmod(tmp, 0o444)  # never modified in place: snapshots share its inode
        _fsync(tmp)
        if settings.snapshots > 0:
            _snapshot(tmp, settings, now or datetime.now(UTC))
        os.replace(tmp, target)
        _fsync(target.parent)
    except OSError as exc:
        raise StoreError(f"could not publish the analyst copy {target}: {describe_os_error(exc)}") from exc
    finally:
        remove_quietly(tmp)
    prune_snapshots(settings)
    return target


def _snapshot(published: Path, settings: Settings, now: datetime) -> Path:
    directory = snapshot_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{settings.db_path.stem}.{now.astimezone(UTC):{STAMP}}.duckdb"
    try:
        os.link(published, path)
    except FileExistsError:
        return path
    except OSError:  # a filesystem without hard links
        tmp = directory / f".{path.name}.{os.getpid()}.tmp"
        try:
            shutil.copyfile(published, tmp)
            os.chmod(tmp, 0o444)
            _fsync(tmp)
            os.replace(tmp, path)
        finally:
            remove_quietly(tmp)
    return path


def prune_snapshots(settings: Settings) -> list[Path]:
    """Delete snapshots beyond the newest ``VIGIA_SNAPSHOTS``."""
    old = snapshots(settings)[max(settings.snapshots, 0) :]
    for path in old:
        remove_quietly(path)
    return old


# ---------------------------------------------------------------- restore


@dataclass(frozen=True, slots=True)
class Restored:
    source: Path
    as_of: datetime | None
    damaged: Path | None  # where the replaced database was moved (None: there was none)


def restore_sources(settings: Settings) -> list[Path]:
    """What a restore can start from, best first: the snapshots, then the analyst copy if it is
    not one of them (a copy published before snapshots were kept)."""
    found = snapshots(settings)
    analyst = settings.analyst_db
    if analyst.exists() and not any(_same_file(analyst, s) for s in found):
        found.append(analyst)
    return found


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def restore(settings: Settings, source: Path | None = None, now: datetime | None = None) -> Restored:
    """Put ``source`` (default: the newest snapshot) in place of the database, after verifying it.

    The file it replaces, and its write-ahead log, are renamed ``<db>.damaged-<time>`` (never
    deleted). Call with the writer lock held.
    """
    sources = restore_sources(settings)
    if source is None:
        if not sources:
            raise StoreError(
                f"nothing to restore {settings.db_path} from: no snapshot in {snapshot_dir(settings)}"
                f" and no analyst copy at {settings.analyst_db}"
            )
        source = sources[0]
    try:
        verify(source)
    except CorruptDatabase as exc:
        others = ", ".join(str(s) for s in sources if s != source)
        raise CorruptDatabase(
            f"{source} is damaged ({exc}), so nothing was restored"
            + (f"; the others, newest first: {others} (pass one with --from)" if others else "")
        ) from exc
    db = settings.db_path
    stamp = f"{(now or datetime.now(UTC)).astimezone(UTC):{STAMP}}"
    tmp = db.with_name(f".{db.name}.{os.getpid()}.restore.tmp")
    damaged = None
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o644)
        _fsync(tmp)
        wal = db.with_name(db.name + ".wal")
        if db.exists() or wal.exists():
            damaged = db.with_name(f"{db.name}.damaged-{stamp}")
            if db.exists():
                os.replace(db, damaged)
            if wal.exists():
                os.replace(wal, damaged.with_name(damaged.name + ".wal"))
        os.replace(tmp, db)
        _fsync(db.parent)
    except OSError as exc:
        raise StoreError(f"could not restore {db} from {source}: {describe_os_error(exc)}") from exc
    finally:
        remove_quietly(tmp)
    as_of = snapshot_time(source) if source.parent == snapshot_dir(settings) else None
    return Restored(source, as_of, damaged)


# ---------------------------------------------------------------- leftovers


def sweep(settings: Settings) -> list[Path]:
    """Remove temporary copies left by a killed publication or restore (writer lock held: no live
    run can be writing one)."""
    patterns = [
        (settings.analyst_db.parent, f".{settings.analyst_db.name}.*.tmp*"),
        (settings.db_path.parent, f".{settings.db_path.name}.*.restore.tmp*"),
        (snapshot_dir(settings), ".*.tmp*"),
    ]
    removed = []
    for directory, pattern in patterns:
        for path in directory.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)  # DuckDB's spill directory of a copy
            else:
                remove_quietly(path)
            removed.append(path)
    if removed:
        log.info("removed %d temporary copies left by a killed run: %s", len(removed), removed)
    return removed


# ---------------------------------------------------------------- helpers


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
