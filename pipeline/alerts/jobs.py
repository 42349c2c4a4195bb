"""The entry points the DAGs and ``python -m pipeline alerts`` call.

    queue_alerts(settings)     after a load: digest of new stories, spikes, quiet feeds → outbox
    check_freshness(settings)  watchdog: no successful load for too long → outbox
    send_pending(settings)     flush the outbox through SMTP

Deciding and queueing happen in one transaction: the decisions (stories recorded as mailed, spike
and feed states) and the emails they produce commit together or not at all. Sending is separate
and never holds the database (see outbox.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb

from pipeline import store
from pipeline.alerts import detect
from pipeline.alerts.config import AlertConfig, load_config
from pipeline.alerts.outbox import Alert, enqueue, flush
from pipeline.alerts.render import render_digest, render_feed_changes, render_freshness, render_spikes
from pipeline.publish import charts as chart
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Queued:
    alerts: list[Alert] = field(default_factory=list)
    new_stories: int = 0
    spikes: int = 0
    feed_changes: int = 0
    stale: str | None = None

    def summary(self) -> dict:
        return {
            "queued": [a.alert_id for a in self.alerts],
            "new_stories": self.new_stories,
            "spikes": self.spikes,
            "feed_changes": self.feed_changes,
            "freshness": self.stale,
        }


def task_settings() -> Settings:
    """Settings inside an Airflow task: the environment, then Airflow Variables for alert fields."""
    from pipeline.alerts.config import with_airflow_variables

    return with_airflow_variables(Settings.from_env())


def _stamp(now: datetime) -> str:
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%S%fZ}"


# ---------------------------------------------------------------- what each alert kind queues


def digest_alerts(con: duckdb.DuckDBPyConnection, config: AlertConfig, now: datetime, out: Queued) -> None:
    settings = config.settings
    stories = detect.new_stories(con, now - timedelta(hours=settings.digest_lookback_hours))
    out.new_stories = len(stories)
    if not stories:
        return
    if not config.recipients:
        log.warning("%d new relevant stories, but VIGIA_ALERT_TO is empty: nothing mailed", len(stories))
        return  # not recorded: they are mailed once there is someone to mail them to (within the look-back)
    digest_id = f"digest:{_stamp(now)}"
    names = detect.department_names(con)
    png: bytes | None = None
    drawn = False
    for i, (wanted, recipients) in enumerate(config.groups()):
        mine = [
            s for s in stories if wanted.wants_story(s.topics, s.departments, s.score, s.primary_department)
        ]
        if not mine:
            continue
        if not drawn:
            png, drawn = chart.trend_chart_png(con, detect.lima_day(now), settings.language), True
        email = render_digest(
            mine[: settings.digest_max_stories], names, now, png, total=len(mine), language=settings.language
        )
        out.alerts.append(Alert(f"{digest_id}:{i}", "digest", recipients, email))
    # Every new story is settled now, including those no recipient's filter wanted.
    detect.record_stories(con, [s.story_id for s in stories], digest_id, now)


def spike_alerts(con: duckdb.DuckDBPyConnection, config: AlertConfig, now: datetime, out: Queued) -> None:
    cooldown = timedelta(hours=config.settings.spike_cooldown_hours)
    spikes = detect.spikes_to_alert(con, detect.todays_spikes(con, now), now, cooldown)
    out.spikes = len(spikes)
    for i, (wanted, recipients) in enumerate(config.groups()):
        mine = [s for s in spikes if wanted.wants_spike(s.dimension, s.key)]
        if mine:
            out.alerts.append(Alert(f"spike:{_stamp(now)}:{i}", "spike", recipients, render_spikes(mine)))


def feed_alerts(con: duckdb.DuckDBPyConnection, config: AlertConfig, now: datetime, out: Queued) -> None:
    changes = detect.feed_changes(con, config.settings, now)
    out.feed_changes = len(changes)
    if changes and config.ops_recipients:
        out.alerts.append(
            Alert(f"feeds:{_stamp(now)}", "feeds", config.ops_recipients, render_feed_changes(changes))
        )


def freshness_alerts(con: duckdb.DuckDBPyConnection, config: AlertConfig, now: datetime, out: Queued) -> None:
    change = detect.freshness_change(con, config.settings, now)
    if change is None:
        return
    out.stale = change.change
    if config.ops_recipients:
        alert_id = f"freshness:{change.change}:{_stamp(now)}"
        out.alerts.append(Alert(alert_id, "freshness", config.ops_recipients, render_freshness(change, now)))


# ---------------------------------------------------------------- the jobs


def _run(settings: Settings, steps, now: datetime | None, dry_run: bool) -> Queued:
    now = now or datetime.now(UTC)
    config = load_config(settings)
    out = Queued()
    with store.open_db(settings) as con:
        con.execute("begin transaction")
        try:
            for step in steps:
                step(con, config, now, out)
            if dry_run:
                con.execute("rollback")
            else:
                enqueue(con, out.alerts, now)
                con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    log.info("alerts: %s", out.summary())
    return out


def queue_alerts(settings: Settings, now: datetime | None = None, dry_run: bool = False) -> Queued:
    """After a load: queue the digest of new relevant stories, new spikes and feed-health changes.

    ``dry_run`` decides and renders everything, then rolls back: nothing is recorded or queued.
    """
    return _run(settings, (digest_alerts, spike_alerts, feed_alerts), now, dry_run)


def check_freshness(settings: Settings, now: datetime | None = None, dry_run: bool = False) -> Queued:
    """The watchdog: queue 'no successful load for too long' once, and 'loads resumed' once."""
    return _run(settings, (freshness_alerts,), now, dry_run)


def send_pending(settings: Settings) -> dict:
    """Flush the outbox. Succeeds during an SMTP outage (the mail stays pending and says so)."""
    return flush(settings).summary()
