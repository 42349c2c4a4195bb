"""The alert DAGs under ``dag.test()``, with a real SMTP server on 127.0.0.1 behind ``smtp_default``.

Each ``dag.test()`` costs 10-20 s, so these few runs each check several things.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from pipeline import tasks as ingest
from pipeline.alerts import jobs
from pipeline.schedule import ARTICLES_LOADED, on_task_failure
from pipeline.settings import Settings
from tests import test_alerts_outbox as shared
from tests.conftest import make_settings, warm_model_cache
from tests.localweb import LocalWeb, sample_feeds_toml, sample_site
from tests.test_dags import dagbag

# The SMTP server and the once-loaded database, shared with test_alerts_outbox.py.
mail = shared.mail
loaded_db = shared.loaded_db


@pytest.fixture
def vigia_env(monkeypatch, tmp_path):
    """The environment a deployment would set, pointing at temporary files; no task retries."""
    db = tmp_path / "vigia.duckdb"
    warm_model_cache(tmp_path)
    monkeypatch.setenv("VIGIA_DB", str(db))
    monkeypatch.setenv("VIGIA_FEEDS", str(tmp_path / "feeds.toml"))
    monkeypatch.setenv("VIGIA_ALLOW_NETWORKS", "127.0.0.1/32")
    monkeypatch.setenv("VIGIA_WORKERS", "2")
    monkeypatch.setenv("VIGIA_ALERT_TO", "ops@example.org")
    monkeypatch.setenv("VIGIA_TASK_RETRIES", "0")  # dag.test() would wait out every retry delay
    return db


def test_every_task_of_every_vigia_dag_sends_a_failure_email(airflow_db):
    bag = dagbag()
    dags = [d for d in bag.dags.values() if "vigia" in d.tags]
    assert {d.dag_id for d in dags} >= {"vigia_ingest", "vigia_alerts", "vigia_watchdog"}
    for dag in dags:
        for task in dag.tasks:
            assert on_task_failure in task.on_failure_callback, (dag.dag_id, task.task_id)
    assert not any(d.on_failure_callback for d in dags)  # DAG level breaks dag.test() (airflow 64649)


def test_alerts_follow_each_load_and_the_watchdog_has_its_own_clock(airflow_db):
    bag = dagbag()
    alerts, watchdog = bag.get_dag("vigia_alerts"), bag.get_dag("vigia_watchdog")
    assert list(alerts.timetable.asset_condition.objects) == [ARTICLES_LOADED]
    assert watchdog.timetable.delta == timedelta(minutes=30)
    for dag in (alerts, watchdog):
        assert dag.max_active_runs == 1
        assert dag.get_task("send").trigger_rule == "all_done"  # older mail goes out even if deciding failed


def test_a_failing_task_delivers_one_failure_email_even_through_an_smtp_outage(
    airflow_db, vigia_env, mail, tmp_path
):
    # No feeds.toml: `plan` raises ConfigError; its downstream tasks never run (upstream_failed).
    run = dagbag().get_dag("vigia_ingest").test()
    assert run.state == "failed"
    (got,) = mail.messages
    assert got.rcpt_tos == ["ops@example.org"]
    msg = got.message
    assert msg["Subject"] == "Vigía: task vigia_ingest.plan failed (try 1)"
    html = got.part("text/html").get_content()
    for expected in (
        "vigia_ingest",
        "plan",
        run.run_id,
        "ConfigError",
        "feeds.toml",
        "/dags/vigia_ingest/runs/",
        "<td>Map index</td><td>-</td>",
        "1 of 1",
    ):
        assert expected in html, expected

    # With SMTP down the failure email is not lost: it waits in the outbox for the next flush.
    mail.stop()
    assert dagbag().get_dag("vigia_ingest").test().state == "failed"
    with duckdb.connect(str(vigia_env), read_only=True) as con:
        assert con.execute("select kind, recipients from alert_outbox where sent_at is null").fetchall() == [
            ("task_failed", ["ops@example.org"])
        ]
    mail.start()
    assert jobs.send_pending(Settings.from_env())["sent"] == 1
    assert [m.message["Subject"] for m in mail.messages] == [
        "Vigía: task vigia_ingest.plan failed (try 1)"
    ] * 2
    assert "ConfigError" in mail.messages[1].part("text/html").get_content()


def test_load_succeeds_with_smtp_down_and_the_digest_arrives_once_it_is_back(
    airflow_db, vigia_env, mail, tmp_path
):
    site = shared.hostile_site(tmp_path)
    bag = dagbag()
    ingest_dag, alerts_dag = bag.get_dag("vigia_ingest"), bag.get_dag("vigia_alerts")
    mail.stop()
    with LocalWeb() as web:
        web.routes.update(sample_site(web.base, site_file=site))
        (tmp_path / "feeds.toml").write_text(sample_feeds_toml(web.base, site_file=site))
        assert ingest_dag.test().state == "success"
        # SMTP is down: deciding and sending both succeed; the digest waits in the outbox.
        assert alerts_dag.test().state == "success"
        with duckdb.connect(str(vigia_env), read_only=True) as con:
            assert con.execute("select kind, sent_at is null, attempts from alert_outbox").fetchall() == [
                ("digest", True, 1)
            ]
        assert mail.messages == []

        mail.start()
        assert alerts_dag.test().state == "success"
        (digest,) = mail.messages
        assert digest.rcpt_tos == ["ops@example.org"]
        html = digest.part("text/html").get_content()
        assert "<script" not in html and "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html
        assert digest.part("image/png")["Content-ID"] == "<trend-chart@vigia>"

        # A second cycle brings nothing new: no email.
        settings = make_settings(tmp_path, sample_feeds_toml(web.base, site_file=site))
        ingest.run_once(replace(settings, db_path=vigia_env))
        assert alerts_dag.test().state == "success"
    assert len(mail.messages) == 1


def test_the_watchdog_mails_once_when_loads_stop(airflow_db, vigia_env, mail, loaded_db, monkeypatch):
    shutil.copyfile(loaded_db, vigia_env)
    with duckdb.connect(str(vigia_env)) as con:
        con.execute("update runs set finished_at = ?", [datetime.now(UTC) - timedelta(hours=3)])
    # Recipients from an Airflow Variable (here from the environment's secrets backend) instead.
    monkeypatch.delenv("VIGIA_ALERT_TO")
    monkeypatch.setenv("AIRFLOW_VAR_VIGIA_ALERT_TO", "watch@example.org")
    monkeypatch.setenv("VIGIA_FRESHNESS_LIMIT_MINUTES", "60")
    watchdog = dagbag().get_dag("vigia_watchdog")
    assert watchdog.test().state == "success"
    (got,) = mail.messages
    assert got.rcpt_tos == ["watch@example.org"]
    assert got.message["Subject"] == "Vigía: no successful load for 3.0 h"
