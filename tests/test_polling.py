"""The polling policy: conditional GET, periodic full GET, back-off, Retry-After, 410, permanent moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.collect import polling
from pipeline.records import Feed, FeedFetch, FeedState
from pipeline.settings import Settings

NOW = datetime(2025, 10, 20, 12, 0, tzinfo=UTC)
S = Settings.from_env(env={})
FEED = Feed("rpp", "https://rpp.pe/rss")


def fetched(outcome: str, **kw) -> FeedFetch:
    return FeedFetch(feed="rpp", url=FEED.url, started_at=NOW, outcome=outcome, **kw)


def test_validators_are_sent_except_on_the_periodic_full_get():
    state = FeedState(
        "rpp",
        FEED.url,
        etag='"e1"',
        last_modified="Mon, 20 Oct 2025 10:00:00 GMT",
        last_full_fetch_at=NOW - timedelta(hours=1),
    )
    assert polling.request_headers(state, S, NOW) == {
        "If-None-Match": '"e1"',
        "If-Modified-Since": "Mon, 20 Oct 2025 10:00:00 GMT",
    }
    stale = FeedState("rpp", FEED.url, etag='"e1"', last_full_fetch_at=NOW - timedelta(hours=25))
    assert polling.request_headers(stale, S, NOW) == {}
    assert polling.request_headers(FeedState("rpp", FEED.url, etag='"e1"'), S, NOW) == {}


def test_ok_stores_new_validators_and_304_keeps_them():
    state = FeedState("rpp", FEED.url, etag='"old"', consecutive_failures=3, next_fetch_at=NOW)
    after_ok = polling.next_state(state, fetched("ok", etag='"new"', last_modified="x"), False, S, NOW)
    assert (after_ok.etag, after_ok.consecutive_failures, after_ok.next_fetch_at) == ('"new"', 0, None)
    assert after_ok.last_full_fetch_at == NOW
    after_304 = polling.next_state(after_ok, fetched("not_modified"), True, S, NOW + timedelta(minutes=15))
    assert after_304.etag == '"new"' and after_304.consecutive_failures == 0


def test_failures_back_off_exponentially_but_are_still_probed():
    state = FeedState("rpp", FEED.url)
    waits = []
    for _ in range(8):
        state = polling.next_state(state, fetched("timeout"), False, S, NOW)
        waits.append((state.next_fetch_at - NOW) if state.next_fetch_at else timedelta(0))
    assert waits[0] == timedelta(0)  # one failure is retried on the next cycle
    assert waits[1] == timedelta(minutes=15) and waits[2] == timedelta(minutes=30)
    assert max(waits) == timedelta(hours=6)  # capped: a dead feed is still probed every 6 hours
    assert state.consecutive_failures == 8
    assert polling.due(state, NOW)[0] is False
    assert polling.due(state, NOW + timedelta(hours=6))[0] is True


def test_retry_after_is_honoured_and_gone_stops_polling():
    later = NOW + timedelta(hours=2)
    state = polling.next_state(
        FeedState("rpp", FEED.url), fetched("rate_limited", retry_after=later), False, S, NOW
    )
    assert state.next_fetch_at == later
    gone = polling.next_state(state, fetched("gone", status_code=410), False, S, NOW)
    assert polling.due(gone, NOW + timedelta(days=30)) == (False, "gone")


def test_permanent_moves_update_the_url_and_edited_urls_start_afresh():
    moved = polling.next_state(
        FeedState("rpp", FEED.url), fetched("ok", final_url="https://rpp.pe/feed"), False, S, NOW
    )
    assert moved.url == "https://rpp.pe/feed"
    assert polling.reconcile(FEED, moved, FEED.url) is moved
    edited = Feed("rpp", "https://rpp.pe/rss-nuevo")
    assert polling.reconcile(edited, moved, FEED.url) == FeedState("rpp", "https://rpp.pe/rss-nuevo")


def test_a_feed_rests_half_its_silence_within_the_bounds():
    minutes = timedelta(minutes=1)
    # Something new at its last poll: polled again after the shortest rest.
    assert polling.poll_interval(NOW, NOW, S) == 2 * minutes
    # Silent for 40 minutes before its last poll: 20 minutes' rest; for a day: the longest.
    assert polling.poll_interval(NOW, NOW - 40 * minutes, S) == 20 * minutes
    assert polling.poll_interval(NOW, NOW - timedelta(days=1), S) == 60 * minutes
    # Never had anything new, or never polled: the longest rest.
    assert polling.poll_interval(NOW, None, S) == 60 * minutes
    # A clock that went back (new item after the poll) counts as no silence.
    assert polling.poll_interval(NOW, NOW + 5 * minutes, S) == 2 * minutes
    narrow = Settings.from_env(env={"VIGIA_POLL_MIN_MINUTES": "5", "VIGIA_POLL_MAX_MINUTES": "10"})
    assert polling.poll_interval(NOW, NOW, narrow) == 5 * minutes
    assert polling.poll_interval(NOW, NOW - timedelta(days=3), narrow) == 10 * minutes


def test_rested_forgives_a_run_that_starts_a_little_early_and_can_be_turned_off():
    last = NOW - timedelta(minutes=2)
    assert polling.rested(None, None, NOW, S), "a feed never polled is due"
    assert polling.rested(last + timedelta(seconds=8), last, NOW, S), "1 min 52 s of a 2-minute rest"
    assert not polling.rested(last + timedelta(seconds=60), last, NOW, S)
    assert not polling.rested(NOW - timedelta(minutes=30), NOW - timedelta(hours=5), NOW, S)
    every_run = Settings.from_env(env={"VIGIA_POLL_MAX_MINUTES": "0"})
    assert polling.rested(NOW, NOW - timedelta(days=1), NOW, every_run)


def test_poll_bounds_are_checked():
    import pytest

    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="VIGIA_POLL_MIN_MINUTES=30 is above VIGIA_POLL_MAX_MINUTES=10"):
        Settings.from_env(env={"VIGIA_POLL_MIN_MINUTES": "30", "VIGIA_POLL_MAX_MINUTES": "10"})
    with pytest.raises(ConfigError, match="VIGIA_POLL_MAX_MINUTES"):
        Settings.from_env(env={"VIGIA_POLL_MAX_MINUTES": "-1"})
