"""Freshness watchdog: an email when no load has succeeded for too long.

Failure callbacks do not fire when a worker is killed, runs out of memory, or the scheduler is
down for the ingestion DAG: this DAG, on its own schedule, looks at the data instead. When the
last successful load (``runs``) is older than ``VIGIA_FRESHNESS_LIMIT_MINUTES`` it queues one alert,
and one more when loads resume; then it flushes the outbox, so mail held back by an SMTP outage
goes out even while no load is happening.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from pipeline.schedule import task_defaults


@dag(
    dag_id="vigia_watchdog",
    schedule=timedelta(minutes=30),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=25),
    default_args=task_defaults(retries=1, retry_delay=timedelta(minutes=2)),
    tags=["vigia"],
    doc_md=__doc__,
)
def vigia_watchdog():
    @task(execution_timeout=timedelta(minutes=5))
    def check_freshness() -> dict:
        from pipeline.alerts import jobs

        return jobs.check_freshness(jobs.task_settings()).summary()

    @task(trigger_rule="all_done", execution_timeout=timedelta(minutes=10))
    def send() -> dict:
        from pipeline.alerts import jobs

        return jobs.send_pending(jobs.task_settings())

    check_freshness() >> send()


vigia_watchdog()
