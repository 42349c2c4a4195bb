"""A cycle's own work in proportion to what changed (issue 20): an unchanged feeds.toml is not parsed
again, the plan reads only the feeds it plans, and a clean 304 gets no fetch-log row while every
count (runs, run_outcomes, source_health, feed-health alerts) stays what a full log would give."""

from __future__ import annotations

import os
import random
import shutil
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest

from pipeline import registry, store
from pipeline import tasks as ingest
from pipeline.collect import polling
from pipeline.errors import ConfigError
from pipeline.load import transaction
from pipeline.records import FeedState
from pipeline.store import reads
from pipeline.store.schema import migrate
from tests.conftest import make_settings
from tests.localweb import Route


def query(settings, sql, params=None):
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture
def parses(monkeypatch):
    """Every parse of a registry's bytes, by path (what an unchanged registry must not cost)."""
    seen: list[str] = []
    original = registry.parse_registry

    def counting(path, raw):
        seen.append(str(path))
        return original(path, raw)

    monkeypatch.setattr(registry, "parse_registry", counting)
    return seen


# ---------------------------------------------------------------- the registry, read in proportion to its changes


def test_an_unchanged_registry_is_neither_parsed_nor_upserted_again(sample_settings, sample_web, parses):
    ingest.run_once(sample_settings)
    assert parses, "a new database: the registry is parsed and checked"
    (key,) = query(sample_settings, "select key from registry_applied")
    assert key[0] == registry.read_registry(sample_settings.feeds_path).key
    parses.clear()
    upserts = []
    original = transaction.upsert_feeds
    transaction.upsert_feeds = lambda *a: upserts.append(a) or original(*a)
    try:
        ingest.run_once(sample_settings)
        assert ingest.plan(sample_settings, only_due=True, now=datetime.now(UTC) + timedelta(hours=2))
    finally:
        transaction.upsert_feeds = original
    assert parses == [] and upserts == []
    # The plan read from the feeds table is the plan the parsed registry gives.
    fast = [job for batch in ingest.plan(sample_settings) for job in batch]
    with store.open_db(sample_settings, read_only=True) as con:
        stored = {feed.name: (state, feed.url) for feed, state, _, _ in reads.feed_states(con)}
        slow = ingest.plan_jobs(registry.load_feeds(sample_settings.feeds_path), stored)
    assert fast == slow


def test_any_byte_changed_is_parsed_and_checked_whole(loaded_settings, sample_web, parses):
    path = loaded_settings.feeds_path
    good = path.read_bytes()
    stat = path.stat()
    # Same size, same modification time, other bytes: a mistake that only a hash sees.
    bad = (
        good.replace(b"enabled", b"enabler", 1)
        if b"enabled" in good
        else good.replace(b"name =", b"nane =", 1)
    )
    assert len(bad) == len(good) and bad != good
    path.write_bytes(bad)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    parses.clear()
    with pytest.raises(ConfigError) as caught:
        ingest.plan(loaded_settings)
    assert str(caught.value) == _message(path)
    with pytest.raises(ConfigError):
        ingest.run_once(loaded_settings)
    assert parses  # parsed, not taken from the database
    # A valid change is applied once, then not parsed again.
    path.write_bytes(good.replace(b'language = "es"', b'language = "es-PE"', 1))
    parses.clear()
    ingest.run_once(loaded_settings)
    assert len(parses) == 1
    assert ("es-PE",) in query(loaded_settings, "select language from feeds")
    parses.clear()
    ingest.run_once(loaded_settings)
    assert parses == []


def _message(path) -> str:
    try:
        registry.load_feeds(path)
    except ConfigError as exc:
        return str(exc)
    raise AssertionError("the registry was meant to be wrong")


@pytest.mark.parametrize(
    "damage",
    [
        "update registry_applied set key = 'v1:' || repeat('0', 64)",  # another registry's
        "update registry_applied set key = left(key, 20)",  # truncated
        "update registry_applied set key = replace(key, 'v1:', 'v0:')",  # older rules
        "update registry_applied set key = '' ",
        "insert into registry_applied select * from registry_applied",  # two rows
        "delete from registry_applied",
        "update registry_applied set feeds_digest = feeds_digest + 1",
        # the feeds rows edited behind the load's back: a URL the registry never had
        "update feeds set configured_url = 'http://user:pass@127.0.0.1/x' where registry_position = 1",
        "update feeds set enabled = false where registry_position = 2",
    ],
)
def test_a_damaged_key_is_ignored_and_the_registry_parsed_again(loaded_settings, sample_web, parses, damage):
    # The session's cycle applied this very registry (the same bytes): the damage alone makes it stale.
    (key,) = query(loaded_settings, "select key from registry_applied")
    assert key[0] == registry.read_registry(loaded_settings.feeds_path).key
    with duckdb.connect(str(loaded_settings.db_path)) as con:
        con.execute(damage)
    parses.clear()
    ingest.run_once(loaded_settings)
    assert len(parses) == 1  # once for the plan and the load (one Registry read by run_once)
    (key,) = query(loaded_settings, "select key from registry_applied")
    assert key[0] == registry.read_registry(loaded_settings.feeds_path).key
    feeds = registry.load_feeds(loaded_settings.feeds_path)
    stored = query(
        loaded_settings, "select name, configured_url, enabled from feeds order by registry_position"
    )
    assert stored == [(f.name, f.url, f.enabled) for f in feeds]


def test_feeds_given_as_a_list_leave_no_key(loaded_settings, sample_web):
    assert query(loaded_settings, "select count(*) from registry_applied") == [(1,)]  # the registry's
    feeds = registry.load_feeds(loaded_settings.feeds_path)
    jobs = [job for batch in ingest.plan(loaded_settings) for job in batch]
    from pipeline import staging

    ingest.load(
        loaded_settings, staging.batch_tables(ingest.collect(loaded_settings, jobs)), "list", feeds=feeds
    )
    assert query(loaded_settings, "select count(*) from registry_applied") == [(0,)]


def test_a_mass_disable_in_a_changed_registry_is_still_refused(loaded_settings, sample_web):
    text = loaded_settings.feeds_path.read_text(encoding="utf-8")
    loaded_settings.feeds_path.write_text(
        text.replace('url = "', 'enabled = false\nurl = "'), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="disables 4 of the 4 enabled feeds"):
        ingest.run_once(loaded_settings)


# ---------------------------------------------------------------- the fetch log, in proportion to changes


def test_clean_304s_add_no_fetch_rows_and_every_count_stays_exact(sample_settings, sample_web, monkeypatch):
    staged = _capture_staged_fetches(monkeypatch)
    summaries = []
    failing = None
    for cycle in range(7):
        if cycle == 4:  # one feed fails twice, then answers 304 again
            failing = next(p for p, _ in sample_web.requests if p.endswith("feed.xml"))
            saved = sample_web.routes[failing]
            sample_web.routes[failing] = Route(status=500, etag=False)
        if cycle == 6:
            sample_web.routes[failing] = saved
        summaries.append(ingest.run_once(sample_settings))
    rows = dict(query(sample_settings, "select run_id, count(*) from fetches group by 1"))
    runs = [s.run_id for s in summaries]
    # 200s, first 304s (a change), then clean 304s: nothing; the failing feed: its rows; then its 304.
    assert [rows.get(r, 0) for r in runs] == [4, 4, 0, 0, 1, 1, 1]
    outcomes = query(sample_settings, "select run_id, outcome, feeds, logged from run_outcomes")
    for summary in summaries:
        mine = {o: (n, logged) for r, o, n, logged in outcomes if r == summary.run_id}
        expected = {}
        for row in staged[summary.run_id]:
            expected[row["outcome"]] = expected.get(row["outcome"], 0) + 1
        assert {o: n for o, (n, _) in mine.items()} == expected
        assert sum(logged for _, logged in mine.values()) == rows.get(summary.run_id, 0)
        ok = sum(n for o, (n, _) in mine.items() if o in ("ok", "not_modified"))
        deferred = mine.get("deferred", (0, 0))[0]
        failed = sum(n for n, _ in mine.values()) - ok - deferred
        assert (summary.feeds_ok, summary.feeds_failed, summary.feeds_deferred) == (ok, failed, deferred)
        (stored,) = query(
            sample_settings, "select feeds_ok, feeds_failed from runs where run_id = ?", [summary.run_id]
        )
        assert stored == (summary.feeds_ok, summary.feeds_failed)
    # The feeds' counts of the clean 304s since their last row, and the rows' counts of theirs.
    quiet = dict(query(sample_settings, "select name, quiet_polls from feeds"))
    assert sorted(quiet.values()) == [0, 5, 5, 5]
    assert query(sample_settings, "select sum(quiet_polls) from fetches") == [(2,)]  # the failing feed's


def test_source_health_and_feed_health_say_what_a_full_log_says(
    sample_settings, sample_web, monkeypatch, tmp_path
):
    """The same cycles, with the fetch log as it was (a row for every feed polled) rebuilt beside it."""
    staged = _capture_staged_fetches(monkeypatch)
    feeds = [p for p in sample_web.routes if p.endswith("feed.xml")]
    saved = {p: sample_web.routes[p] for p in feeds}
    plan = [{}, {}, {}, {feeds[0]: 500}, {feeds[0]: 500}, {}, {feeds[1]: 503}, {}, {}]
    for i, changes in enumerate(plan):
        for path in feeds:
            sample_web.routes[path] = saved[path]
        for path, status in changes.items():
            sample_web.routes[path] = Route(status=status, etag=False)
        if i == 5:  # an outlet publishes: a 200 with something new after 304s
            body = saved[feeds[2]].body.replace(
                b"<item>", b"<item><title>Nuevo</title><link>/x-new.html</link>", 1
            )
            saved[feeds[2]] = Route(body=body, content_type=saved[feeds[2]].content_type)
            sample_web.routes[feeds[2]] = saved[feeds[2]]
        ingest.run_once(sample_settings)
    full = tmp_path / "full.duckdb"
    shutil.copy(sample_settings.db_path, full)
    with duckdb.connect(str(full)) as con:
        con.execute("delete from fetches")
        con.execute("update feeds set quiet_polls = 0")
        for run_id, rows in staged.items():
            for r in rows:
                con.execute(
                    "insert into fetches (run_id, feed, url, started_at, outcome, status_code, bytes, duration_ms,"
                    " error, items, new_items) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        run_id,
                        r["feed"],
                        r["url"],
                        r["started_at"],
                        r["outcome"],
                        r["status_code"],
                        r["bytes"],
                        r["duration_ms"],
                        r["error"],
                        r["items"],
                        r["new_items"],
                    ],
                )
    assert sum(len(r) for r in staged.values()) > query(sample_settings, "select count(*) from fetches")[0][0]
    health = "select * exclude (silent_for, silent_hours) from source_health order by feed"
    from pipeline import sql

    for now in (None, timedelta(days=2)):
        answers = []
        for db in (sample_settings.db_path, full):
            with duckdb.connect(str(db)) as con:
                if now is not None:  # the same answers two days on (no fetch left the 7 days)
                    _shift(con, -now)
                answers.append(
                    (con.execute(health).fetchall(), sql.execute(con, "alerts/feed_health").fetchall())
                )
        assert answers[0] == answers[1]
        assert any(row[-4] > 0 for row in answers[0][0])  # fetches_7d counted something


def _shift(con, delta):
    """Move every time of the fetch log and the feeds back, as if ``-delta`` had passed."""
    for table, columns in {
        "fetches": ["started_at", "quiet_since", "quiet_until"],
        "feeds": [
            "added_at",
            "last_fetch_at",
            "last_success_at",
            "last_new_item_at",
            "last_full_fetch_at",
            "next_fetch_at",
            "gone_at",
            "logged_at",
        ],
    }.items():
        sets = ", ".join(f"{c} = {c} + ?" for c in columns)
        con.execute(f"update {table} set {sets}", [delta] * len(columns))


def _capture_staged_fetches(monkeypatch) -> dict[str, list[dict]]:
    """Every run's staged fetches as the load saw them (what the fetch log once held in full)."""
    staged: dict[str, list[dict]] = {}
    original = transaction._load_fetches

    def capturing(con, run_id):
        cursor = con.execute("select distinct on (feed) * from _stage_fetches")
        names = [d[0] for d in cursor.description]
        staged[run_id] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return original(con, run_id)

    monkeypatch.setattr(transaction, "_load_fetches", capturing)
    return staged


def test_a_load_retried_counts_its_clean_304s_once(sample_settings, sample_web):
    from pipeline import staging

    for _ in range(2):
        ingest.run_once(sample_settings)
    jobs = [job for batch in ingest.plan(sample_settings) for job in batch]
    tables = staging.batch_tables(ingest.collect(sample_settings, jobs))
    reg = registry.read_registry(sample_settings.feeds_path)
    for _ in range(2):
        ingest.load(sample_settings, tables, "again", feeds=reg)
    assert query(sample_settings, "select distinct quiet_polls from feeds") == [(1,)]
    assert query(
        sample_settings, "select outcome, feeds, logged from run_outcomes where run_id = 'again'"
    ) == [("not_modified", 4, 0)]


# ---------------------------------------------------------------- the scheduler's due check, in SQL


def test_the_due_filter_keeps_every_feed_the_policy_finds_due(tmp_path):
    """store/feed_states.sql's due filter against polling.due and polling.rested, on varied states and settings."""
    rng = random.Random(20)
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    con = duckdb.connect(str(tmp_path / "due.duckdb"))
    migrate(con)
    rows = []
    for i in range(3000):

        def near():
            return rng.choice([None, now + timedelta(seconds=rng.uniform(-3 * 86400, 9 * 86400))])

        last_fetch = rng.choice([None, now - timedelta(seconds=rng.uniform(0, 7200))])
        last_new = (
            rng.choice([None, last_fetch - timedelta(seconds=rng.uniform(0, 86400 * 2))])
            if last_fetch
            else None
        )
        rows.append(
            (
                f"f{i:05d}",
                f"https://h{i % 7}.pe/{i}",
                rng.choice([0, 0, 0, 1, 3]),
                near(),
                rng.choice([None, None, now - timedelta(days=1)]),
                last_fetch,
                last_new,
                i + 1,
            )
        )
    # As an Arrow table: DuckDB's executemany binds row by row, and tries to import pandas for each value.
    columns = ["name", "url", "consecutive_failures", "next_fetch_at", "gone_at", "last_fetch_at"]
    columns += ["last_new_item_at", "registry_position"]
    con.register("stored", pa.Table.from_pylist([dict(zip(columns, row, strict=True)) for row in rows]))
    con.execute(f"insert into feeds (configured_url, {', '.join(columns)}) select url, * from stored")
    for poll_min, poll_max, backoff_max in [(2, 60, 6), (0, 0, 6), (5, 30, 150), (10, 10, 1)]:
        settings = make_settings(
            tmp_path, "", poll_min_minutes=poll_min, poll_max_minutes=poll_max, backoff_max_hours=backoff_max
        )
        kept = {feed.name for feed, *_ in reads.planned_feeds(con, polling.due_filter(settings, now))}
        policy = set()
        for name, url, failures, next_at, gone_at, last_fetch, last_new, _ in rows:
            state = FeedState(
                name, url, consecutive_failures=failures, next_fetch_at=next_at, gone=gone_at is not None
            )
            if not polling.due(state, now, settings)[0]:
                continue
            if failures == 0 and not polling.rested(last_fetch, last_new, now, settings):
                continue
            policy.add(name)
        assert policy <= kept, sorted(policy - kept)[:5]
        assert len(kept - policy) <= len(rows) // 100  # a second of slack, no more
        assert 0 < len(policy) < len(rows) or poll_max == 0
    con.close()


def test_the_scheduler_plans_what_the_policy_says_from_the_feeds_table(sample_settings, sample_web):
    ingest.run_once(sample_settings)
    polled = query(sample_settings, "select max(last_fetch_at) from feeds")[0][0]
    every = sorted(job.feed.name for batch in ingest.plan(sample_settings) for job in batch)
    with duckdb.connect(str(sample_settings.db_path)) as con:
        con.execute(
            "update feeds set last_new_item_at = last_fetch_at - interval 1 day where name = ?", [every[0]]
        )
        con.execute("update feeds set gone_at = now() where name = ?", [every[1]])
    for minutes in (1, 2, 30, 61):
        now = polled + timedelta(minutes=minutes)
        planned = sorted(j.feed.name for b in ingest.plan(sample_settings, only_due=True, now=now) for j in b)
        with store.open_db(sample_settings, read_only=True) as con:
            stored = reads.feed_states(con)
        feeds = registry.load_feeds(sample_settings.feeds_path)
        states = {feed.name: (state, feed.url) for feed, state, _, _ in stored}
        slow = ingest.due_jobs(ingest.plan_jobs(feeds, states), stored, sample_settings, now)
        assert planned == sorted(j.feed.name for j in slow)
