"""The database: migrations, the writer lock, crash safety, the analyst copy."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading

import duckdb
import pytest

from pipeline import store
from pipeline import tasks as ingest
from pipeline.errors import DatabaseBusy, StoreError
from tests.conftest import REPO, make_settings


def test_migrations_are_applied_once_and_recorded(tmp_path):
    db = tmp_path / "v.duckdb"
    with store.open_db(db) as con:
        versions = [r[0] for r in con.execute("select version from schema_migrations order by 1").fetchall()]
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    assert versions[0] == 1 and versions == sorted(set(versions))
    assert {"feeds", "fetches", "articles", "classifications", "labels", "models", "runs"} <= tables
    with store.open_db(db) as con:
        assert store.migrate(con) == []


def test_db_threads_caps_the_databases_vigia_opens_even_one_this_process_holds(tmp_path):
    from dataclasses import replace

    from pipeline.store import publication

    def threads(con: duckdb.DuckDBPyConnection) -> int:
        return int(con.execute("select current_setting('threads')").fetchone()[0])

    with duckdb.connect() as plain:
        default = threads(plain)
    one = make_settings(tmp_path, "", db_threads=1)
    with store.open_db(replace(one, db_threads=0)) as con:
        assert threads(con) == default  # 0: DuckDB's own
    # A connection with DuckDB's defaults held in this process: a configuration that differed from
    # it would be refused, so the cap is set on the database once open.
    held = duckdb.connect(str(one.db_path))
    try:
        with store.open_db(one) as con:
            assert threads(con) == 1 and threads(held) == 1
    finally:
        held.close()
    with store.writing(one) as con:
        con.execute("create table t as select 1 as x")
    calls = []
    real = publication.connect
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(publication, "connect", lambda *a, **kw: calls.append(kw) or real(*a, **kw))
        publication.publish(one)
    assert calls and all(kw["threads"] == 1 for kw in calls)  # the copy's checks too


def _views(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute("select view_name, comment from duckdb_views() where not internal").fetchall()
    return dict(rows)


def test_an_up_to_date_database_is_not_written_and_what_changed_is_created_again(tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(REPO / "sql", sql_dir)
    db = tmp_path / "v.duckdb"
    con = duckdb.connect(str(db))
    store.migrate(con, sql_dir)
    con.close()
    before = db.read_bytes()
    con = duckdb.connect(str(db))
    views = _views(con)
    assert set(views) == {p.stem for p in (sql_dir / "views").glob("*.sql")}
    assert store.migrate(con, sql_dir) == [] and _views(con) == views
    con.close()
    assert db.read_bytes() == before  # nothing re-created, so nothing to checkpoint
    con = duckdb.connect(str(db))
    # A view dropped by hand comes back; a view whose file changed is replaced, and only it.
    con.execute("drop view current_classifications")
    changed = sql_dir / "views" / "source_health.sql"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")
    store.migrate(con, sql_dir)
    after = _views(con)
    assert set(after) == set(views)
    assert {name for name in views if after[name] != views[name]} == {"source_health"}
    # A changed macro file makes every view stale: macros and views are created again.
    macro = next((sql_dir / "macros").glob("*.sql"))
    macro.write_text(macro.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")
    store.migrate(con, sql_dir)
    assert all(_views(con)[name] != after[name] for name in after)
    con.close()


def test_read_only_open_of_a_missing_database_is_a_clear_error(tmp_path):
    with (
        pytest.raises(StoreError, match="does not exist"),
        store.open_db(tmp_path / "nope.duckdb", read_only=True),
    ):
        pass


def test_a_second_writer_waits_then_fails_clearly(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="pipeline.store")
    db = tmp_path / "v.duckdb"
    failures: list[BaseException] = []

    def second_writer():  # another thread: the lock is re-entrant only within one thread
        try:
            with store.open_db(db, lock_timeout=0.5):
                pass
        except BaseException as exc:  # noqa: BLE001 - checked below
            failures.append(exc)

    with store.open_db(db, lock_timeout=1):
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join()
    (failure,) = failures
    assert isinstance(failure, DatabaseBusy) and "stayed locked by another process for 0.5 s" in str(failure)
    assert any("is locked; retrying" in r.message for r in caplog.records), "it failed without waiting"
    assert f"held by pid {os.getpid()}" in str(failure)
    with store.open_db(db), store.open_db(db) as con:  # nested in one thread: re-entrant
        con.execute("select 1")


HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_foreign_lock_on_the_file_makes_the_writer_back_off_then_succeed(tmp_path, caplog):
    db = tmp_path / "v.duckdb"
    with store.open_db(db):
        pass
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db), "2"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    with pytest.raises(DatabaseBusy), store.open_db(db, lock_timeout=0.5):
        pass
    caplog.clear()
    caplog.set_level(logging.INFO, logger="pipeline.store")
    assert holder.poll() is None  # still holding: the writer below must wait for it to go away
    with store.open_db(db, lock_timeout=20) as con:
        con.execute("select 1")
    assert any("is locked; retrying" in r.message for r in caplog.records)
    holder.wait(timeout=10)
    holder.stdout.close()


CRASH = """
import sys, time
from pipeline import tasks as ingest
from pipeline.load import transaction as load
from pipeline.settings import Settings
settings = Settings.from_env()
real = load.classify_articles
def classify_then_hang(*args, **kwargs):
    n = real(*args, **kwargs)
    print("inside the transaction", flush=True)
    time.sleep(600)
    return n
load.classify_articles = classify_then_hang
ingest.run_once(settings)
"""


def test_kill_9_mid_load_leaves_only_committed_data_and_the_next_cycle_completes(sample_settings):
    first = ingest.run_once(sample_settings)  # one committed cycle
    assert first.new_articles == 12
    with duckdb.connect(str(sample_settings.db_path)) as con:  # forget the articles of one feed
        con.execute(
            "delete from classifications where article_id in"
            " (select article_id from articles where feed = 'lima-post')"
        )
        con.execute("delete from article_sources where feed = 'lima-post'")
        con.execute("delete from articles where feed = 'lima-post'")
        con.execute("update feeds set etag = null, last_modified = null")
    env = dict(
        os.environ,
        VIGIA_FEEDS=str(sample_settings.feeds_path),
        VIGIA_DB=str(sample_settings.db_path),
        VIGIA_ALLOW_NETWORKS="127.0.0.1/32",
        PYTHONPATH=str(REPO),
    )
    loader = subprocess.Popen([sys.executable, "-c", CRASH], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert loader.stdout.readline().strip() == "inside the transaction"
    finally:
        loader.send_signal(signal.SIGKILL)
        loader.wait(timeout=30)
        loader.stdout.close()
    with duckdb.connect(str(sample_settings.db_path), read_only=True) as con:
        assert con.execute("select count(*) from articles").fetchone()[0] == 9  # nothing half-loaded
        assert con.execute("select count(*) from runs").fetchone()[0] == 1
    again = ingest.run_once(sample_settings)  # the lock died with the loader; nothing is lost
    assert again.new_articles == 3
    with duckdb.connect(str(sample_settings.db_path), read_only=True) as con:
        assert con.execute("select count(*), count(distinct url) from articles").fetchone() == (12, 12)
        assert con.execute("select count(*) from classifications").fetchone()[0] == 12


def test_the_analyst_copy_is_replaced_atomically_while_a_session_reads_the_old_one(loaded_settings):
    analyst = duckdb.connect(str(loaded_settings.analyst_db), read_only=True)
    try:
        assert analyst.execute("select count(*) from articles").fetchone()[0] == 12
        with duckdb.connect(str(loaded_settings.db_path)) as con:
            con.execute("delete from articles where feed = 'lima-post'")
        summary = ingest.run_once(loaded_settings)  # the loader does not wait for the analyst
        assert summary.run_id
        assert analyst.execute("select count(*) from articles").fetchone()[0] == 12
    finally:
        analyst.close()
    with duckdb.connect(str(loaded_settings.analyst_db), read_only=True) as fresh:
        assert fresh.execute("select count(*) from articles").fetchone()[0] == 9
