"""What the DAG files share: the Asset a successful load updates, and small task-side helpers.

Imported by the files in ``dags/`` at parse time, so it imports nothing heavy and touches no
network or database.
"""

from __future__ import annotations

from airflow.sdk import Asset

# Updated by every successful load; the trends/alerts DAG is scheduled on it.
ARTICLES_LOADED = Asset(name="vigia_articles_loaded", uri="file:///vigia/articles_loaded")


def on_task_failure(context) -> None:
    """Every Vigía task's ``on_failure_callback``: one email after the last try, through the SMTP
    provider's SmtpNotifier and the ``smtp_default`` connection (see pipeline/alerts/failures.py).
    Task-level on purpose: a DAG-level SmtpNotifier breaks ``dag.test()`` (airflow 64649)."""
    from pipeline.alerts.failures import notify_task_failure

    notify_task_failure(context)


def task_defaults(**default_args) -> dict:
    """``default_args`` for a Vigía DAG: its own retry policy plus the failure email.

    ``VIGIA_TASK_RETRIES`` (read when the file is parsed, like the rest of a DAG's shape) overrides
    every task's retries, e.g. 0 in tests, where ``dag.test()`` would sit out each retry delay.
    """
    from pipeline.settings import Settings

    retries = Settings.from_env().task_retries
    defaults = {**default_args, "on_failure_callback": [on_task_failure]}
    if retries is not None:
        defaults["retries"] = retries
    return defaults
