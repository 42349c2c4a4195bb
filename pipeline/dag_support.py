"""What the DAG files share: the Asset a successful load updates, and small task-side helpers.

Imported by the files in ``dags/`` at parse time, so it imports nothing heavy and touches no
network or database.
"""

from __future__ import annotations

from airflow.sdk import Asset

# Updated by every successful load; the trends/alerts DAG is scheduled on it.
ARTICLES_LOADED = Asset(name="vigia_articles_loaded", uri="file:///vigia/articles_loaded")
