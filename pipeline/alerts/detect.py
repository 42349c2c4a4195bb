"""What to send, and the state that makes each alert go out once.

    new_stories      relevant stories not mailed yet      → Story    (recorded in alert_stories)
    spikes_to_alert  today's rows of the `spikes` view    → Spike    (once per spike, then a cool-down)
    feed_changes     `source_health` + each feed's rhythm → FeedChange: quiet once, recovered once
    freshness_change the last successful load             → Staleness: stale once, fresh again once

Each reads the analysts' views (sql/views) through one query of ``sql/queries/alerts/`` and records
what it decided in the same connection; the caller commits that together with the queued emails, so a
retried task neither loses nor repeats an alert.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

from pipeline import sql
from pipeline.settings import LIMA, Settings

log = logging.getLogger(__name__)


def lima_day(moment: datetime) -> date:
    return moment.astimezone(LIMA).date()


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Link:
    outlet: str
    url: str | None
    title: str | None
    event_at: datetime | None


@dataclass(frozen=True, slots=True)
class Story:
    story_id: str
    title: str
    url: str | None
    score: float
    topics: tuple[str, ...]  # strongest first
    departments: tuple[str, ...]  # ubigeo codes
    event_at: datetime
    first_seen_at: datetime
    links: tuple[Link, ...]
    lede: str = ""  # the summary (else the text) of its title's article, for the digest's one-line lede
    primary_department: str | None = None  # where it happened (a `departments` code)

    @property
    def outlets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(link.outlet for link in self.links))


@dataclass(frozen=True, slots=True)
class Spike:
    dimension: str  # topic | department
    key: str  # topic id | ubigeo
    name: str
    day: date
    stories: int
    outlets: int
    expected: float
    robust_z: float


@dataclass(frozen=True, slots=True)
class FeedChange:
    feed: str
    change: str  # quiet | recovered
    reason: str


@dataclass(frozen=True, slots=True)
class Staleness:
    change: str  # stale | fresh
    last_load_at: datetime | None
    last_run_id: str | None
    limit: timedelta


# ---------------------------------------------------------------- the state table


def _state(con: duckdb.DuckDBPyConnection, key: str) -> tuple[str, datetime | None] | None:
    row = sql.execute(con, "alerts/state_of", {"key": key}).fetchone()
    return (row[0], row[1]) if row else None


def _set_state(
    con: duckdb.DuckDBPyConnection, key: str, state: str, now: datetime, reason: str | None, alerted: bool
) -> None:
    sql.execute(
        con,
        "alerts/state_set",
        {"key": key, "state": state, "reason": reason, "now": now, "alerted": alerted},
    )


def _transition(
    con: duckdb.DuckDBPyConnection, key: str, active: bool, now: datetime, reason: str
) -> str | None:
    """'raised' when ``key`` becomes active, 'recovered' when it stops being active, else None."""
    current = _state(con, key)
    was_active = current is not None and current[0] == "active"
    if active and not was_active:
        _set_state(con, key, "active", now, reason, alerted=True)
        return "raised"
    if not active and was_active:
        _set_state(con, key, "ok", now, reason, alerted=True)
        return "recovered"
    return None


# ---------------------------------------------------------------- new relevant stories


def new_stories(con: duckdb.DuckDBPyConnection, since: datetime) -> list[Story]:
    """Relevant stories not mailed yet whose first relevant article was loaded at or after ``since``."""
    rows = sql.execute(con, "alerts/new_stories", {"since": since}).fetchall()
    stories = []
    for row in rows:
        story_id, title, url, score, topics, departments, event_at, first_seen_at, links, body, primary = row
        stories.append(
            Story(
                story_id=story_id,
                title=title or "(untitled)",
                url=url,
                score=float(score),
                topics=tuple(topics or ()),
                departments=tuple(departments or ()),
                event_at=event_at,
                first_seen_at=first_seen_at,
                links=tuple(Link(lk["outlet"], lk["url"], lk["title"], lk["event_at"]) for lk in links),
                lede=body or "",
                primary_department=primary,
            )
        )
    return stories


def record_stories(
    con: duckdb.DuckDBPyConnection, story_ids: list[str], digest_id: str, now: datetime
) -> None:
    """Mark stories as mailed: no later digest lists them again."""
    if story_ids:
        sql.execute(
            con, "alerts/stories_mailed", {"story_ids": list(story_ids), "digest_id": digest_id, "now": now}
        )


def department_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(sql.execute(con, "alerts/department_names").fetchall())


# ---------------------------------------------------------------- spikes


def todays_spikes(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Spike]:
    day = lima_day(now)
    rows = sql.execute(con, "alerts/spikes_today", {"day": day}).fetchall()
    return [Spike(r[0], r[1], r[2], day, int(r[3]), int(r[4]), float(r[5]), float(r[6])) for r in rows]


def spikes_to_alert(
    con: duckdb.DuckDBPyConnection, spikes: list[Spike], now: datetime, cooldown: timedelta
) -> list[Spike]:
    """The spikes to mail now: new ones whose topic or department was not alerted within ``cooldown``.

    A spike is one episode: while a topic keeps spiking it is not mailed again; once it is back to
    normal, a new spike of it is mailed only after the cool-down since the last alert.
    """
    spiking = {f"spike:{s.dimension}:{s.key}": s for s in spikes}
    to_alert = []
    for key, spike in spiking.items():
        current = _state(con, key)
        if current is not None and current[0] == "active":
            continue
        last = current[1] if current else None
        if last is not None and now - last < cooldown:
            _set_state(con, key, "active", now, "within cool-down", alerted=False)
            continue
        _set_state(con, key, "active", now, f"{spike.stories} stories on {spike.day}", alerted=True)
        to_alert.append(spike)
    # Topics and departments no longer spiking end their episode (without an email).
    for (key,) in sql.execute(con, "alerts/active_keys", {"prefix": "spike:%"}).fetchall():
        if key not in spiking:
            _set_state(con, key, "ok", now, None, alerted=False)
    return to_alert


# ---------------------------------------------------------------- quiet feeds


@dataclass(frozen=True, slots=True)
class FeedHealth:
    feed: str
    status: str
    consecutive_failures: int
    last_error: str | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    usual_items_per_day: float | None
    deferred_until: datetime | None = None  # parked (back-off, Retry-After) until its next probe


def feed_health(con: duckdb.DuckDBPyConnection) -> list[FeedHealth]:
    rows = sql.execute(con, "alerts/feed_health").fetchall()
    return [
        FeedHealth(r[0], r[1], int(r[2]), r[3], r[4], r[5], None if r[8] is None else float(r[8]), r[7])
        for r in rows
    ]


def quiet_reason(h: FeedHealth, settings: Settings, now: datetime) -> str | None:
    """Why the feed counts as quiet, or None when it is healthy."""
    if h.status == "gone":
        return "answered 410 Gone: no longer polled (change its URL in feeds.toml to resume)"
    if h.consecutive_failures >= settings.quiet_failed_cycles:
        error = f": {h.last_error}" if h.last_error else ""
        return f"failed {h.consecutive_failures} fetches in a row{error}"
    # A host's Retry-After can park a feed for up to a week: it brings nothing meanwhile, whatever its
    # failure count (one 503) or its rhythm (a new feed has none) says.
    parked = h.deferred_until - now if h.deferred_until is not None else None
    if parked is not None and parked >= timedelta(hours=max(settings.quiet_min_silence_hours, 1)):
        error = f" ({h.last_error})" if h.last_error else ""
        until = h.deferred_until.astimezone(LIMA) if h.deferred_until else now
        return (
            f"parked until {until:%Y-%m-%d %H:%M} (Lima){error}: not polled for another "
            f"{hours_text(parked)}; it is probed again then"
        )
    if h.last_new_item_at is not None and h.usual_items_per_day:
        usual_gap = timedelta(days=1) / h.usual_items_per_day
        limit = max(
            timedelta(hours=settings.quiet_min_silence_hours), settings.quiet_silence_factor * usual_gap
        )
        silent = now - h.last_new_item_at
        if silent > limit:
            return (
                f"no new item for {hours_text(silent)} (usually one every {hours_text(usual_gap)}; "
                f"alert after {hours_text(limit)})"
            )
    return None


def hours_text(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def feed_changes(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> list[FeedChange]:
    """Feeds that became quiet, and quiet feeds that came back, since the last call."""
    changes = []
    seen = set()
    for h in feed_health(con):
        key = f"feed:{h.feed}"
        seen.add(key)
        reason = quiet_reason(h, settings, now)
        transition = _transition(con, key, reason is not None, now, reason or "back to normal")
        if transition == "raised":
            changes.append(FeedChange(h.feed, "quiet", reason or ""))
        elif transition == "recovered":
            changes.append(FeedChange(h.feed, "recovered", _recovery_reason(h)))
    # A feed disabled or removed from feeds.toml while quiet ends its episode without an email.
    for (key,) in sql.execute(con, "alerts/active_keys", {"prefix": "feed:%"}).fetchall():
        if key not in seen:
            _set_state(con, key, "ok", now, "disabled", alerted=False)
    return changes


def _recovery_reason(h: FeedHealth) -> str:
    if h.last_success_at is not None:
        return f"fetched successfully again at {h.last_success_at.astimezone(LIMA):%Y-%m-%d %H:%M} (Lima)"
    return "back to normal"


# ---------------------------------------------------------------- freshness


def freshness_change(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> Staleness | None:
    """'stale' once when no load succeeded for ``freshness_limit_minutes``; 'fresh' once when loads resume.

    A database that was never loaded is left alone: the failure emails of the ingestion DAG cover it.
    """
    limit = timedelta(minutes=settings.freshness_limit_minutes)
    row = sql.execute(con, "alerts/last_load").fetchone()
    if row is None:
        return None
    run_id, finished_at = row
    stale = now - finished_at > limit
    reason = f"last load {finished_at.isoformat()}"
    transition = _transition(con, "freshness", stale, now, reason)
    if transition is None:
        return None
    return Staleness("stale" if transition == "raised" else "fresh", finished_at, run_id, limit)
