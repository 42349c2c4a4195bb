"""Whole cycles against the sample web on 127.0.0.1, into real DuckDB files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pytest

from pipeline import staging
from pipeline import tasks as ingest
from pipeline.collect.batch import Batch
from tests.conftest import REPO, make_settings, warm_model_cache
from tests.localweb import SAMPLE_SITE, Route, sample_feeds_toml

SITE = json.loads(SAMPLE_SITE.read_text(encoding="utf-8"))
ITEMS = sum(len(o["articles"]) for o in SITE["outlets"])


def query(settings, sql, params=None):
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_every_item_becomes_exactly_one_article_with_its_body(sample_settings):
    summary = ingest.run_once(sample_settings)
    assert (summary.feeds_ok, summary.feeds_failed, summary.new_articles) == (4, 0, ITEMS)
    rows = query(sample_settings, "select url, title, text, extraction_status, language, feed from articles")
    assert len(rows) == ITEMS
    by_slug = {url.rsplit("/", 1)[1].removesuffix(".html"): row for url, *row in rows}
    for outlet in SITE["outlets"]:
        for article in outlet["articles"]:
            title, text, status, language, feed = by_slug[article["slug"]]
            assert status == "ok" and feed == outlet["slug"] and language == outlet["language"]
            assert title == article["title"]
            assert all(p in text for p in article["paragraphs"])
            assert outlet["footer"] not in text and outlet["most_read_label"] not in text
    assert all("utm_" not in url for url, *_ in rows)
    classified = query(sample_settings, "select count(*), count(distinct model_version) from classifications")
    assert classified == [(ITEMS, 1)]
    assert "articles 12 new" in summary.line()


def test_second_cycle_is_answered_304_and_adds_nothing(sample_settings, sample_web):
    ingest.run_once(sample_settings)
    before = query(sample_settings, "select count(*) from articles")[0][0]
    page_hits = sum(1 for path, _ in sample_web.requests if path.endswith(".html"))
    summary = ingest.run_once(sample_settings)
    assert summary.new_articles == 0 and summary.items_seen == 0
    assert query(sample_settings, "select count(*) from articles")[0][0] == before
    assert query(sample_settings, "select count(*) from classifications")[0][0] == before
    outcomes = query(sample_settings, "select outcome, count(*) from fetches group by 1 order by 1")
    assert outcomes == [("not_modified", 4), ("ok", 4)]
    feed_requests = [h for p, h in sample_web.requests if p.endswith("feed.xml")]
    assert all("if-none-match" in h for h in feed_requests[4:])
    assert sum(1 for path, _ in sample_web.requests if path.endswith(".html")) == page_hits


def test_loading_the_same_batches_twice_adds_no_row(sample_settings):
    feeds = ingest.load_feeds(sample_settings.feeds_path)
    batch = Batch()
    for jobs in ingest.plan(sample_settings):
        batch.extend(ingest.collect(sample_settings, jobs))
    batch.articles += batch.articles[:3]  # the same article twice in one batch keeps one row
    tables = staging.batch_tables(batch)
    ingest.load(sample_settings, tables, "run-1", feeds=feeds)
    counts = {
        t: query(sample_settings, f"select count(*) from {t}")[0][0]
        for t in ("articles", "classifications", "article_sources", "fetches", "feeds", "runs")
    }
    ingest.load(sample_settings, tables, "run-1", feeds=feeds)
    assert counts == {t: query(sample_settings, f"select count(*) from {t}")[0][0] for t in counts}
    assert counts["articles"] == ITEMS


def test_an_updated_item_is_stored_as_a_revision(loaded_settings, sample_web):
    path = "/lima-post/bus-drivers-extortion-strike.html"
    feed = sample_web.routes["/lima-post/feed.xml"]
    sample_web.routes["/lima-post/feed.xml"] = Route(
        body=feed.body.replace(b"Lima bus drivers strike again", b"UPDATED: Lima bus drivers strike again"),
        content_type=feed.content_type,
    )
    page = sample_web.routes[path]
    sample_web.routes[path] = Route(body=page.body.replace(b"Thousands of bus", b"Tens of thousands of bus"))
    summary = ingest.run_once(loaded_settings)
    assert (summary.new_articles, summary.updated_articles) == (0, 1)
    ((revision, text),) = query(
        loaded_settings, "select revision, text from articles where url like ?", [f"%{path}"]
    )
    assert revision == 2 and "Tens of thousands" in text
    (old,) = query(loaded_settings, "select text from article_revisions where revision = 1")
    assert "Thousands of bus" in old[0] and "Tens of thousands" not in old[0]
    assert query(loaded_settings, "select count(*) from articles")[0][0] == ITEMS


def test_a_page_that_fails_is_stored_from_the_feed_with_its_reason_and_retried(sample_settings, sample_web):
    path = "/diario-sur/dolar-cierra-semana-baja.html"
    sample_web.routes[path] = Route(body=b"oops", status=500, etag=False)
    ingest.run_once(sample_settings)
    (row,) = query(
        sample_settings,
        "select extraction_status, extraction_error, title, text, extraction_attempts"
        " from articles where url like ?",
        [f"%{path}"],
    )
    assert (
        row[0] == "http_error" and "500" in row[1] and row[2].startswith("Dólar") and row[3] and row[4] == 1
    )
    # Feeds answer 304 from now on; the failed page is still retried (the feed is forced to a full GET).
    with duckdb.connect(str(sample_settings.db_path)) as con:
        con.execute("update feeds set etag = null, last_modified = null")
    sample_web.routes[path] = sample_web.routes["/diario-sur/paro-transportistas-sjl-extorsion.html"]
    ingest.run_once(sample_settings)
    (row,) = query(
        sample_settings,
        "select extraction_status, extraction_attempts from articles where url like ?",
        [f"%{path}"],
    )
    assert row == ("ok", 2)


def test_bad_feeds_are_recorded_and_the_run_goes_on(tmp_path, sample_web):
    sample_web.routes["/broken.xml"] = Route(body=b"<html><body>Not a feed</body></html>")
    sample_web.routes["/error.xml"] = Route(body=b"", status=500, etag=False)
    toml = sample_feeds_toml(sample_web.base) + "".join(
        f'[[feed]]\nname = "{n}"\nurl = "{sample_web.url(p)}"\n\n'
        for n, p in [("broken", "/broken.xml"), ("error", "/error.xml"), ("missing", "/missing.xml")]
    )
    toml += '[[feed]]\nname = "far"\nurl = "http://127.0.0.9:9/feed.xml"\n'
    settings = make_settings(tmp_path, toml)
    summary = ingest.run_once(settings)
    assert (summary.feeds_ok, summary.feeds_failed, summary.new_articles) == (4, 4, ITEMS)
    outcomes = dict(query(settings, "select feed, outcome from fetches"))
    assert outcomes["broken"] == "not_a_feed" and outcomes["error"] == "http_error"
    assert outcomes["missing"] == "http_error" and outcomes["far"] == "blocked"
    (failures,) = query(settings, "select consecutive_failures from feeds where name = 'error'")
    assert failures == (1,)


def run_cli(*args, env=None, cwd=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        timeout=300,
    )


def test_cli_run_prints_one_line_and_reads_the_environment(tmp_path, sample_web):
    (tmp_path / "feeds.toml").write_text(sample_feeds_toml(sample_web.base))
    warm_model_cache(tmp_path)
    env = {
        "VIGIA_FEEDS": str(tmp_path / "feeds.toml"),
        "VIGIA_DB": str(tmp_path / "v.duckdb"),
        "VIGIA_ALLOW_NETWORKS": "127.0.0.1/32",
    }
    result = run_cli("run", env=env)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.strip().splitlines()
    assert "feeds 4 ok, 0 failed" in line and "articles 12 new" in line
    result = run_cli("run", "--db", str(tmp_path / "other.duckdb"), env=env)
    assert result.returncode == 0 and (tmp_path / "other.duckdb").exists()


@pytest.mark.parametrize(
    ("feeds", "message"),
    [("[[feed]]\nname = 'x'\nurl = 'ftp://a'\n", "url must be"), ("not toml [", "not valid TOML")],
)
def test_cli_exits_2_on_bad_configuration(tmp_path, feeds, message):
    (tmp_path / "feeds.toml").write_text(feeds)
    result = run_cli("run", "--feeds", str(tmp_path / "feeds.toml"), "--db", str(tmp_path / "v.duckdb"))
    assert result.returncode == 2 and message in result.stderr


def test_cli_exits_2_on_a_bad_allow_list(tmp_path):
    result = run_cli("run", "--feeds", str(REPO / "feeds.toml"), env={"VIGIA_ALLOW_NETWORKS": "nonsense"})
    assert result.returncode == 2 and "VIGIA_ALLOW_NETWORKS" in result.stderr


@pytest.mark.parametrize("in_workers", [True, False], ids=["many pages: the workers", "few pages: the load"])
def test_pages_are_classified_in_the_workers_as_the_load_would_classify_them(
    sample_settings, monkeypatch, in_workers
):
    from pipeline.classify.versions import base_model
    from pipeline.extract import workers

    # The sample web's 12 pages stand for the hundred from which the workers classify.
    monkeypatch.setattr(workers, "CLASSIFY_IN_WORKERS_FROM", 1 if in_workers else ITEMS + 1)
    jobs = [job for batch in ingest.plan(sample_settings) for job in batch]
    batch = ingest.collect(sample_settings, jobs)
    assert batch.cpu["extract"] > 0 and batch.cpu["parse"] > 0
    model, articles = base_model(), {a.article_id: a for a in batch.articles}
    if in_workers:
        assert len(batch.classified) == ITEMS and batch.cpu["classify"] > 0
    else:
        assert batch.classified == [] and batch.cpu["classify"] == 0
    for article_id, content_hash, verdict in batch.classified:
        article = articles[article_id]
        assert content_hash == article.content_hash
        assert verdict == model.classify(article.title, article.text, article.language)
    ingest.load(sample_settings, staging.batch_tables(batch), "run-1")
    stored = dict(query(sample_settings, "select article_id, score from classifications"))
    assert stored == {
        a.article_id: model.classify(a.title, a.text, a.language).score for a in articles.values()
    }


def test_an_unchanged_cycle_builds_no_model_and_records_none(sample_settings):
    first = ingest.run_once(sample_settings)
    second = ingest.run_once(sample_settings)
    assert first.model_version.startswith("base-") and second.model_version is None
    versions = query(sample_settings, "select model_version from runs order by finished_at")
    assert versions == [(first.model_version,), (None,)]


def test_a_batch_repr_is_short_whatever_it_holds():
    # asyncio.run() renders the repr of the task that returned the batch (Python 3.11): it must not
    # render every article's text.
    from datetime import UTC, datetime

    from pipeline.records import Article

    text = "extorsión " * 2_000
    article = Article(
        article_id="a1", url=None, feed="f", guid=None, title="t", summary="s", text=text, author=None,
        published_at=None, fetched_at=datetime.now(UTC), language="es", extraction_status="ok",
        extraction_error=None, entry_hash="e", content_hash="c",
    )  # fmt: skip
    batch = Batch(articles=[article] * 1_000)
    assert repr(batch) == "Batch(0 fetches, 1000 articles, 0 classified)"


def test_the_scheduler_plans_only_the_feeds_due_at_their_own_rhythm(sample_settings, sample_web):
    from datetime import UTC, datetime, timedelta

    def due_at(now):
        return sorted(
            job.feed.name for batch in ingest.plan(sample_settings, only_due=True, now=now) for job in batch
        )

    every = sorted(job.feed.name for batch in ingest.plan(sample_settings) for job in batch)
    assert due_at(datetime.now(UTC)) == every, "never polled: all due"
    ingest.run_once(sample_settings)
    polled_at = query(sample_settings, "select max(last_fetch_at) from feeds")[0][0]
    # Every feed had something new at that poll: each rests the shortest time (2 minutes).
    assert due_at(polled_at + timedelta(seconds=30)) == []
    assert due_at(polled_at + timedelta(minutes=2)) == every
    # A feed silent for a day before its last poll rests the longest (an hour); one failing follows
    # its back-off instead; the CLI's cycle still plans every feed.
    quiet, failing = every[0], every[1]
    with duckdb.connect(str(sample_settings.db_path)) as con:
        con.execute(
            "update feeds set last_new_item_at = last_fetch_at - interval 1 day where name = ?", [quiet]
        )
        con.execute(
            "update feeds set consecutive_failures = 2, next_fetch_at = ? where name = ?",
            [polled_at + timedelta(minutes=30), failing],
        )
    assert due_at(polled_at + timedelta(minutes=2)) == every[2:]
    assert due_at(polled_at + timedelta(minutes=31)) == every[1:]
    assert due_at(polled_at + timedelta(minutes=60)) == every
    assert sorted(job.feed.name for batch in ingest.plan(sample_settings) for job in batch) == every


def test_a_scheduler_run_with_no_feed_due_plans_no_batch(sample_settings, sample_web):
    ingest.run_once(sample_settings)
    requests = len(sample_web.requests)
    assert ingest.plan_to_files(sample_settings, "scheduled-nothing-due") == []
    assert not ingest.run_staging_dir(sample_settings, "scheduled-nothing-due").exists()
    assert len(sample_web.requests) == requests


def test_a_feed_answering_304_again_moves_only_its_times_and_any_change_is_stored_whole(
    sample_settings, sample_web
):
    columns = (
        "name, url, etag, last_modified, consecutive_failures, next_fetch_at, last_full_fetch_at, gone_at,"
        " last_outcome, last_status_code, last_error, last_new_item_at"
    )
    ingest.run_once(sample_settings)
    ingest.run_once(sample_settings)  # 304: the last outcome becomes a clean 304
    before = query(sample_settings, f"select {columns}, last_fetch_at from feeds order by name")
    ingest.run_once(sample_settings)  # 304 again: the times move, nothing else
    after = query(
        sample_settings, f"select {columns}, last_fetch_at, last_success_at from feeds order by name"
    )
    assert [row[:-2] for row in after] == [row[:-1] for row in before]
    assert all(a[-2] > b[-1] and a[-1] == a[-2] for a, b in zip(after, before, strict=True))
    # A feed that fails next has its whole state stored.
    failing = next(path for path, _ in sample_web.requests if path.endswith("feed.xml"))
    sample_web.routes[failing] = Route(status=500, etag=False)
    ingest.run_once(sample_settings)
    rows = query(sample_settings, "select last_outcome, last_status_code, consecutive_failures from feeds")
    assert sorted(rows) == [("http_error", 500, 1)] + [("not_modified", 304, 0)] * 3
