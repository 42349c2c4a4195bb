"""The DAG files: they import cleanly and cheaply, and ``dag.test()`` runs them for real."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb

from tests.conftest import REPO, warm_model_cache
from tests.localweb import sample_feeds_toml

DAG_FILES = sorted((REPO / "dags").glob("*.py"))

# Parsing a DAG file must not open sockets or databases, nor import the heavy libraries. One process
# parses the three files in turn (importing Airflow once, not three times), checking after each.
PARSE_CHECK = """
import socket, sys, runpy
def refuse(*a, **k):
    raise AssertionError("a DAG file opened a network connection at parse time")
socket.socket.connect = refuse
socket.create_connection = refuse
for path in sys.argv[1:]:
    runpy.run_path(path)
    heavy = [m for m in ("duckdb", "trafilatura", "feedparser", "pyarrow", "lxml", "matplotlib", "pebble")
             if m in sys.modules]
    assert not heavy, f"{path} imported at parse time: {heavy}"
    print("parsed", path, flush=True)
"""


def test_the_dag_folder_holds_exactly_our_three_dag_files():
    # Also what keeps the parse test below from passing on an empty folder.
    assert [p.name for p in DAG_FILES] == ["vigia_alerts.py", "vigia_ingest.py", "vigia_watchdog.py"]


def test_dag_files_parse_without_network_database_or_heavy_imports(tmp_path):
    env = dict(os.environ, AIRFLOW_HOME=str(tmp_path), VIGIA_DB=str(tmp_path / "never-created.duckdb"))
    result = subprocess.run(
        [sys.executable, "-c", PARSE_CHECK, *map(str, DAG_FILES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[:-1] == [f"parsed {p}" for p in DAG_FILES]
    assert not (tmp_path / "never-created.duckdb").exists()


def dagbag():
    import gc

    from airflow.dag_processing.dagbag import DagBag

    # Airflow re-raises every warning seen while it imports a DAG file as a UserWarning, which this
    # suite's filter makes an error that drops the file's DAG without an import error. A descriptor
    # leaked by an earlier test and finalised by the collector in the middle of that import would be
    # blamed on the DAG file: finalise such leftovers first.
    gc.collect()
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    assert sorted(bag.dag_ids) == ["vigia_alerts", "vigia_ingest", "vigia_watchdog"], bag.captured_warnings
    return bag


def test_dagbag_has_the_ingestion_dag_as_specified(airflow_db):
    dag = dagbag().get_dag("vigia_ingest")
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert set(dag.task_ids) == {"plan", "collect", "load"}
    assert "MappedOperator" in type(dag.get_task("collect")).__name__
    assert dag.get_task("load").outlets, "a successful load must update the Asset"
    assert all(t.retries >= 1 for t in dag.tasks)


def test_ingestion_dag_loads_the_sample_web(airflow_db, tmp_path, sample_web, monkeypatch):
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(sample_feeds_toml(sample_web.base))
    db = tmp_path / "vigia.duckdb"
    warm_model_cache(tmp_path)
    monkeypatch.setenv("VIGIA_FEEDS", str(feeds))
    monkeypatch.setenv("VIGIA_DB", str(db))
    monkeypatch.setenv("VIGIA_ALLOW_NETWORKS", "127.0.0.1/32")
    monkeypatch.setenv("VIGIA_FEEDS_PER_BATCH", "2")  # two mapped batches
    dag = dagbag().get_dag("vigia_ingest")
    run = dag.test()
    assert run.state == "success"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from articles").fetchone()[0] == 12
        assert con.execute("select count(*) from classifications").fetchone()[0] == 12
        assert con.execute("select count(distinct run_id) from fetches").fetchone()[0] == 1
    assert not any((tmp_path / "staging").glob("*/batch-*")), "staging is cleared after a load"
    # The next minute's run: every feed is resting (polled at its own rhythm), so the run ends at
    # plan: no collect process, no load, no publication, no Asset event.
    requests = len(sample_web.requests)
    # Rested for at least 30 minutes: however long the first run took on a loaded machine, no feed
    # polled in it is due yet (with the default 2, a first run of over 2 minutes made some due).
    monkeypatch.setenv("VIGIA_POLL_MIN_MINUTES", "30")
    run = dag.test()
    assert run.state == "success"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {"plan": "success", "collect": "skipped", "load": "skipped"}
    assert len(sample_web.requests) == requests
    # VIGIA_POLL_MAX_MINUTES=0: every feed on every run, conditional GETs answered 304.
    monkeypatch.setenv("VIGIA_POLL_MAX_MINUTES", "0")
    run = dag.test()
    assert run.state == "success"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from articles").fetchone()[0] == 12
        assert con.execute("select outcome, count(*) from fetches group by 1 order by 1").fetchall() == [
            ("not_modified", 4),
            ("ok", 4),
        ]
