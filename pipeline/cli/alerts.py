"""``python -m pipeline alerts ...``: the alert jobs the DAGs run, by hand.

    alerts preview [--out DIR]   decide and render what would be queued now, record nothing
    alerts queue                 queue the digest, spikes and feed-health emails (as vigia_alerts does)
    alerts watchdog              queue the stale-data email if no load succeeded recently
    alerts send                  send what the outbox holds through the SMTP connection
    alerts status                what the outbox holds

Settings come from the environment only (``VIGIA_*``; Airflow Variables apply inside Airflow
tasks). ``send`` reads the SMTP connection as Airflow does: ``AIRFLOW_CONN_SMTP_DEFAULT`` or
Airflow's metadata database.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from pipeline.cli import options, settings_from_args


def cmd_preview(args: argparse.Namespace) -> int:
    from pipeline.alerts import jobs
    from pipeline.alerts.outbox import Pending, build_message

    settings = settings_from_args(args)
    queued = jobs.queue_alerts(settings, dry_run=True)
    freshness = jobs.check_freshness(settings, dry_run=True)
    alerts = queued.alerts + freshness.alerts
    if not alerts:
        print("nothing to send now:", json.dumps(queued.summary()))
        return 0
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    for n, alert in enumerate(alerts, 1):
        print(f"== {alert.alert_id} -> {', '.join(alert.recipients)}")
        print(f"Subject: {alert.email.subject}\n")
        print(alert.email.text)
        if args.out:
            stem = args.out / f"{n:02d}-{re.sub(r'[^a-z0-9]+', '-', alert.kind)}"
            item = Pending(alert.alert_id, alert.kind, alert.recipients, alert.email, 0)
            msg, _ = build_message(item, settings.alert_from or "vigia@localhost")
            stem.with_suffix(".eml").write_bytes(msg.as_bytes())
            stem.with_suffix(".html").write_text(alert.email.html, encoding="utf-8")
            print(f"(written: {stem}.eml, {stem}.html)\n")
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    from pipeline.alerts import jobs

    print(json.dumps(jobs.queue_alerts(settings_from_args(args)).summary()))
    return 0


def cmd_watchdog(args: argparse.Namespace) -> int:
    from pipeline.alerts import jobs

    print(json.dumps(jobs.check_freshness(settings_from_args(args)).summary()))
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    from pipeline.alerts import jobs

    result = jobs.send_pending(settings_from_args(args))
    print(json.dumps(result))
    # 4: mail is still waiting because the server could not be used (the outbox keeps it).
    return 4 if result["error"] else 0


def cmd_status(args: argparse.Namespace) -> int:
    from pipeline import sql, store

    with store.open_db(settings_from_args(args)) as con:
        rows = sql.execute(con, "alerts/outbox_status").fetchall()
    if not rows:
        print("the outbox is empty")
    for status, kind, count, newest, error in rows:
        print(
            f"{status:9} {kind:12} {count:5}  newest {newest:%Y-%m-%d %H:%M}"
            + (f"  ({error})" if error else "")
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    alerts = subparsers.add_parser("alerts", help="alert emails: preview, queue, send (README, Alert emails)")
    sub = alerts.add_subparsers(dest="alerts_command", required=True)
    commands = (
        ("preview", cmd_preview, "print (and with --out write .eml/.html) what would be queued now"),
        ("queue", cmd_queue, "queue the digest, spike and feed-health emails, as the vigia_alerts DAG does"),
        ("watchdog", cmd_watchdog, "queue the stale-data email if no load succeeded recently"),
        (
            "send",
            cmd_send,
            "send the pending emails through the SMTP connection (exit 4: server unavailable)",
        ),
        ("status", cmd_status, "count the outbox's emails by status and kind"),
    )
    for name, func, help_text in commands:
        p = sub.add_parser(name, help=help_text)
        options.add_db(p)
        if name == "preview":
            p.add_argument("--out", type=Path, help="also write each email as .eml and .html here")
        p.set_defaults(func=func)
