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

Each cycle reads the backlog of its feeds (``store.reads.waiting_entries``), chooses what to
download now (``choose``), stages the entries it took (``TakenEntry``) and those it puts off
(``DeferredEntry``); the load removes the first and inserts the second in its one transaction
(``store_backlog``), so a retried load changes nothing twice. Both queries are in
``sql/queries/backlog/``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

import duckdb

from pipeline import sql
from pipeline.records import FeedEntry


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
    row = sql.execute(con, "backlog/store").fetchone()
    return int(row[0]) if row else 0
