"""Alert emails after each successful load: queue what is new, then send what is pending.

Scheduled on the Asset that every successful ``vigia_ingest`` load updates. Each task body calls
one ``pipeline.alerts.jobs`` function; nothing is imported, read or opened at parse time.

* ``queue`` decides, in one DuckDB transaction, what to mail — the digest of new relevant stories,
  new spikes, feeds that went quiet or came back — and puts the emails in the outbox.
* ``send`` flushes the outbox through the ``smtp_default`` connection. It runs even when ``queue``
  failed (older mail still goes out) and succeeds during an SMTP outage: the mail stays pending
  and goes out on a later run of this DAG or of ``vigia_watchdog``.

Configuration (recipients, filters, thresholds): README, section Alert emails.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from pipeline.schedule import ARTICLES_LOADED, task_defaults


@dag(
    dag_id="vigia_alerts",
    schedule=[ARTICLES_LOADED],
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,  # one decision at a time: a story is mailed once
    dagrun_timeout=timedelta(minutes=20),
    default_args=task_defaults(retries=1, retry_delay=timedelta(minutes=1)),
    tags=["vigia"],
    doc_md=__doc__,
)
def vigia_alerts():
    @task(execution_timeout=timedelta(minutes=5))
    def queue() -> dict:
        from pipeline.alerts import jobs

        return jobs.queue_alerts(jobs.task_settings()).summary()

    # all_done: pending mail (including a failure email queued during an outage) goes out regardless.
    @task(trigger_rule="all_done", execution_timeout=timedelta(minutes=10))
    def send() -> dict:
        from pipeline.alerts import jobs

        return jobs.send_pending(jobs.task_settings())

    queue() >> send()


vigia_alerts()
