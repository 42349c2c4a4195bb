"""What a cycle reads before it writes: feed states, the articles it may know, the backlog.

The collect stage never opens the database: it is given these lookups (``known_lookup``,
``backlog_lookup``), each opening the store read-only just for its question, so a cycle's
downloads never hold the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from pipeline import sql
from pipeline.records import DeferredEntry, Feed, FeedState, KnownArticle
from pipeline.settings import Settings
from pipeline.store.backend import Backend

KnownLookup = Callable[[Sequence[str]], dict[str, KnownArticle]]
BacklogLookup = Callable[[Sequence[str]], list[DeferredEntry]]  # feed names → their waiting entries


def applied_registry(con: duckdb.DuckDBPyConnection) -> str | None:
    """The key of the feeds.toml the ``feeds`` table lists (``registry.Registry.key``), if any."""
    rows = sql.execute(con, "store/registry_applied").fetchall()
    return rows[0][0] if len(rows) == 1 else None


# A stored feed: its entry as feeds.toml gave it, its state, and its rhythm (last poll, last poll that
# found something new).
Planned = tuple[Feed, FeedState, datetime | None, datetime | None]


_NO_FILTER = {"now": datetime(1970, 1, 1, tzinfo=UTC), "longest_s": 0.0, "low_s": 0.0, "high_s": 0.0}


def planned_feeds(con: duckdb.DuckDBPyConnection, due: Mapping[str, Any] | None = None) -> list[Planned]:
    """The enabled feeds of the registry the ``feeds`` table lists (``applied_registry``), in the
    file's order, with their states: all of them, or (``due``: the parameters of
    ``polling.due_filter``) those the scheduler may find due (store/feed_states.sql's filter, a
    little wider than ``polling.due`` and ``rested``, which the plan then applies)."""
    return _feed_states(con, every_stored=False, due=due)


def feed_states(con: duckdb.DuckDBPyConnection) -> list[Planned]:
    """Every feed the ``feeds`` table holds, enabled or not, listed in feeds.toml or not: what a
    plan compares a changed feeds.toml with."""
    return _feed_states(con, every_stored=True, due=None)


def _feed_states(
    con: duckdb.DuckDBPyConnection, every_stored: bool, due: Mapping[str, Any] | None
) -> list[Planned]:
    # Read as columns: one object per feed, none per row read. Without a filter the due parameters
    # are bound but unused: `not $only_due` holds for every row.
    params = {"only_due": True, **due} if due is not None else {**_NO_FILTER, "only_due": False}
    table = sql.execute(con, "store/feed_states", {**params, "every_stored": every_stored}).to_arrow_table()
    c = [_values(table.column(name)) for name in table.column_names]
    return [
        (Feed(*row[0:4]), FeedState(row[0], *row[4:11]), row[11], row[12]) for row in zip(*c, strict=True)
    ]


def _values(column: pa.ChunkedArray) -> list[Any]:
    """A column as Python values. Times through their distinct values: a cycle's feeds share its
    few poll times, and a time with a zone costs microseconds to make (100,000 of them, 0.4 s)."""
    if not pa.types.is_timestamp(column.type):
        return column.to_pylist()
    encoded = column.combine_chunks().dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    return [None if i is None else distinct[i] for i in encoded.indices.to_pylist()]


def enabled_feeds(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The feeds the database has enabled: what the registry is compared with."""
    return {r[0] for r in sql.execute(con, "store/enabled_feeds").fetchall()}


def known_articles(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> dict[str, KnownArticle]:
    """What is stored of these articles: lets a cycle skip known items before downloading them."""
    if not article_ids:
        return {}
    ids = pa.table({"article_id": pa.array(list(article_ids), pa.string())})
    con.register("_lookup_ids", ids)
    try:
        rows = sql.execute(con, "store/known_articles").fetchall()
    finally:
        con.unregister("_lookup_ids")
    return {r[0]: KnownArticle(r[1], r[2], r[3]) for r in rows}


def waiting_entries(
    con: duckdb.DuckDBPyConnection, feeds: Sequence[str], per_feed: int
) -> list[DeferredEntry]:
    """The oldest ``per_feed`` entries the backlog holds for each of ``feeds``, oldest first."""
    if not feeds:
        return []
    names = pa.table({"feed": pa.array(list(feeds), pa.string())})
    con.register("_backlog_feeds", names)
    try:
        rows = sql.execute(con, "backlog/waiting", {"per_feed": per_feed}).fetchall()
    finally:
        con.unregister("_backlog_feeds")
    return [DeferredEntry(*row) for row in rows]


def known_lookup(backend: Backend) -> KnownLookup:
    """A lookup of known articles that opens the store read-only just for the question (nothing
    is known of a database not created yet)."""

    def lookup(article_ids: Sequence[str]) -> dict[str, KnownArticle]:
        if not backend.exists():
            return {}
        with backend.open(read_only=True) as con:
            return known_articles(con, article_ids)

    return lookup


def backlog_lookup(backend: Backend, settings: Settings) -> BacklogLookup:
    """The entries waiting in the backlog for some feeds (read-only, just for the question)."""

    def lookup(feeds: Sequence[str]) -> list[DeferredEntry]:
        if not backend.exists():
            return []
        with backend.open(read_only=True) as con:
            return waiting_entries(con, feeds, settings.max_new_per_feed)

    return lookup
