"""Entries whose page waits for a later cycle: floods and slow hosts put off, never lost.

Two things put a feed entry off to a later cycle, into the table ``entry_backlog``:

* a **flood**: one feed announcing more than ``max_new_per_feed`` (500) new articles in a cycle.
  The first 500 are taken, in the feed's order; the rest wait, and later cycles take them first,
  oldest first, 500 a feed a cycle, before anything newer of that feed;
* **time**: a page whose download could not start before the cycle's ``collect_budget`` was up
  (waiting for a slot of a slow host), or whose host asked every request to wait (Retry-After).
  Nothing was asked, so nothing is failed and no attempt is counted.

The backlog is what makes "later" true: a feed that answers 304 on the next cycle does not list
its items again, so without it the entries put off would never come back.

Each cycle reads the backlog of its feeds (``read``), stages the entries it took (``TakenEntry``)
and those it puts off (``DeferredEntry``); the load removes the first and inserts the second in
its one transaction (``store_backlog``), so a retried load changes nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import duckdb
import pyarrow as pa

from pipeline.records import DeferredEntry, FeedEntry

_COLUMNS = (
    "feed, article_id, url, link, guid, title, summary, author, published_at, language, entry_hash,"
    " reason, queued_at"
)


def read(con: duckdb.DuckDBPyConnection, feeds: Sequence[str], per_feed: int) -> list[DeferredEntry]:
    """The oldest ``per_feed`` waiting entries of each of ``feeds``, oldest first."""
    if not feeds:
        return []
    names = pa.table({"feed": pa.array(list(feeds), pa.string())})
    con.register("_backlog_feeds", names)
    try:
        rows = con.execute(
            f"""
            with waiting as (
                select {_COLUMNS},
                       row_number() over (partition by feed order by queued_at, article_id) as place
                from entry_backlog
                where feed in (select feed from _backlog_feeds)
            )
            select {_COLUMNS} from waiting where place <= ? order by queued_at, article_id
            """,
            [per_feed],
        ).fetchall()
    finally:
        con.unregister("_backlog_feeds")
    return [DeferredEntry(*row) for row in rows]


def choose(
    entries: Iterable[FeedEntry],
    needs_download: Callable[[FeedEntry], bool],
    is_new: Callable[[str], bool],
    limit: int,
) -> tuple[list[FeedEntry], list[FeedEntry]]:
    """(to download now, to put off): at most ``limit`` new articles a feed, in the order given.

    Entries already stored (retries, revisions) are never put off by the limit: it bounds what a
    feed can add, not the work on what is there.
    """
    wanted: list[FeedEntry] = []
    over: list[FeedEntry] = []
    taken: dict[str, int] = defaultdict(int)
    for entry in entries:
        if not needs_download(entry):
            continue
        if is_new(entry.article_id):
            if taken[entry.feed] >= limit:
                over.append(entry)
                continue
            taken[entry.feed] += 1
        wanted.append(entry)
    return wanted, over


def store_backlog(con: duckdb.DuckDBPyConnection) -> int:
    """Inside the load's transaction: drop the entries the cycle took, add those it put off
    (keeping the first ``queued_at`` of one put off again). Returns how many entries wait now."""
    con.execute("delete from entry_backlog where article_id in (select article_id from _stage_taken)")
    # An entry that became an article meanwhile (through another feed) waits for nothing.
    con.execute(
        f"""
        insert into entry_backlog ({_COLUMNS})
        select {_COLUMNS} from _stage_deferred d
        where not exists (select 1 from entry_backlog b where b.article_id = d.article_id)
          and not exists (select 1 from _stage_articles a where a.article_id = d.article_id)
        qualify row_number() over (partition by article_id order by queued_at, feed) = 1
        """
    )
    row = con.execute("select count(*) from entry_backlog").fetchone()
    return int(row[0]) if row else 0
