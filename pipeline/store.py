"""DuckDB: opening with locks and migrations, the one-transaction load, the analyst copy.

DuckDB lets one process write a database file and, meanwhile, keeps every other process out,
readers included. So:

* every writer first takes ``<db>.lock`` (an advisory file lock), waiting with back-off up to
  ``db_lock_timeout`` and then failing with DatabaseBusy, never corrupting anything;
* a cycle is loaded in one transaction: a crash (even ``kill -9``) leaves only committed cycles;
* after each load the database is copied, verified and atomically renamed to the **analyst
  copy** (``<db>.analyst.duckdb``, see pipeline.publication), which analysts open read-only for
  as long as they like: the loader never waits for them, and they never see a half-loaded cycle;
* a cycle (``python -m pipeline run``) also holds ``<db>.cycle.lock`` from start to end: a second
  cycle stops at once (DatabaseBusy) instead of downloading everything again, and holds the
  writer lock throughout, so other writers wait for the whole cycle;
* a DuckDB or file-system error that means the database cannot be used (damaged, disk full,
  read-only) becomes a StoreError with one line saying so; the CLI exits 3 with it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline import leftovers, publication
from pipeline.cycle import KnownArticle
from pipeline.errors import ConfigError, CorruptDatabase, DatabaseBusy, StoreError, VigiaError
from pipeline.records import Feed, FeedState
from pipeline.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

SQL_DIR = REPO_ROOT / "sql"
# DuckDB's message when another process holds the file ("Could not set lock on file ...:
# Conflicting lock is held in ..."). Not just "lock": "block" is in every checksum error.
_LOCK_MESSAGE = re.compile(r"Could not set lock|Conflicting lock|being used", re.I)


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float, wait: bool = True, what: str = "database") -> Iterator[None]:
    """An exclusive ``flock`` on ``path``: waited for up to ``timeout`` (or not at all).

    The holder writes its process id and start time into the file, for the message of those
    who find it taken. The kernel releases the lock when the holder dies, even by ``kill -9``.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise os_error(exc, f"cannot create the lock file {path}") from exc
    try:
        try:
            _wait(
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


def _wait(
    attempt,
    retry_on: tuple[type[BaseException], ...],
    timeout: float,
    what: Path,
    holder=lambda: "",
    kind: str = "database",
):
    """Call ``attempt`` until it stops raising ``retry_on``, backing off from 50 ms to 5 s."""
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
                    f" ({publication.first_line(exc)}). Analysts should open the analyst copy instead;"
                    " see docs/analysts.md, 'Connecting while ingestion runs'."
                ) from exc
            log.info("%s is locked; retrying in %.2f s", what, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _connect(path: Path, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    try:
        return _wait(
            lambda: duckdb.connect(str(path), read_only=read_only), (duckdb.IOException,), timeout, path
        )
    except duckdb.Error as exc:
        raise storage_error(exc, path, "cannot open") from exc


# ---------------------------------------------------------------- errors: "the database cannot be used"

# Phrases of DuckDB and OS errors, and what they mean for the operator (docs/operations.md, Exit codes).
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
    "restore the last good copy: python -m pipeline restore"
    " (docs/operations.md, 'When the database will not open')"
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
    message = f"{doing}: {publication.describe_os_error(exc)}"
    if exc.errno in _PATH_ERRNOS:
        return ConfigError(f"{message} (check VIGIA_DB and VIGIA_ANALYST_DB)")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return StoreError(f"{message} (free space, then rerun: nothing half-written is kept)")
    return StoreError(message)


# Raised by DuckDB when a file cannot be read or written, or after such an error invalidated the
# database; an internal error on a damaged file is one too (a bug in a query is not).
_STORAGE_EXCEPTIONS = (
    duckdb.IOException,
    duckdb.FatalException,
    duckdb.InternalException,
    duckdb.SerializationException,
)


def is_storage_error(exc: BaseException) -> bool:
    """A DuckDB storage error or an OS error about the disk, as opposed to a bug."""
    if isinstance(exc, OSError):
        return exc.errno in _STORAGE_ERRNOS or exc.errno in _PATH_ERRNOS
    if isinstance(exc, duckdb.Error):
        if isinstance(exc, _STORAGE_EXCEPTIONS):
            return True
        return bool(_DAMAGE.search(str(exc)) or _FULL.search(str(exc)))
    return False


def _settings(db: Path | str | Settings) -> Settings:
    return db if isinstance(db, Settings) else Settings.from_env(db_path=Path(db))


# Locks this process holds: (lock, thread) → depth. A writer lock is re-entrant within one thread,
# so a cycle holds it from plan to publication while the functions it calls take it again.
_HELD: dict[tuple[str, int], int] = {}
_HELD_GUARD = threading.Lock()


def _lock_key(settings: Settings, kind: str) -> str:
    if settings.store == "ducklake":
        return f"{kind}:lake:{settings.lake_catalog}"
    return f"{kind}:{os.path.abspath(settings.db_path)}"


@contextlib.contextmanager
def _reentrant(key: str, acquire) -> Iterator[bool]:
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


@contextlib.contextmanager
def write_lock(db: Path | str | Settings, lock_timeout: float | None = None) -> Iterator[None]:
    """Hold ``<db>.lock``: the right to write the database and to replace its analyst copy.

    On the lake (``store = "ducklake"``) it is the lake's writer lock instead (see pipeline.lake).
    Re-entrant within a thread. The outermost hold first checks the paths and sweeps what a
    killed run left (temporary copies, model files).
    """
    settings = _settings(db)
    timeout = settings.db_lock_timeout if lock_timeout is None else lock_timeout
    if settings.store == "ducklake":
        from pipeline import lake

        with _reentrant(_lock_key(settings, "write"), lambda: lake.writer_lock(settings, timeout)):
            yield
        return
    check_paths(settings)
    acquire = lambda: _file_lock(lock_path(settings.db_path), timeout)  # noqa: E731
    with _reentrant(_lock_key(settings, "write"), acquire) as outermost:
        if outermost:
            publication.sweep(settings)
            leftovers.sweep_model_files()
        yield


@contextlib.contextmanager
def cycle_lock(settings: Settings) -> Iterator[None]:
    """Held by a whole cycle: a second cycle raises DatabaseBusy at once, before it downloads
    anything. The writer lock is taken too (waiting for a short writer such as ``label``) and kept
    until the cycle ends, so ``retrain``, ``label`` and the others wait for the whole cycle."""
    if settings.store == "ducklake":
        from pipeline import lake

        acquire = lambda: lake.cycle_lock(settings)  # noqa: E731
    else:
        check_paths(settings)
        path = settings.db_path.with_name(settings.db_path.name + ".cycle.lock")
        acquire = lambda: _file_lock(path, 0.0, wait=False, what="cycle")  # noqa: E731
    with _reentrant(_lock_key(settings, "cycle"), acquire), write_lock(settings):
        yield


@contextlib.contextmanager
def writing(db: Path | str | Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A write connection for commands outside a cycle (init, retrain, reclassify, labels, ``sql --write``).

    Waits for the writer lock like a load does; on success the file is checkpointed and the analyst
    copy republished (verified first), so analysts see the change at their next connection. An
    exception rolls back nothing already committed by the caller and publishes nothing.
    """
    settings = _settings(db)
    with write_lock(settings):
        with open_db(settings, take_lock=False) as con:
            yield con
            if settings.store == "duckdb":
                con.execute("checkpoint")
        if settings.store == "duckdb":
            publish_analyst_copy(settings)


@contextlib.contextmanager
def open_db(
    db: Path | str | Settings,
    read_only: bool = False,
    lock_timeout: float | None = None,
    take_lock: bool = True,
    check_blocks: bool = False,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the database with every migration applied.

    Writers hold ``<db>.lock`` for as long as the connection is open (``take_lock=False`` when
    the caller already holds it through ``write_lock``); readers do not take it.
    A read-only open of a database that does not exist yet raises StoreError. A writer first
    checks the file's headers (CorruptDatabase: nothing is written into a damaged file), and
    refuses to start an empty database where published copies of a lost one exist; with
    ``check_blocks`` (a cycle's first open) it checks every block's checksum too.
    """
    settings = _settings(db)
    path = settings.db_path
    timeout = settings.db_lock_timeout if lock_timeout is None else lock_timeout
    if settings.store == "ducklake":
        from pipeline import lake

        # The lock through write_lock, re-entrant: a cycle holds it from plan to load.
        lock = write_lock(settings, timeout) if take_lock and not read_only else contextlib.nullcontext()
        with lock, lake.open_lake(settings, read_only, timeout, take_lock=False) as con:
            yield con
        return
    if read_only:
        if not path.exists():
            raise StoreError(f"database {path} does not exist yet: run a cycle first")
        con = _connect(path, True, timeout)
        try:
            yield con
        except Exception as exc:
            if is_storage_error(exc):
                raise storage_error(exc, path) from exc
            raise
        finally:
            _close(con)
        return
    with write_lock(settings, timeout) if take_lock else contextlib.nullcontext():
        _check_before_writing(settings)
        if check_blocks:
            check_sound(settings)
        con = _connect(path, False, timeout)
        try:
            migrate(con, settings.sql_dir)
            yield con
        except Exception as exc:
            if is_storage_error(exc):
                raise storage_error(exc, path) from exc
            raise
        finally:
            _close(con)


def _close(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # a database invalidated by a fatal error
        con.close()


def check_paths(settings: Settings) -> None:
    """ConfigError for database paths that cannot work: under a regular file, a directory, the
    analyst copy on the database itself, or an analyst copy that would overwrite a foreign file."""
    if settings.store != "duckdb":
        return
    db, analyst = settings.db_path, settings.analyst_db
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


def _check_before_writing(settings: Settings) -> None:
    path = settings.db_path
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = None
    except OSError as exc:
        raise os_error(exc, f"cannot read {path}") from exc
    if not size:
        sources = publication.restore_sources(settings)
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


def check_sound(settings: Settings) -> None:
    """Every block's checksum (a fraction of a second a GB from the page cache): a cycle checks
    the database this way before it downloads anything, and stops if it is damaged. Call with the
    writer lock held (a block being written is not a damaged one)."""
    try:
        if settings.store != "duckdb" or not settings.db_path.stat().st_size:
            return  # a new database, or one lost: opening it says which
    except FileNotFoundError:
        return
    except OSError as exc:
        raise os_error(exc, f"cannot read {settings.db_path}") from exc
    try:
        publication.scan_blocks(settings.db_path)
    except CorruptDatabase as exc:
        raise CorruptDatabase(
            f"{settings.db_path} is damaged ({exc}): the cycle stopped before downloading anything. "
            f"To recover, {RESTORE_HINT}"
        ) from exc
    except OSError as exc:
        raise os_error(exc, f"cannot read {settings.db_path}") from exc


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """What the block writes is committed together at its end, or rolled back on any exception."""
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def migration_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    """The numbered migrations, in the order they apply."""
    return sorted((sql_dir / "migrations").glob("[0-9][0-9][0-9]_*.sql"))


def apply_migration(
    con: duckdb.DuckDBPyConnection, path: Path, statements: Sequence[str], where: str = ""
) -> None:
    """Run one migration's statements and record it, in one transaction (StoreError if it fails)."""
    try:
        with transaction(con):
            for statement in statements:
                con.execute(statement)
            con.execute(
                "insert into schema_migrations values (?, ?, ?)",
                [int(path.name[:3]), path.stem, datetime.now(UTC)],
            )
    except duckdb.Error as exc:
        raise StoreError(f"migration {path.name} failed{where}: {exc}") from exc


def migrate(con: duckdb.DuckDBPyConnection, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply numbered migrations not applied yet, then (re)create the views. Returns what was applied."""
    con.execute(
        "create table if not exists schema_migrations ("
        " version integer primary key, name varchar not null, applied_at timestamptz not null)"
    )
    done = {row[0] for row in con.execute("select version from schema_migrations").fetchall()}
    applied = []
    for path in migration_files(sql_dir):
        if int(path.name[:3]) not in done:
            apply_migration(con, path, [path.read_text(encoding="utf-8")])
            applied.append(path.name)
    create_views(con, sql_dir)
    return applied


def create_views(con: duckdb.DuckDBPyConnection, sql_dir: Path = SQL_DIR) -> None:
    """Create every ``sql/views/<name>.sql`` as view ``<name>``, in whatever order their dependencies need."""
    pending = {p.stem: p.read_text(encoding="utf-8") for p in sorted((sql_dir / "views").glob("*.sql"))}
    while pending:
        failed: dict[str, str] = {}
        errors = {}
        for name, query in pending.items():
            try:
                con.execute(f"create or replace view {name} as\n{_strip_semicolon(query)}")
            except duckdb.CatalogException as exc:  # depends on a view not created yet
                failed[name] = query
                errors[name] = exc
        if len(failed) == len(pending):
            raise StoreError(f"views could not be created: {errors}")
        pending = failed


def _strip_semicolon(query: str) -> str:
    return query.strip().rstrip(";")


# ---------------------------------------------------------------- reads used by a cycle


def read_feed_states(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[FeedState, str]]:
    rows = con.execute(
        "select name, url, etag, last_modified, consecutive_failures, next_fetch_at, last_full_fetch_at,"
        " gone_at is not null, configured_url from feeds"
    ).fetchall()
    return {
        r[0]: (
            FeedState(
                name=r[0],
                url=r[1],
                etag=r[2],
                last_modified=r[3],
                consecutive_failures=r[4],
                next_fetch_at=r[5],
                last_full_fetch_at=r[6],
                gone=r[7],
            ),
            r[8],
        )
        for r in rows
    }


def lookup_known(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> dict[str, KnownArticle]:
    """What is stored of these articles: lets a cycle skip known items before downloading them."""
    if not article_ids:
        return {}
    ids = pa.table({"article_id": pa.array(list(article_ids), pa.string())})
    con.register("_lookup_ids", ids)
    try:
        rows = con.execute(
            "select a.article_id, a.entry_hash, a.extraction_status, a.extraction_attempts"
            " from articles a join _lookup_ids using (article_id)"
        ).fetchall()
    finally:
        con.unregister("_lookup_ids")
    return {r[0]: KnownArticle(r[1], r[2], r[3]) for r in rows}


def known_lookup(settings: Settings):
    """A lookup that opens the database read-only just for the question (None-safe on a new database)."""

    def lookup(article_ids: Sequence[str]) -> dict[str, KnownArticle]:
        if settings.store == "duckdb" and not settings.db_path.exists():
            return {}
        with open_db(settings, read_only=True) as con:
            return lookup_known(con, article_ids)

    return lookup


# ---------------------------------------------------------------- the analyst copy


def publish_analyst_copy(settings: Settings) -> Path:
    """Verify the (closed, checkpointed) database and publish it as the analyst copy (see
    pipeline.publication). Call with the writer lock held and no connection open."""
    return publication.publish(settings)


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    feeds_ok: int
    feeds_failed: int
    feeds_deferred: int
    items_seen: int
    new_articles: int
    updated_articles: int
    relevant: int
    model_version: str | None  # None: nothing to classify, so no model was built
    retried_articles: int = 0  # pages asked again after a failure or a deferral
    waiting_entries: int = 0  # in the backlog after this load, waiting for later cycles (pipeline.backlog)
    revisions_held: int = 0  # outlets' changes over the daily revision limit, stored later

    def line(self) -> str:
        held = f", {self.revisions_held} revisions held" if self.revisions_held else ""
        return (
            f"vigia run {self.run_id}: feeds {self.feeds_ok} ok, {self.feeds_failed} failed, "
            f"{self.feeds_deferred} deferred; items {self.items_seen} seen; "
            f"articles {self.new_articles} new, {self.updated_articles} revised, "
            f"{self.retried_articles} retried{held}; "
            f"{self.waiting_entries} waiting for later cycles; "
            f"{self.relevant} relevant (model {self.model_version or 'not needed'})"
        )


def upsert_feeds(con: duckdb.DuckDBPyConnection, feeds: Sequence[Feed], now: datetime) -> None:
    """Make the feeds table list exactly the configured feeds (removed ones stay, disabled)."""
    cfg = pa.table(
        {
            "name": [f.name for f in feeds],
            "url": [f.url for f in feeds],
            "language": pa.array([f.language for f in feeds], pa.string()),
            "enabled": [f.enabled for f in feeds],
        }
    )
    con.register("_cfg", cfg)
    try:
        con.execute(
            """
            insert into feeds (name, url, configured_url, language, enabled, added_at)
            select c.name, c.url, c.url, c.language, c.enabled, ? from _cfg c
            where not exists (select 1 from feeds f where f.name = c.name)
            """,
            [now],
        )
        # A URL edited in feeds.toml resets what was learnt about the old one.
        con.execute(
            """
            update feeds set url = c.url, configured_url = c.url, etag = null, last_modified = null,
                   consecutive_failures = 0, next_fetch_at = null, gone_at = null, last_full_fetch_at = null
            from _cfg c where feeds.name = c.name and feeds.configured_url <> c.url
            """
        )
        con.execute(
            """
            update feeds set language = c.language, enabled = c.enabled from _cfg c
            where feeds.name = c.name
              and (feeds.language is distinct from c.language or feeds.enabled <> c.enabled)
            """
        )
        con.execute("update feeds set enabled = false where enabled and name not in (select name from _cfg)")
    finally:
        con.unregister("_cfg")
