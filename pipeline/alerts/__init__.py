"""Alert emails: what to send, how it looks, and getting it out through SMTP without losing any.

    config.py    who gets what: recipients, per-recipient filters, thresholds (env, or Airflow Variables)
    detect.py    what to send: new relevant stories, spikes, quiet feeds, stale data — and the state
                 that makes each of them go out once (queries/ holds the SQL)
    render.py    the emails: subjects cleaned of CR/LF/control characters, text and escaped HTML parts
    (the 14-day trend chart shown inline in the digest is drawn by pipeline/publish/charts.py)
    outbox.py    pending mail in DuckDB; ``flush`` sends it through the Airflow SMTP connection
    failures.py  the failure email every Vigía task sends after its last try (SmtpNotifier)
    jobs.py      the entry points the DAGs and ``python -m pipeline alerts`` call

Nothing here is imported when a DAG file is parsed: ``pipeline.schedule`` imports these
modules inside the callbacks and tasks that use them.
"""
