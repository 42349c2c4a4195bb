"""The failure email of a Vigía task: sent by the Airflow SMTP provider's ``SmtpNotifier``.

Every task of every Vigía DAG has ``on_failure_callback=[pipeline.schedule.on_task_failure]``
(task level: a DAG-level ``SmtpNotifier`` breaks ``dag.test()``, airflow 64649). Airflow calls it
once, after the last try. It:

* reads the recipients then, not when the DAG file is parsed (``VIGIA_ALERT_TO``, or the Airflow
  Variable of that name; recipients with ``"ops": false`` are left out);
* builds a fresh ``SmtpNotifier`` per failure (a notifier renders its templates in place, so one
  shared instance would repeat the first failure's text) whose templates take every value from the
  context — nothing from a feed or an exception is ever part of a template, only its value, escaped;
* cleans the rendered subject of CR, LF and control characters before it becomes a header;
* when SMTP is down, queues the same email in the outbox (``alert_outbox``), which the next flush
  delivers: Airflow would otherwise only log the callback's error, and the alert would be lost.
"""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, datetime
from typing import Any

from pipeline.alerts.render import clean_header
from pipeline.settings import Settings

log = logging.getLogger(__name__)

SUBJECT = (
    "Vigía: task {{ ti.dag_id }}.{{ ti.task_id }}"
    "{% if ti.map_index is not none and ti.map_index >= 0 %}[{{ ti.map_index }}]{% endif %}"
    " failed (try {{ ti.try_number }})"
)

HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"></head>
<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222">
<h2>Vigía: a task failed after its last try</h2>
<table role="presentation" cellpadding="4">
<tr><td>DAG</td><td>{{ ti.dag_id | e }}</td></tr>
<tr><td>Task</td><td>{{ ti.task_id | e }}</td></tr>
<tr><td>Map index</td><td>{{ vigia_map_index | e }}</td></tr>
<tr><td>Run</td><td>{{ ti.run_id | e }}</td></tr>
<tr><td>Try</td><td>{{ ti.try_number | e }} of {{ (ti.max_tries + 1) | e }}</td></tr>
<tr><td>Host</td><td>{{ ti.hostname | e }}</td></tr>
<tr><td>Log</td><td><a href="{{ ti.log_url | e }}">{{ ti.log_url | e }}</a></td></tr>
</table>
<h3>Exception</h3>
<pre style="white-space:pre-wrap;background:#f6f6f6;padding:8px">{{ vigia_exception | e }}</pre>
<p style="color:#888;font-size:12px">Vigía — failure emails: README, section Alert emails.</p>
</body></html>
"""

EXCEPTION_MAX = 4000  # characters of the traceback shown in the email


def describe_exception(exc: object) -> str:
    """The exception with its traceback, as plain text (escaped later by the template)."""
    if isinstance(exc, BaseException):
        text = "".join(traceback.format_exception(exc))
    else:
        text = str(exc) if exc is not None else "(no exception in the context)"
    return text if len(text) <= EXCEPTION_MAX else "…" + text[-EXCEPTION_MAX:]


def notify_task_failure(context: dict[str, Any]) -> None:
    """The on_failure_callback body. Never raises: Airflow would only log it."""
    from pipeline.alerts.config import load_config, with_airflow_variables

    try:
        settings = with_airflow_variables(Settings.from_env())
        recipients = load_config(settings, strict=False).ops_recipients
    except Exception:  # noqa: BLE001 - a broken setting must not hide the failure it reports
        log.exception("alert settings unusable; failure email not sent")
        return
    if not recipients:
        log.warning("no recipient for failure emails (VIGIA_ALERT_TO is empty)")
        return
    ti = context["ti"]
    values = dict(
        context,
        vigia_exception=describe_exception(context.get("exception")),
        vigia_map_index="-" if ti.map_index is None or ti.map_index < 0 else ti.map_index,
    )
    notifier = _notifier(settings, recipients)
    try:
        notifier(values)
        return
    except Exception as exc:  # noqa: BLE001 - SMTP down or hanging, connection missing: keep it for later
        log.warning("failure email not sent now (%s); queued in the outbox", exc)
        error = exc
    _queue(settings, recipients, ti, notifier, values, error)


def _notifier(settings: Settings, recipients: tuple[str, ...]):
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    class CleanSubjectNotifier(SmtpNotifier):
        def notify(self, context):  # the subject is rendered by now: make it one safe line
            self.subject = clean_header(self.subject or "Vigía: a task failed")
            super().notify(context)

    return CleanSubjectNotifier(
        to=list(recipients),
        from_email=settings.alert_from or None,  # None: the connection's from_email
        subject=SUBJECT,
        html_content=HTML,
        smtp_conn_id=settings.smtp_conn_id,
    )


def _queue(settings: Settings, recipients, ti, notifier, values: dict, error: BaseException) -> None:
    from pipeline import store
    from pipeline.alerts.outbox import Alert, enqueue
    from pipeline.alerts.render import Email

    subject = (
        notifier.subject if notifier.subject != SUBJECT else f"Vigía: task {ti.dag_id}.{ti.task_id} failed"
    )
    html = notifier.html_content if notifier.html_content != HTML else None
    text = (
        f"{clean_header(subject)}\n\nDAG {ti.dag_id}, task {ti.task_id}, "
        f"map index {values['vigia_map_index']}, "
        f"run {ti.run_id}, try {ti.try_number}\nLog: {ti.log_url}\n\n{values['vigia_exception']}\n"
        f"\n(queued because SMTP failed: {error})\n"
    )
    alert_id = f"task_failed:{ti.dag_id}:{ti.task_id}:{ti.map_index}:{ti.run_id}:{ti.try_number}"
    try:
        with store.open_db(settings, lock_timeout=min(settings.db_lock_timeout, 30.0)) as con:
            enqueue(
                con,
                [Alert(alert_id, "task_failed", recipients, Email(subject, text, html or ""))],
                datetime.now(UTC),
            )
    except Exception:  # noqa: BLE001 - last resort: the log is all that is left
        log.exception("failure email could not be queued either; it is only in this log")
