"""Loading a cycle into DuckDB: one transaction, idempotent, bulk.

Everything arrives as Arrow tables (see ``pipeline.staging``) and goes in with set-based SQL,
never row by row. Loading the same batches twice changes nothing: articles are keyed by
``article_id``, fetches by (run_id, feed), and a batch carrying one article twice keeps one row
(the successfully extracted one, else the latest).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import duckdb
import pyarrow as pa

from pipeline.records import Classification, Feed
from pipeline.store import RunSummary, upsert_feeds

log = logging.getLogger(__name__)


class Classifier(Protocol):
    version: str

    def classify_many(self, items: Sequence[tuple[str, str, str | None]]) -> list[Classification]: ...


def load_cycle(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, pa.Table],
    feeds: Sequence[Feed],
    run_id: str,
    classifier: Classifier,
    now: datetime,
) -> RunSummary:
    """Load one cycle's staged tables in a single transaction and return its summary."""
    con.execute("begin transaction")
    try:
        for name, table in tables.items():
            con.register(f"_stage_{name}", table)
        upsert_feeds(con, feeds, now)
        _load_feed_states(con)
        _load_fetches(con, run_id)
        changed, updated = _load_articles(con, now)
        _load_sources(con)
        relevant = classify_articles(con, changed, classifier, now)
        _after_load(con, changed, now)
        summary = _summarise(con, run_id, len(changed) - updated, updated, relevant, classifier.version)
        started = con.execute("select min(started_at) from _stage_fetches").fetchone()[0] or now
        con.execute(
            "insert into runs select ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
            " where not exists (select 1 from runs where run_id = ?)",
            [run_id, started, now, summary.feeds_ok, summary.feeds_failed, summary.items_seen,
             summary.new_articles, summary.updated_articles, summary.relevant, summary.model_version, run_id],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        for name in tables:
            con.unregister(f"_stage_{name}")
    return summary


def _load_feed_states(con: duckdb.DuckDBPyConnection) -> None:
    # "requested": an HTTP request was sent (a deferred feed, or one already known gone, was not asked).
    con.execute(
        """
        update feeds set
            url = s.url,
            etag = s.etag,
            last_modified = s.last_modified,
            consecutive_failures = s.consecutive_failures,
            next_fetch_at = s.next_fetch_at,
            last_full_fetch_at = s.last_full_fetch_at,
            gone_at = case when s.gone then coalesce(feeds.gone_at, x.started_at) end,
            last_fetch_at = case when x.requested then x.started_at else feeds.last_fetch_at end,
            last_outcome = case when x.requested then x.outcome else feeds.last_outcome end,
            last_status_code = case when x.requested then x.status_code else feeds.last_status_code end,
            last_error = case when x.requested then x.error else feeds.last_error end,
            last_success_at = case when x.outcome in ('ok', 'not_modified') then x.started_at
                                   else feeds.last_success_at end,
            last_new_item_at = case when x.new_items > 0 then x.started_at else feeds.last_new_item_at end
        from _stage_states s
        join (
            select *, outcome <> 'deferred' and not (outcome = 'gone' and status_code is null) as requested
            from _stage_fetches
        ) x on x.feed = s.name
        where feeds.name = s.name
        """
    )


def _load_fetches(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    con.execute(
        """
        insert into fetches
        select distinct on (feed) ?, feed, url, started_at, outcome, status_code, bytes, duration_ms, error,
               items, new_items
        from _stage_fetches x
        where not exists (select 1 from fetches f where f.run_id = ? and f.feed = x.feed)
        """,
        [run_id, run_id],
    )


def _load_articles(con: duckdb.DuckDBPyConnection, now: datetime) -> tuple[list[str], int]:
    """Insert new articles, update changed ones (keeping revisions). Returns (changed ids, updated count)."""
    con.execute(
        """
        create or replace temp table _new as
        select * from _stage_articles
        qualify row_number() over (
            partition by article_id order by extraction_status = 'ok' desc, fetched_at desc) = 1
        """
    )
    con.execute(
        """
        create or replace temp table _change as
        select n.article_id,
               case
                 when a.article_id is null then 'new'
                 when a.extraction_status = 'ok' and n.extraction_status <> 'ok' then 'keep'
                 when a.extraction_status = 'ok' and a.content_hash <> n.content_hash then 'revised'
                 when a.content_hash <> n.content_hash then 'improved'
                 when a.entry_hash <> n.entry_hash or a.extraction_status <> n.extraction_status
                      or a.extraction_attempts <> n.extraction_attempts then 'touched'
                 else 'same'
               end as change
        from _new n left join articles a using (article_id)
        """
    )
    # An outlet's correction of an extracted article: the old text becomes a revision.
    con.execute(
        """
        insert into article_revisions
        select a.article_id, a.revision, a.title, a.summary, a.text, a.content_hash, a.fetched_at, ?
        from articles a join _change c using (article_id)
        where c.change = 'revised'
          and not exists (select 1 from article_revisions r
                          where r.article_id = a.article_id and r.revision = a.revision)
        """,
        [now],
    )
    con.execute(
        """
        update articles set
            title = n.title, summary = n.summary, text = n.text, author = n.author,
            published_at = coalesce(n.published_at, articles.published_at),
            fetched_at = n.fetched_at, language = n.language,
            extraction_status = n.extraction_status, extraction_error = n.extraction_error,
            extraction_attempts = n.extraction_attempts, entry_hash = n.entry_hash,
            content_hash = n.content_hash,
            revision = articles.revision + (c.change = 'revised')::integer,
            updated_at = ?
        from _new n join _change c using (article_id)
        where articles.article_id = n.article_id and c.change in ('revised', 'improved', 'touched')
        """,
        [now],
    )
    # The page could not be fetched again: keep the good text, remember what the feed now says.
    con.execute(
        """
        update articles set entry_hash = n.entry_hash, summary = n.summary, updated_at = ?
        from _new n join _change c using (article_id)
        where articles.article_id = n.article_id and c.change = 'keep' and articles.entry_hash <> n.entry_hash
        """,
        [now],
    )
    con.execute(
        """
        insert into articles (article_id, url, feed, guid, title, summary, text, author, published_at,
                              fetched_at, language, extraction_status, extraction_error, extraction_attempts,
                              entry_hash, content_hash, revision, first_seen_at, updated_at)
        select n.article_id, n.url, n.feed, n.guid, n.title, n.summary, n.text, n.author, n.published_at,
               n.fetched_at, n.language, n.extraction_status, n.extraction_error, n.extraction_attempts,
               n.entry_hash, n.content_hash, 1, ?, ?
        from _new n join _change c using (article_id)
        where c.change = 'new'
        """,
        [now, now],
    )
    rows = con.execute(
        "select article_id, change from _change where change in ('new', 'revised', 'improved') order by article_id"
    ).fetchall()
    return [r[0] for r in rows], sum(1 for r in rows if r[1] == "revised")


def _load_sources(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        insert into article_sources
        select s.article_id, s.feed, min(s.seen_at)
        from _stage_sightings s
        where exists (select 1 from articles a where a.article_id = s.article_id)
          and not exists (select 1 from article_sources x where x.article_id = s.article_id and x.feed = s.feed)
        group by s.article_id, s.feed
        """
    )


def classify_articles(
    con: duckdb.DuckDBPyConnection, article_ids: Sequence[str], classifier: Classifier, now: datetime
) -> int:
    """Score these stored articles with ``classifier``; replaces that version's earlier rows. Returns #relevant."""
    if not article_ids:
        return 0
    ids = pa.table({"article_id": pa.array(list(article_ids), pa.string())})
    con.register("_classify_ids", ids)
    try:
        rows = con.execute(
            "select a.article_id, coalesce(a.title, ''), coalesce(a.text, ''), a.language"
            " from articles a join _classify_ids using (article_id) order by a.article_id"
        ).fetchall()
    finally:
        con.unregister("_classify_ids")
    results = classifier.classify_many([(r[1], r[2], r[3]) for r in rows])
    table = classifications_table([r[0] for r in rows], results, now)
    con.register("_classified", table)
    try:
        con.execute(
            "delete from classifications c using _classified n"
            " where c.article_id = n.article_id and c.model_version = n.model_version"
        )
        con.execute("insert into classifications select * from _classified")
    finally:
        con.unregister("_classified")
    return sum(1 for c in results if c.is_relevant)


def classifications_table(article_ids: Sequence[str], results: Sequence[Classification], now: datetime) -> pa.Table:
    return pa.table(
        {
            "article_id": pa.array(list(article_ids), pa.string()),
            "model_version": pa.array([c.model_version for c in results], pa.string()),
            "score": pa.array([float(c.score) for c in results], pa.float64()),
            "is_relevant": pa.array([bool(c.is_relevant) for c in results], pa.bool_()),
            "topics": pa.array([list(c.topics) for c in results], pa.list_(pa.string())),
            "departments": pa.array([[p.ubigeo for p in c.places] for c in results], pa.list_(pa.string())),
            "evidence": pa.array([evidence_json(c) for c in results], pa.string()),
            "classified_at": pa.array([now] * len(results), pa.timestamp("us", tz="UTC")),
        }
    )


def evidence_json(c: Classification) -> str:
    e = c.evidence
    return json.dumps(
        {
            "terms": [[t, round(w, 4)] for t, w in e.terms],
            "nearest_seed": e.nearest_seed,
            "seed_similarity": round(e.seed_similarity, 4),
            "notes": list(e.notes),
            "places": [{"ubigeo": p.ubigeo, "name": p.name, "mentions": p.mentions} for p in c.places],
        },
        ensure_ascii=False,
    )


def _after_load(con: duckdb.DuckDBPyConnection, changed: Sequence[str], now: datetime) -> None:
    """Derived tables kept in step with the articles, inside the same transaction."""


def _summarise(
    con: duckdb.DuckDBPyConnection, run_id: str, new: int, updated: int, relevant: int, model_version: str
) -> RunSummary:
    ok, failed, deferred, items = con.execute(
        """
        select count(*) filter (where outcome in ('ok', 'not_modified')),
               count(*) filter (where outcome not in ('ok', 'not_modified', 'deferred')),
               count(*) filter (where outcome = 'deferred'),
               coalesce(sum(items), 0)
        from _stage_fetches
        """
    ).fetchone()
    return RunSummary(run_id, ok, failed, deferred, int(items), new, updated, relevant, model_version)
