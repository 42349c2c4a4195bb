"""Loading a cycle into DuckDB: one transaction, idempotent, bulk.

Everything arrives as Arrow tables (see ``pipeline.staging``) and goes in with set-based SQL,
never row by row. Loading the same batches twice changes nothing: articles are keyed by
``article_id``, fetches by (run_id, feed), and a batch carrying one article twice keeps one row
(the successfully extracted one, else the latest).

The run's counts are exact and disjoint: ``new`` articles were never stored before; ``revised``
ones were extracted before and the outlet changed their text (the old text is kept as a
revision, at most ``max_revisions_per_day`` in 24 hours: a later change is ``held`` until then);
``retried`` ones had their page fetched again after a failure or a deferral; ``waiting`` entries
are those in the backlog after the load, for later cycles (``pipeline.backlog``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import duckdb
import pyarrow as pa

from pipeline.collect import backlog
from pipeline.load import stories
from pipeline.publish import search
from pipeline.records import Classification, Feed, RunSummary
from pipeline.registry import check_disabling
from pipeline.settings import Settings
from pipeline.store import transaction
from pipeline.store.reads import enabled_feeds

log = logging.getLogger(__name__)


class Classifier(Protocol):
    @property
    def version(self) -> str: ...

    def classify_many(self, items: Sequence[tuple[str, str, str | None, str | None]]) -> list[Classification]:
        """Items: (title, text, language, url)."""
        ...


class LazyClassifier:
    """A Classifier built on first use: a cycle that changes no article never builds the model
    (the base model takes a second or more to build)."""

    def __init__(self, factory: Callable[[], Classifier]) -> None:
        self._factory = factory
        self._model: Classifier | None = None

    @property
    def model(self) -> Classifier:
        if self._model is None:
            self._model = self._factory()
        return self._model

    @property
    def built(self) -> bool:
        return self._model is not None

    @property
    def version(self) -> str:
        return self.model.version

    def classify_many(self, items: Sequence[tuple[str, str, str | None, str | None]]) -> list[Classification]:
        return self.model.classify_many(items)


def load_cycle(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, pa.Table],
    feeds: Sequence[Feed],
    run_id: str,
    classifier: Classifier,
    now: datetime,
    settings: Settings | None = None,
) -> RunSummary:
    """Load one cycle's staged tables in a single transaction and return its summary.

    ``settings``: the limits (revisions a day) and the guard against disabling most feeds by
    mistake (``registry.check_disabling``); without them, the defaults and no guard.
    """
    limits = settings or Settings()
    for name, table in tables.items():
        con.register(f"_stage_{name}", table)
    try:
        with transaction(con):
            if settings is not None:
                check_disabling(enabled_feeds(con), feeds, settings.allow_mass_disable, settings.feeds_path)
            upsert_feeds(con, feeds, now)
            _load_feed_states(con)
            _load_fetches(con, run_id)
            changed, _revised = _load_articles(con, now, limits.max_revisions_per_day)
            counts = _change_counts(con)
            waiting = backlog.store_backlog(con) if "deferred" in tables and "taken" in tables else 0
            _load_sources(con)
            relevant = classify_articles(con, changed, classifier, now, tables.get("classified"))
            _after_load(con, changed, now)
            # A cycle that changed no article used no model: its run records none.
            idle = not changed and isinstance(classifier, LazyClassifier) and not classifier.built
            version = None if idle else classifier.version
            summary = _summarise(con, run_id, counts, waiting, relevant, version)
            first = con.execute("select min(started_at) from _stage_fetches").fetchone()
            started = (first[0] if first else None) or now
            con.execute(
                "insert into runs (run_id, started_at, finished_at, feeds_ok, feeds_failed, items_seen,"
                " new_articles, updated_articles, relevant, model_version, retried_articles,"
                " waiting_entries, revisions_held)"
                " select ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
                " where not exists (select 1 from runs where run_id = ?)",
                [
                    run_id,
                    started,
                    now,
                    summary.feeds_ok,
                    summary.feeds_failed,
                    summary.items_seen,
                    summary.new_articles,
                    summary.updated_articles,
                    summary.relevant,
                    summary.model_version,
                    summary.retried_articles,
                    summary.waiting_entries,
                    summary.revisions_held,
                    run_id,
                ],
            )
    finally:
        for name in tables:
            con.unregister(f"_stage_{name}")
    return summary


def upsert_feeds(con: duckdb.DuckDBPyConnection, feeds: Sequence[Feed], now: datetime) -> None:
    """Make the feeds table list exactly the configured feeds (removed ones stay, disabled)."""
    cfg = pa.table(
        {
            "name": [f.name for f in feeds],
            "url": [f.url for f in feeds],
            "language": pa.array([f.language for f in feeds], pa.string()),
            "enabled": [f.enabled for f in feeds],
        }
    )
    con.register("_cfg", cfg)
    try:
        con.execute(
            """
            insert into feeds (name, url, configured_url, language, enabled, added_at)
            select c.name, c.url, c.url, c.language, c.enabled, ? from _cfg c
            where not exists (select 1 from feeds f where f.name = c.name)
            """,
            [now],
        )
        # A URL edited in feeds.toml resets what was learnt about the old one.
        con.execute(
            """
            update feeds set url = c.url, configured_url = c.url, etag = null, last_modified = null,
                   consecutive_failures = 0, next_fetch_at = null, gone_at = null, last_full_fetch_at = null
            from _cfg c where feeds.name = c.name and feeds.configured_url <> c.url
            """
        )
        con.execute(
            """
            update feeds set language = c.language, enabled = c.enabled from _cfg c
            where feeds.name = c.name
              and (feeds.language is distinct from c.language or feeds.enabled <> c.enabled)
            """
        )
        con.execute("update feeds set enabled = false where enabled and name not in (select name from _cfg)")
    finally:
        con.unregister("_cfg")


def _change_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many staged articles changed how (``_change``), plus ``retried``: pages asked again."""
    rows = con.execute(
        "select change, count(*), count(*) filter (where retried) from _change group by change"
    ).fetchall()
    counts = {change: int(n) for change, n, _ in rows}
    counts["retried"] = sum(int(r) for change, _, r in rows if change not in ("new", "same"))
    return counts


def reload_articles(
    con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table], classifier: Classifier, now: datetime
) -> dict[str, int]:
    """Load re-extracted articles (a backfill) in one transaction; returns how many changed how.

    The articles are updated as a cycle updates them (a changed text keeps the old one as a
    revision; a page that could not be had again keeps the text stored), every one of them is
    classified with ``classifier``, changed or not (a backfill may be for a new model), and the
    stories and search index follow. No feed, fetch, sighting or ``runs`` row: a backfill is not a
    cycle, and must not look like a successful one to the freshness watchdog.
    """
    con.register("_stage_articles", tables["articles"])
    try:
        with transaction(con):
            changed, _updated = _load_articles(con, now)
            counts = dict(con.execute("select change, count(*) from _change group by change").fetchall())
            present = [r[0] for r in con.execute("select article_id from _change").fetchall()]
            counts["relevant"] = classify_articles(con, present, classifier, now, tables.get("classified"))
            _after_load(con, changed, now)
    finally:
        con.unregister("_stage_articles")
    return counts


def _load_feed_states(con: duckdb.DuckDBPyConnection) -> None:
    """Store what the cycle learnt about each feed polled.

    Most feeds of a large registry answer 304 cycle after cycle with nothing else new: for those
    only the two times move (``last_fetch_at``, ``last_success_at``), so they are updated apart,
    two columns instead of fifteen (DuckDB rewrites every column an UPDATE names).
    """
    # "requested": an HTTP request was sent (a deferred feed, or one already known gone, was not asked).
    con.execute(
        f"""
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
        where feeds.name = s.name and not ({_UNCHANGED_304})
        """
    )
    con.execute(
        f"""
        update feeds set last_fetch_at = x.started_at, last_success_at = x.started_at
        from _stage_states s
        join _stage_fetches x on x.feed = s.name
        where feeds.name = s.name and {_UNCHANGED_304}
        """
    )


# A feed that answered 304 again, its state as stored, its last outcome already a clean 304.
_UNCHANGED_304 = """
    x.outcome = 'not_modified' and x.status_code = 304 and x.error is null and x.new_items = 0
    and feeds.last_outcome = 'not_modified' and feeds.last_status_code = 304 and feeds.last_error is null
    and feeds.gone_at is null and not s.gone
    and s.url = feeds.url and s.etag is not distinct from feeds.etag
    and s.last_modified is not distinct from feeds.last_modified
    and s.consecutive_failures = feeds.consecutive_failures
    and s.next_fetch_at is not distinct from feeds.next_fetch_at
    and s.last_full_fetch_at is not distinct from feeds.last_full_fetch_at
"""


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


def _load_articles(
    con: duckdb.DuckDBPyConnection, now: datetime, max_revisions_per_day: int | None = None
) -> tuple[list[str], int]:
    """Insert new articles, update changed ones (keeping revisions). Returns (changed ids, revised count).

    An article that already has ``max_revisions_per_day`` revisions from the last 24 hours is
    ``held``: left as it is, entry hash included, so the outlet's change is fetched and stored
    again when the feed next lists it, once the day allows.
    """
    # A view, not a copy: copying every staged text into a temp table was a third of loading them.
    # The order is total (ties broken by the hashes and the feed), so every use of the view picks
    # the same row for an article.
    con.execute(
        """
        create or replace temp view _new as
        select * from _stage_articles
        qualify row_number() over (
            partition by article_id
            order by extraction_status = 'ok' desc, fetched_at desc, content_hash, entry_hash, feed) = 1
        """
    )
    # "retried": the page of an article stored before was asked again for the same item (a retry
    # after a failure, or a deferral), not because the outlet changed it.
    con.execute(
        """
        create or replace temp table _change as
        with recent as (
            select article_id, count(*) as revisions
            from article_revisions
            where replaced_at > ?::timestamptz - interval 1 day
              and article_id in (select article_id from _new)
            group by article_id
        )
        select n.article_id,
               case
                 when a.article_id is null then 'new'
                 when a.extraction_status = 'ok' and n.extraction_status <> 'ok' then 'keep'
                 when a.extraction_status = 'ok' and a.content_hash <> n.content_hash
                      and coalesce(r.revisions, 0) >= ? then 'held'
                 when a.extraction_status = 'ok' and a.content_hash <> n.content_hash then 'revised'
                 when a.content_hash <> n.content_hash then 'improved'
                 when a.entry_hash <> n.entry_hash or a.extraction_status <> n.extraction_status
                      or a.extraction_attempts <> n.extraction_attempts then 'touched'
                 else 'same'
               end as change,
               a.article_id is not null and a.entry_hash = n.entry_hash as retried
        from _new n
        left join articles a using (article_id)
        left join recent r using (article_id)
        """,
        [now, max_revisions_per_day if max_revisions_per_day is not None else 2**31 - 1],
    )
    # Statements with nothing to do still sort the staged rows: skip them (a tenth of a second
    # for 20,000 articles, on every load).
    counts = dict(con.execute("select change, count(*) from _change group by change").fetchall())
    # An outlet's correction of an extracted article: the old text becomes a revision.
    if counts.get("revised"):
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
    if counts.get("revised") or counts.get("improved") or counts.get("touched"):
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
    if counts.get("keep"):
        con.execute(
            """
            update articles set entry_hash = n.entry_hash, summary = n.summary, updated_at = ?
            from _new n join _change c using (article_id)
            where articles.article_id = n.article_id and c.change = 'keep'
              and articles.entry_hash <> n.entry_hash
            """,
            [now],
        )
    if counts.get("new"):
        con.execute(
            """
            insert into articles (article_id, url, feed, guid, title, summary, text, author,
                                  published_at, fetched_at, language, extraction_status, extraction_error,
                                  extraction_attempts, entry_hash, content_hash, revision, first_seen_at,
                                  updated_at)
            select n.article_id, n.url, n.feed, n.guid, n.title, n.summary, n.text, n.author, n.published_at,
                   n.fetched_at, n.language, n.extraction_status, n.extraction_error, n.extraction_attempts,
                   n.entry_hash, n.content_hash, 1, ?, ?
            from _new n join _change c using (article_id)
            where c.change = 'new'
            """,
            [now, now],
        )
    rows = con.execute(
        "select article_id, change from _change where change in ('new', 'revised', 'improved')"
        " order by article_id"
    ).fetchall()
    return [r[0] for r in rows], sum(1 for r in rows if r[1] == "revised")


def _load_sources(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        insert into article_sources
        select s.article_id, s.feed, min(s.seen_at)
        from _stage_sightings s
        where exists (select 1 from articles a where a.article_id = s.article_id)
          and not exists (select 1 from article_sources x
                          where x.article_id = s.article_id and x.feed = s.feed)
        group by s.article_id, s.feed
        """
    )


def classify_articles(
    con: duckdb.DuckDBPyConnection,
    article_ids: Sequence[str],
    classifier: Classifier,
    now: datetime,
    precomputed: pa.Table | None = None,
) -> int:
    """Score these stored articles; replaces that version's earlier rows. Returns how many are relevant.

    ``precomputed`` (a ``classified_table``, made in the extraction workers) supplies the rows of
    articles it holds for the same content and the same model version; the others are scored here.
    """
    if not article_ids:
        return 0
    ids = pa.table({"article_id": pa.array(list(article_ids), pa.string())})
    con.register("_classify_ids", ids)
    try:
        _precomputed(con, classifier, now, precomputed)
        rows = con.execute(
            "select a.article_id, coalesce(a.title, ''), coalesce(a.text, ''), a.language, a.url"
            " from articles a join _classify_ids using (article_id)"
            " where a.article_id not in (select article_id from _ready) order by a.article_id"
        ).fetchall()
    finally:
        con.unregister("_classify_ids")
    results = classifier.classify_many([(r[1], r[2], r[3], r[4]) for r in rows]) if rows else []
    table = classifications_table([r[0] for r in rows], results, now)
    con.register("_classified", table)
    try:
        con.execute("insert into _ready select * from _classified")
        con.execute(
            "delete from classifications c using _ready n"
            " where c.article_id = n.article_id and c.model_version = n.model_version"
        )
        con.execute("insert into classifications select * from _ready")
        relevant = con.execute("select count(*) filter (where is_relevant) from _ready").fetchone()
    finally:
        con.unregister("_classified")
        con.execute("drop table if exists _ready")
    return int(relevant[0]) if relevant else 0


def _precomputed(
    con: duckdb.DuckDBPyConnection, classifier: Classifier, now: datetime, precomputed: pa.Table | None
) -> None:
    """Fill temp table ``_ready`` with the usable precomputed rows of the articles in ``_classify_ids``.

    Usable: made for the content now stored (same content hash) by the classifier's version.
    """
    con.execute("create or replace temp table _ready as select * from classifications where false")
    if precomputed is None or precomputed.num_rows == 0:
        return
    con.register("_precomputed", precomputed)
    try:
        con.execute(
            """
            insert into _ready
            select p.article_id, p.model_version, p.score, p.is_relevant, p.topics, p.departments, p.evidence,
                   ?::timestamptz, p.primary_department, p.province, p.district
            from _precomputed p
            join _classify_ids i using (article_id)
            join articles a using (article_id)
            where p.content_hash = a.content_hash and p.model_version = ?
            qualify row_number() over (partition by p.article_id) = 1
            """,
            [now, classifier.version],
        )
    finally:
        con.unregister("_precomputed")


def classifications_table(
    article_ids: Sequence[str], results: Sequence[Classification], now: datetime
) -> pa.Table:
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
            # migration 008: where the decision places the article
            "primary_department": pa.array([c.primary_department for c in results], pa.string()),
            "province": pa.array([c.province for c in results], pa.string()),
            "district": pa.array([c.district for c in results], pa.string()),
        }
    )


CLASSIFIED_SCHEMA = pa.schema(
    [
        ("article_id", pa.string()),
        ("content_hash", pa.string()),
        ("model_version", pa.string()),
        ("score", pa.float64()),
        ("is_relevant", pa.bool_()),
        ("topics", pa.list_(pa.string())),
        ("departments", pa.list_(pa.string())),
        ("evidence", pa.string()),
        ("primary_department", pa.string()),
        ("province", pa.string()),
        ("district", pa.string()),
    ]
)


def classified_table(rows: Sequence[tuple[str, str, Classification]]) -> pa.Table:
    """Classifications made before the load, as (article_id, content_hash, classification), for staging."""
    results = [c for _, _, c in rows]
    return pa.table(
        [
            pa.array([r[0] for r in rows], pa.string()),
            pa.array([r[1] for r in rows], pa.string()),
            pa.array([c.model_version for c in results], pa.string()),
            pa.array([float(c.score) for c in results], pa.float64()),
            pa.array([bool(c.is_relevant) for c in results], pa.bool_()),
            pa.array([list(c.topics) for c in results], pa.list_(pa.string())),
            pa.array([[p.ubigeo for p in c.places] for c in results], pa.list_(pa.string())),
            pa.array([evidence_json(c) for c in results], pa.string()),
            pa.array([c.primary_department for c in results], pa.string()),
            pa.array([c.province for c in results], pa.string()),
            pa.array([c.district for c in results], pa.string()),
        ],
        schema=CLASSIFIED_SCHEMA,
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
            "primary_department": c.primary_department,
            "province": c.province,
            "district": c.district,
        },
        ensure_ascii=False,
    )


def _after_load(con: duckdb.DuckDBPyConnection, changed: Sequence[str], now: datetime) -> None:
    """Derived tables kept in step with the articles, inside the same transaction."""
    assigned = stories.assign(con, changed, now)
    stories.refresh_trends(con, assigned, now)
    search.index_articles(con, changed, now)


def _summarise(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    counts: dict[str, int],
    waiting: int,
    relevant: int,
    model_version: str | None,
) -> RunSummary:
    row = con.execute(
        """
        select count(*) filter (where outcome in ('ok', 'not_modified')),
               count(*) filter (where outcome not in ('ok', 'not_modified', 'deferred')),
               count(*) filter (where outcome = 'deferred'),
               coalesce(sum(items), 0)
        from _stage_fetches
        """
    ).fetchone()
    ok, failed, feeds_deferred, items = row if row else (0, 0, 0, 0)
    return RunSummary(
        run_id,
        ok,
        failed,
        feeds_deferred,
        int(items),
        counts.get("new", 0),
        counts.get("revised", 0),
        relevant,
        model_version,
        retried_articles=counts.get("retried", 0),
        waiting_entries=waiting,
        revisions_held=counts.get("held", 0),
    )
