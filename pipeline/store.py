"""DuckDB: opening with locks and migrations, the one-transaction load, the analyst copy.

DuckDB lets one process write a database file and, meanwhile, keeps every other process out,
readers included. So:

* every writer first takes ``<db>.lock`` (an advisory file lock), waiting with back-off up to
  ``db_lock_timeout`` and then failing with DatabaseBusy, never corrupting anything;
* a cycle is loaded in one transaction: a crash (even ``kill -9``) leaves only committed cycles;
* after each load the database is copied and atomically renamed to the **analyst copy**
  (``<db>.analyst.duckdb``), which analysts open read-only for as long as they like: the
  loader never waits for them, and they never see a half-loaded cycle.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.cycle import KnownArticle
from pipeline.errors import DatabaseBusy, StoreError
from pipeline.records import Feed, FeedState
from pipeline.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

SQL_DIR = REPO_ROOT / "sql"
_LOCK_MESSAGE = re.compile(r"lock|Conflicting|being used", re.I)


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _wait(lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB), (BlockingIOError,), timeout, path)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _wait(attempt, retry_on: tuple[type[BaseException], ...], timeout: float, what: Path):
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
                raise DatabaseBusy(
                    f"{what} stayed locked by another process for {timeout:g} s ({exc}). "
                    "Analysts should open the analyst copy instead; "
                    "see README, 'Connecting while ingestion runs'."
                ) from exc
            log.info("%s is locked; retrying in %.2f s", what, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _connect(path: Path, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    return _wait(lambda: duckdb.connect(str(path), read_only=read_only), (duckdb.IOException,), timeout, path)


def _settings(db: Path | str | Settings) -> Settings:
    return db if isinstance(db, Settings) else Settings.from_env(db_path=Path(db))


@contextlib.contextmanager
def write_lock(db: Path | str | Settings, lock_timeout: float | None = None) -> Iterator[None]:
    """Hold ``<db>.lock``: the right to write the database and to replace its analyst copy.

    On the lake (``store = "ducklake"``) it is the lake's writer lock instead (see pipeline.lake).
    """
    settings = _settings(db)
    timeout = settings.db_lock_timeout if lock_timeout is None else lock_timeout
    if settings.store == "ducklake":
        from pipeline import lake

        with lake.writer_lock(settings, timeout):
            yield
        return
    with _file_lock(lock_path(settings.db_path), timeout):
        yield


@contextlib.contextmanager
def writing(db: Path | str | Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A write connection for commands outside a cycle (init, retrain, reclassify, labels, ``sql --write``).

    Waits for the writer lock like a load does; on success the file is checkpointed and the analyst
    copy republished, so analysts see the change at their next connection. An exception rolls back
    nothing already committed by the caller and publishes nothing.
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
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the database with every migration applied.

    Writers hold ``<db>.lock`` for as long as the connection is open (``take_lock=False`` when
    the caller already holds it through ``write_lock``); readers do not take it.
    A read-only open of a database that does not exist yet raises StoreError.
    """
    settings = _settings(db)
    path = settings.db_path
    timeout = settings.db_lock_timeout if lock_timeout is None else lock_timeout
    if settings.store == "ducklake":
        from pipeline import lake

        with lake.open_lake(settings, read_only, timeout, take_lock) as con:
            yield con
        return
    if read_only:
        if not path.exists():
            raise StoreError(f"database {path} does not exist yet: run a cycle first")
        con = _connect(path, True, timeout)
        try:
            yield con
        finally:
            con.close()
        return
    with write_lock(settings, timeout) if take_lock else contextlib.nullcontext():
        path.parent.mkdir(parents=True, exist_ok=True)
        con = _connect(path, False, timeout)
        try:
            migrate(con, settings.sql_dir)
            yield con
        finally:
            con.close()


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
    """Copy the (closed, checkpointed) database to the analyst copy, atomically.

    Call with the writer lock held and no connection open. An analyst session open on the old
    copy keeps reading the old file (its inode lives until closed); a new session sees the new one.
    """
    target = settings.analyst_db
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(settings.db_path, tmp)  # copy_file_range: reflinks where the filesystem can
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


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
