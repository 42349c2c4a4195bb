"""Ingestion every minute: plan the feeds due → fetch them in batches (mapped) → one load → Asset.

Each feed is polled at its own rhythm (``VIGIA_POLL_MIN_MINUTES`` to ``VIGIA_POLL_MAX_MINUTES``,
pipeline/collect/polling.py), so a run asks only the feeds due now; a run with none due ends at
``plan`` (``collect`` and ``load`` skipped: no worker process, no load, no publication, no Asset
event). ``max_active_runs=1`` with ``catchup=False``: a run that outlasts the minute delays the
next one instead of queueing runs behind it, and the cycle lock keeps any other cycle out.

Each task body calls one ``pipeline`` function; heavy imports happen inside the tasks, so parsing
this file imports nothing but Airflow and touches no network or database.

* ``collect`` is mapped over batches of feeds (``VIGIA_FEEDS_PER_BATCH``), so a registry of
  thousands of feeds stays far below Airflow's 1,024 mapped-task limit. Batches write Parquet
  files under the staging directory; only their paths travel through XCom.
* ``load`` is the only task that writes DuckDB: one transaction per run, idempotent, so a retry
  or a rerun of the same staged files adds nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, get_current_context, task

from pipeline.schedule import ARTICLES_LOADED, task_defaults


@dag(
    dag_id="vigia_ingest",
    schedule=timedelta(minutes=1),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,  # one loader at a time: DuckDB has one writer
    dagrun_timeout=timedelta(minutes=14),
    # retries, and a failure email after the last try (pipeline.schedule.task_defaults)
    default_args=task_defaults(retries=2, retry_delay=timedelta(seconds=30), retry_exponential_backoff=True),
    tags=["vigia"],
    doc_md=__doc__,
)
def vigia_ingest():
    @task
    def plan() -> list[str]:
        from pipeline import tasks
        from pipeline.settings import Settings

        return tasks.plan_to_files(Settings.from_env(), get_current_context()["run_id"])

    # Batches run one after another in a run: each already uses every core for extraction.
    # Each batch is collected in a process of our own (`python -m pipeline collect`), whose worker
    # pool never re-runs the launcher of Airflow (pipeline/collect/process.py says why).
    @task(max_active_tis_per_dagrun=1, execution_timeout=timedelta(minutes=10))
    def collect(jobs_file: str) -> str:
        from pipeline.collect.process import run_collect

        context = get_current_context()
        return run_collect(jobs_file, context["run_id"], context["ti"].map_index)

    @task(outlets=[ARTICLES_LOADED])
    def load(staged: list[str]) -> dict:
        from pipeline import tasks
        from pipeline.settings import Settings

        return tasks.load_staged(Settings.from_env(), list(staged), get_current_context()["run_id"])

    load(collect.expand(jobs_file=plan()))


vigia_ingest()
