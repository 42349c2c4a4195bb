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

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import duckdb
import pyarrow as pa

from pipeline import sql
from pipeline.collect import backlog
from pipeline.load import search_index, stories, trends
from pipeline.records import Classification, Feed, RunSummary, classifications_table
from pipeline.registry import Registry, check_disabling
from pipeline.settings import Settings
from pipeline.store import transaction
from pipeline.store.reads import applied_registry, enabled_feeds

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
    feeds: Sequence[Feed] | Registry,
    run_id: str,
    classifier: Classifier,
    now: datetime,
    settings: Settings | None = None,
) -> RunSummary:
    """Load one cycle's staged tables in a single transaction and return its summary.

    ``feeds``: the registry as read (a ``Registry``: applied only if it is not the one applied
    already), or feeds given as they are (always applied). ``settings``: the limits (revisions a
    day) and the guard against disabling most feeds by mistake (``registry.check_disabling``);
    without them, the defaults and no guard.
    """
    limits = settings or Settings()
    for name, table in tables.items():
        con.register(f"_stage_{name}", table)
    try:
        with transaction(con):
            apply_registry(con, feeds, now, settings)
            _load_fetches(con, run_id)  # before the feed states: a row carries its feed's clean 304s
            _load_feed_states(con)
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
            first = sql.execute(con, "load/first_fetch").fetchone()
            started = (first[0] if first else None) or now
            row = {k: getattr(summary, k) for k in summary.__dataclass_fields__ if k != "feeds_deferred"}
            sql.execute(con, "load/run", {**row, "started_at": started, "finished_at": now})
    finally:
        for name in tables:
            con.unregister(f"_stage_{name}")
        con.execute("drop table if exists _quiet")
    return summary


def apply_registry(
    con: duckdb.DuckDBPyConnection, feeds: Sequence[Feed] | Registry, now: datetime, settings: Settings | None
) -> bool:
    """Make ``feeds`` list the registry's feeds, unless the registry is the one applied already
    (``feeds`` is then the registry already: nothing is parsed, compared or written). Returns
    whether it was applied. Feeds given as a list are always applied, and leave no key: the next
    registry read is parsed and applied whole."""
    key = None
    if isinstance(feeds, Registry):
        if feeds.key == applied_registry(con):
            return False
        key, feeds = feeds.key, feeds.feeds()
    if settings is not None:
        check_disabling(enabled_feeds(con), feeds, settings.allow_mass_disable, settings.feeds_path)
    upsert_feeds(con, feeds, now)
    sql.execute(con, "load/registry_applied", {"key": key, "now": now})
    return True


def upsert_feeds(con: duckdb.DuckDBPyConnection, feeds: Sequence[Feed], now: datetime) -> None:
    """Make the feeds table list exactly the configured feeds, in their order (removed ones stay,
    disabled)."""
    cfg = pa.table(
        {
            "name": [f.name for f in feeds],
            "url": [f.url for f in feeds],
            "language": pa.array([f.language for f in feeds], pa.string()),
            "enabled": [f.enabled for f in feeds],
            "position": pa.array(range(1, len(feeds) + 1), pa.int32()),
        }
    )
    con.register("_cfg", cfg)
    try:
        sql.execute(con, "load/feeds_upsert", {"now": now})
    finally:
        con.unregister("_cfg")


def _change_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many staged articles changed how (``_change``), plus ``retried``: pages asked again."""
    rows = sql.execute(con, "load/change_counts").fetchall()
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
            counts = dict(sql.execute(con, "load/changes").fetchall())
            present = [r[0] for r in sql.execute(con, "load/staged_ids").fetchall()]
            counts["relevant"] = classify_articles(con, present, classifier, now, tables.get("classified"))
            _after_load(con, changed, now)
    finally:
        con.unregister("_stage_articles")
    return counts


def _load_feed_states(con: duckdb.DuckDBPyConnection) -> None:
    """Store what the cycle learnt about each feed polled (sql/queries/load/feed_states.sql).

    Most feeds of a large registry answer 304 cycle after cycle with nothing else new: for those
    only the two times move (``last_fetch_at``, ``last_success_at``), so they are updated apart,
    two columns instead of fifteen (DuckDB rewrites every column an UPDATE names).
    """
    sql.execute(con, "load/feed_states")


def _load_fetches(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """The run's fetch log: a row for every feed but those that answered a clean 304 again
    (``_quiet``, counted by their feed and in ``run_outcomes``), so the log grows with what changed."""
    sql.execute(con, "load/quiet")
    sql.execute(con, "load/fetches", {"run_id": run_id})


def _load_articles(
    con: duckdb.DuckDBPyConnection, now: datetime, max_revisions_per_day: int | None = None
) -> tuple[list[str], int]:
    """Insert new articles, update changed ones (keeping revisions). Returns (changed ids, revised count).

    An article that already has ``max_revisions_per_day`` revisions from the last 24 hours is
    ``held``: left as it is, entry hash included, so the outlet's change is fetched and stored
    again when the feed next lists it, once the day allows.
    """
    sql.execute(con, "load/articles_staged")
    limit = max_revisions_per_day if max_revisions_per_day is not None else 2**31 - 1
    sql.execute(con, "load/article_changes", {"now": now, "max_revisions": limit})
    # Statements with nothing to do still sort the staged rows: skip them (a tenth of a second
    # for 20,000 articles, on every load).
    counts = dict(sql.execute(con, "load/changes").fetchall())
    if counts.get("revised"):
        sql.execute(con, "load/revisions", {"now": now})
    if counts.get("revised") or counts.get("improved") or counts.get("touched"):
        sql.execute(con, "load/articles_update", {"now": now})
    if counts.get("keep"):
        sql.execute(con, "load/articles_keep", {"now": now})
    if counts.get("new"):
        sql.execute(con, "load/articles_insert", {"now": now})
    rows = sql.execute(con, "load/changed_articles").fetchall()
    return [r[0] for r in rows], sum(1 for r in rows if r[1] == "revised")


def _load_sources(con: duckdb.DuckDBPyConnection) -> None:
    sql.execute(con, "load/sources")


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
        rows = sql.execute(con, "load/to_classify").fetchall()
    finally:
        con.unregister("_classify_ids")
    results = classifier.classify_many([(r[1], r[2], r[3], r[4]) for r in rows]) if rows else []
    table = classifications_table([r[0] for r in rows], results, now)
    con.register("_classified", table)
    try:
        relevant = sql.execute(con, "load/classifications").fetchone()
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
    if precomputed is None or precomputed.num_rows == 0:
        sql.execute(con, "load/no_precomputed")
        return
    con.register("_precomputed", precomputed)
    try:
        sql.execute(con, "load/precomputed", {"now": now, "version": classifier.version})
    finally:
        con.unregister("_precomputed")


def _after_load(con: duckdb.DuckDBPyConnection, changed: Sequence[str], now: datetime) -> None:
    """Derived tables kept in step with the articles, inside the same transaction."""
    assigned = stories.assign(con, changed, now)
    trends.refresh_trends(con, assigned, now)
    search_index.index_articles(con, changed, now)


def _summarise(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    counts: dict[str, int],
    waiting: int,
    relevant: int,
    model_version: str | None,
) -> RunSummary:
    row = sql.execute(con, "load/summary").fetchone()
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
