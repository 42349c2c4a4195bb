"""When to poll a feed and what to remember after polling it: the feed's politeness policy.

Pure functions of (state, fetch, settings, now), so the policy can be read and tested alone:

* 304 is a success; validators (ETag, Last-Modified) are sent on every fetch except one full
  GET every ``full_fetch_hours``, which unsticks feeds whose validators are broken;
* a failing feed backs off exponentially from ``backoff_base_minutes`` up to
  ``backoff_max_hours`` and is still probed at that pace: it is never silently dropped;
* 429/503 with Retry-After waits as long as the host asked, up to ``retry_after_max_hours``
  (7 days at most, as every wait here): a date in the year 9999 parks nothing for good, and a
  stored wait beyond the longest one allowed (an older version's, a clock that jumped) is due now;
* validators are kept only when they can be sent back as they came (printable ASCII, short):
  a server's odd ETag never turns every later request into a failure;
* 410 Gone stops polling that feed until its URL in feeds.toml changes;
* under the scheduler, a healthy feed is polled at its own rhythm (``rested``): again after half
  the time since it last had something new, within ``poll_min_minutes`` and ``poll_max_minutes``,
  so a feed that publishes every few minutes is asked every few minutes and a quiet one hourly;
* the stored URL moves only when every hop of a redirect chain was permanent (301/308).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

from pipeline.errors import FAILED_FEED_OUTCOMES
from pipeline.records import Feed, FeedFetch, FeedState
from pipeline.settings import Settings


def initial_state(feed: Feed) -> FeedState:
    return FeedState(name=feed.name, url=feed.url)


def reconcile(feed: Feed, state: FeedState | None, configured_url: str | None) -> FeedState:
    """The state to poll with: a feed whose URL was edited in feeds.toml starts afresh."""
    if state is None or configured_url != feed.url:
        return initial_state(feed)
    return state


# No wait, whatever its cause or setting, is longer than this.
LONGEST_WAIT = timedelta(days=7)
_VALIDATOR = re.compile(r"[\x20-\x7e]{1,512}")


def longest_wait(settings: Settings) -> timedelta:
    hours = max(settings.backoff_max_hours, settings.retry_after_max_hours)
    return min(LONGEST_WAIT, timedelta(hours=hours))


def due(state: FeedState, now: datetime, settings: Settings | None = None) -> tuple[bool, str | None]:
    """Whether to fetch now; when not, the outcome to record ('gone' or 'deferred') is returned."""
    if state.gone:
        return False, "gone"
    if state.next_fetch_at is not None and state.next_fetch_at > now:
        longest = longest_wait(settings) if settings is not None else LONGEST_WAIT
        if state.next_fetch_at - now <= longest:
            return False, "deferred"
    return True, None


def poll_interval(
    last_fetch_at: datetime | None, last_new_item_at: datetime | None, settings: Settings
) -> timedelta:
    """How long a healthy feed rests after a poll: half its silence before that poll, bounded.

    The silence is the time from the feed's last new item to its last poll: a feed that had
    something new at its last poll (a hot one) is asked again after ``poll_min_minutes``; one silent
    for a day, after ``poll_max_minutes``. Halving it keeps a feed that wakes up after a silence from
    waiting longer than the silence it broke; a feed never seen new waits the longest.
    """
    low = timedelta(minutes=settings.poll_min_minutes)
    high = max(low, timedelta(minutes=settings.poll_max_minutes))
    if last_fetch_at is None or last_new_item_at is None:
        return high
    silence = max(timedelta(0), last_fetch_at - last_new_item_at)
    return min(high, max(low, silence / 2))


def rested(
    last_fetch_at: datetime | None,
    last_new_item_at: datetime | None,
    now: datetime,
    settings: Settings,
) -> bool:
    """Whether a healthy feed's rest since its last poll is over (always, when ``poll_max_minutes``
    is 0). A tenth of the interval is forgiven: a run that starts a few seconds early must not
    push a feed polled every two minutes to three."""
    if settings.poll_max_minutes <= 0 or last_fetch_at is None:
        return True
    interval = poll_interval(last_fetch_at, last_new_item_at, settings)
    return now >= last_fetch_at + interval * 0.9


def due_filter(settings: Settings, now: datetime) -> dict[str, object]:
    """The due filter of sql/queries/store/feed_states.sql: ``due`` and ``rested`` as a filter over
    the ``feeds`` table, so that a plan reads only the feeds that may be due (it then applies these
    functions to them: the filter is a little wider, never narrower)."""
    return {
        "now": now,
        "longest_s": longest_wait(settings).total_seconds(),
        "low_s": settings.poll_min_minutes * 60.0,
        "high_s": settings.poll_max_minutes * 60.0,
    }


def validator(value: str | None) -> str | None:
    """An ETag or Last-Modified worth sending back; None for one that cannot go in a request header."""
    return value if value is not None and _VALIDATOR.fullmatch(value) else None


def request_headers(state: FeedState, settings: Settings, now: datetime) -> dict[str, str]:
    """Conditional-GET headers, except when a periodic full GET is due."""
    full_due = state.last_full_fetch_at is None or now - state.last_full_fetch_at >= timedelta(
        hours=settings.full_fetch_hours
    )
    if full_due:
        return {}
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def backoff(failures: int, settings: Settings) -> timedelta:
    cap = min(timedelta(hours=settings.backoff_max_hours), LONGEST_WAIT)
    # The first failure is retried on the next cycle: one timeout is not a pattern.
    if failures <= 1:
        return timedelta(0)
    # In float minutes: a timedelta doubled for every one of hundreds of failures would overflow.
    minutes = settings.backoff_base_minutes * 2.0 ** min(failures - 2, 60)
    return min(timedelta(minutes=min(minutes, cap.total_seconds() / 60)), cap)


def next_state(
    state: FeedState, fetch: FeedFetch, sent_validators: bool, settings: Settings, now: datetime
) -> FeedState:
    """The state to remember after ``fetch``."""
    if fetch.outcome == "deferred":
        return state
    if fetch.outcome == "gone":
        return replace(state, gone=True, next_fetch_at=None)
    full_fetch_at = state.last_full_fetch_at if sent_validators else now
    if fetch.outcome in ("ok", "not_modified"):
        new = replace(
            state,
            consecutive_failures=0,
            next_fetch_at=None,
            last_full_fetch_at=full_fetch_at if fetch.outcome == "ok" else state.last_full_fetch_at,
        )
        if fetch.outcome == "ok":
            # A 200 replaces the validators, including with none (a server that stopped sending them).
            new = replace(new, etag=validator(fetch.etag), last_modified=validator(fetch.last_modified))
        if fetch.final_url:
            new = replace(new, url=fetch.final_url)
        # The state it had when nothing changed (every 304 of an unchanged cycle): not a copy of it
        # held per feed until the load.
        return state if new == state else new
    failures = state.consecutive_failures + 1 if fetch.outcome in FAILED_FEED_OUTCOMES else 0
    wait_until = now + backoff(failures, settings)
    if fetch.retry_after is not None and fetch.retry_after > wait_until:
        wait_until = min(fetch.retry_after, now + longest_wait(settings))
    return replace(
        state, consecutive_failures=failures, next_fetch_at=wait_until if wait_until > now else None
    )
