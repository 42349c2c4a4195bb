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

Publication costs what the load changed, not the archive's size (a whole copy and read of a
million-article database took 15 s):

* **The spare.** A published copy that nothing links any more (the oldest snapshot when it is
  pruned; the replaced copy when no snapshots are kept) is not deleted: it becomes the spare,
  ``.<analyst copy>.spare``. The next publication takes it, if no process has it open (DuckDB
  holds a lock on every file it opens; this process's own open files are looked at too), and
  writes into it only the blocks whose checksum differs from the database's, plus the headers:
  any base gives the same bytes, a close one fewer writes. Without a usable spare: a whole copy.
* **Verification.** A patched copy has its headers and every block it received checked, and
  DuckDB opens it and counts every table's rows. The whole check (every block, every table read
  back) runs on every whole copy and at least every ``VIGIA_PUBLISH_VERIFY_MINUTES`` (60) anyway:
  the last one's time is the modification time of ``.<analyst copy>.verified``.
  A block whose bytes changed but whose stored checksum did not is taken as unchanged: DuckDB
  writes a block's checksum with the block, and the periodic whole check reads every block.

Every function here is called with the writer lock held (``Backend.write_lock``), no connection
to the database open.
"""

from __future__ import annotations

import errno
import fcntl
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
from pipeline.store.connect import connect
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


def verify(path: Path, threads: int = 0) -> BlockScan:
    """Prove ``path`` readable: every block's checksum, then every table read whole by DuckDB.

    The read catches what checksums cannot (a block that is missing, or a sound block where
    another should be, when DuckDB trips over it) and is DuckDB's own check of every data block.
    """
    scan = scan_blocks(path)
    try:
        con = connect(path, read_only=True, threads=threads)
    except duckdb.Error as exc:
        raise CorruptDatabase(f"DuckDB cannot open it: {first_line(exc)}") from exc
    try:
        free = con.execute("select free_blocks from pragma_database_size()").fetchone()
        if free is not None and scan.empty > free[0]:
            raise CorruptDatabase(f"{scan.empty} blocks are zeroed but only {free[0]} are free")
        # hash(_t) reads every column of every row: nothing can be skipped.
        _read_every_table(con, "count(*), bit_xor(hash(_t))")
    except duckdb.Error as exc:
        raise CorruptDatabase(f"DuckDB cannot read it: {first_line(exc)}") from exc
    finally:
        con.close()
    return scan


# ---------------------------------------------------------------- the analyst copy and snapshots


def _read_every_table(con: duckdb.DuckDBPyConnection, reading: str) -> None:
    """``select <reading> from`` every table of the open database (aliased ``_t``); a table DuckDB
    cannot read is damage, named."""
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
    ).fetchall()
    for schema, table in tables:
        name = f'"{schema.replace(chr(34), chr(34) * 2)}"."{table.replace(chr(34), chr(34) * 2)}"'
        try:
            con.execute(f"select {reading} from {name} as _t").fetchall()
        except duckdb.Error as exc:
            raise CorruptDatabase(f"table {table} cannot be read: {first_line(exc)}") from exc


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


def spare_path(settings: Settings) -> Path:
    """Where the retired published copy waits to be the base of the next publication."""
    return settings.analyst_db.with_name(f".{settings.analyst_db.name}.spare")


def verified_marker(settings: Settings) -> Path:
    """Its modification time: the last whole verification of a published copy."""
    return settings.analyst_db.with_name(f".{settings.analyst_db.name}.verified")


def _open_in_this_process(st: os.stat_result) -> bool:
    """Whether this process holds a file descriptor on that inode (a lock test cannot tell: a
    process's own locks never conflict, and closing any descriptor would drop DuckDB's)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return True  # cannot tell: never write into a file that might be read
    for name in names:
        try:
            other = os.stat(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if (other.st_ino, other.st_dev) == (st.st_ino, st.st_dev):
            return True
    return False


def _take_spare(spare: Path, tmp: Path) -> int | None:
    """The spare renamed to ``tmp`` and opened for writing, locked, when no one else has it open
    (linked only there, no DuckDB lock on it, not open here); else None (the spare is left)."""
    try:
        st = os.stat(spare, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if not os.path.isfile(spare) or os.path.islink(spare) or st.st_nlink != 1 or _open_in_this_process(st):
        return None
    os.chmod(spare, 0o600)
    fd = os.open(spare, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        os.chmod(spare, 0o444)
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return None  # an analyst session still reads it: a whole copy this time
        raise
    os.replace(spare, tmp)
    return fd


def _changed_blocks(src: int, dst: int, size: int, block_size: int) -> list[int]:
    """The blocks of ``src`` (a file of ``size`` bytes) whose stored checksum differs in ``dst``, or
    that ``dst`` lacks; the last, partial block (if any) always."""
    dst_size = os.fstat(dst).st_size
    count = -(-(size - DATA_START) // block_size) if size > DATA_START else 0
    changed = []
    for block in range(count):
        offset = DATA_START + block * block_size
        if offset + block_size > min(size, dst_size) or os.pread(src, 8, offset) != os.pread(dst, 8, offset):
            changed.append(block)
    return changed


def _copy_range(src: int, dst: int, offset: int, length: int) -> None:
    while length > 0:
        done = os.copy_file_range(src, dst, length, offset, offset)
        if done <= 0:
            raise OSError(errno.EIO, f"copy stopped at byte {offset}")
        offset, length = offset + done, length - done


def _patch(db: Path, dst: int) -> list[int]:
    """Make ``dst`` byte-identical to ``db`` writing only the headers and the blocks that differ;
    returns those blocks. CorruptDatabase if the database's own headers are damaged."""
    block_size, _ = check_header(db)
    with open(db, "rb") as fh:
        src = fh.fileno()
        size = os.fstat(src).st_size
        changed = _changed_blocks(src, dst, size, block_size)
        _copy_range(src, dst, 0, min(size, DATA_START))
        run_start = previous = None
        for block in [*changed, None]:
            if block is not None and previous is not None and block == previous + 1:
                previous = block
                continue
            if run_start is not None and previous is not None:
                start = DATA_START + run_start * block_size
                end = min(size, DATA_START + (previous + 1) * block_size)
                _copy_range(src, dst, start, end - start)
            run_start = previous = block
        os.ftruncate(dst, size)
    return changed


def check_blocks(path: Path, blocks: list[int]) -> None:
    """The headers and the checksums of ``blocks`` (CorruptDatabase on the first that fails; an
    all-zero block is a free one given back to the file system)."""
    block_size, _ = check_header(path)
    words = block_size // 8
    with open(path, "rb") as fh:
        for number in blocks:
            start = DATA_START + number * block_size
            data = os.pread(fh.fileno(), block_size, start)
            if len(data) < block_size:
                continue  # a partial tail past the blocks DuckDB counts (check_header judged it)
            chunk = np.frombuffer(data, dtype="<u8").reshape(1, words)
            if chunk[0, 0] != _checksum(chunk[:, 1:])[0] and chunk.any():
                raise CorruptDatabase(
                    f"checksum mismatch in block {number}, bytes {start}-{start + block_size - 1}"
                )


def check_opens(path: Path, threads: int = 0) -> None:
    """DuckDB opens ``path`` and counts every table's rows (its catalog and row groups read)."""
    try:
        con = connect(path, read_only=True, threads=threads)
    except duckdb.Error as exc:
        raise CorruptDatabase(f"DuckDB cannot open it: {first_line(exc)}") from exc
    try:
        _read_every_table(con, "count(*)")
    except duckdb.Error as exc:
        raise CorruptDatabase(f"DuckDB cannot read it: {first_line(exc)}") from exc
    finally:
        con.close()


def _whole_check_due(settings: Settings, now: datetime) -> bool:
    if settings.publish_verify_minutes <= 0:
        return True
    try:
        last = os.stat(verified_marker(settings)).st_mtime
    except OSError:
        return True
    return now.timestamp() - last >= settings.publish_verify_minutes * 60 or last > now.timestamp() + 60


@dataclass(frozen=True, slots=True)
class Published:
    """How the last publication was made (for the benchmark and the log)."""

    patched: bool  # written into the spare (else a whole copy)
    blocks_written: int | None  # the blocks the spare received (None: a whole copy)
    whole_check: bool  # every block and table read back (else the written blocks and a count)


LAST: list[Published] = []  # the last publication of this process, at most one


def publish(settings: Settings, now: datetime | None = None) -> Path:
    """Copy the (closed, checkpointed) database to the analyst copy, verified, atomically.

    An analyst session open on the old copy keeps reading it (its inode lives until closed); a new
    session sees the new one. A database that fails verification raises CorruptDatabase and the
    previous analyst copy stays.
    """
    target = settings.analyst_db
    refuse_foreign_file(target, "VIGIA_ANALYST_DB")
    now = now or datetime.now(UTC)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    whole = _whole_check_due(settings, now)
    fd = None
    written: list[int] | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = _take_spare(spare_path(settings), tmp)
        try:
            if fd is not None:
                written = _patch(settings.db_path, fd)
                os.close(fd)  # the lock goes with it: the file is ours under its temporary name
                fd = None
            else:
                whole = True
                shutil.copyfile(settings.db_path, tmp)  # copy_file_range: reflinks where the filesystem can
            if whole:
                verify(tmp, threads=settings.db_threads)
            else:
                check_blocks(tmp, written or [])
                check_opens(tmp, threads=settings.db_threads)
        except CorruptDatabase as exc:
            raise CorruptDatabase(
                f"{settings.db_path} is damaged ({exc}), so it was not published: {target} is still "
                "the last good copy. To recover: python -m pipeline restore"
            ) from exc
        os.chmod(tmp, 0o444)  # never modified in place: snapshots share its inode
        _fsync(tmp)
        if settings.snapshots > 0:
            _snapshot(tmp, settings, now)
        elif target.exists() and not os.path.islink(target):
            _retire(target, settings)  # it is linked nowhere else: the next publication's base
        os.replace(tmp, target)
        _fsync(target.parent)
        if whole:
            verified_marker(settings).touch()
    except OSError as exc:
        raise StoreError(f"could not publish the analyst copy {target}: {describe_os_error(exc)}") from exc
    finally:
        if fd is not None:
            os.close(fd)
        remove_quietly(tmp)
    prune_snapshots(settings)
    LAST[:] = [Published(written is not None, len(written) if written is not None else None, whole)]
    return target


def _retire(path: Path, settings: Settings) -> None:
    """Keep ``path``'s inode as the spare (under another link, so its name can go)."""
    spare = spare_path(settings)
    link = spare.with_name(spare.name + f".{os.getpid()}.tmp")
    try:
        os.link(path, link)
        os.replace(link, spare)
    except OSError:  # a filesystem without hard links: the next publication copies it whole
        remove_quietly(link)


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
    for i, path in enumerate(old):
        # The newest one pruned, if nothing else links it, is kept as the next publication's base.
        if i == 0 and _last_link(path):
            try:
                os.replace(path, spare_path(settings))
                continue
            except OSError:
                pass
        remove_quietly(path)
    return old


def _last_link(path: Path) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return st.st_nlink == 1 and os.path.isfile(path)


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
        verify(source, threads=settings.db_threads)
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
