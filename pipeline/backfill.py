"""Re-extract and reclassify stored articles in bulk: ``python -m pipeline backfill --from DATE``.

For when extraction or the model improved and the articles already stored should benefit: every
article with a link, published (or, lacking a date, first seen) from ``--from`` on, is downloaded
again, extracted, classified and loaded, with the machinery of a cycle (``cycle.fetch_articles``:
the same network guard, caps, deadlines, per-host politeness, worker pool and limits), so at the
same speed, a chunk at a time: the next chunk downloads while the last one loads, and the writer
lock is held only while a chunk loads, so the scheduled cycles keep running in between.

Pages are downloaded again rather than kept. Measured on the shared corpus of real article pages,
a page is 170 KB of HTML, which DuckDB stores as is (it does not compress long strings): 36 times
the 4.7 KB of its text; zlib-compressed in a blob it is still 34 KB, 6 times the text. At two
thousand articles a day that is 24 GB a year in a database that is copied whole to the analysts'
copy after every cycle. A month's backfill downloads about 60,000 pages: minutes.

What a backfill changes is what a cycle would change: a new text replaces the stored one and the
old one becomes a revision; a page that cannot be had any more, or no longer yields text, leaves
the stored text as it is. Every selected article gets a classification by the current model.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline import sql, staging, store
from pipeline.collect.batch import Batch, fetch_articles
from pipeline.collect.net import Fetcher
from pipeline.extract.workers import WorkerPool
from pipeline.load.transaction import Classifier, reload_articles
from pipeline.records import Article, Classification, FeedEntry
from pipeline.settings import Settings

log = logging.getLogger(__name__)

CHUNK = 2_000  # articles downloaded, then loaded in one transaction, at a time


@dataclass
class BackfillSummary:
    selected: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # extraction outcome of each page
    changes: Counter[str] = field(default_factory=Counter)  # what the load did: revised, keep, same...
    relevant: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        rate = self.selected / self.seconds if self.seconds else 0.0
        statuses = ", ".join(f"{v} {k}" for k, v in self.statuses.most_common()) or "none"
        changes = ", ".join(f"{v} {k}" for k, v in self.changes.most_common()) or "none"
        return (
            f"backfill: {self.selected} articles in {self.seconds:.1f} s ({rate:.1f}/s); pages: {statuses}; "
            f"stored: {changes}; {self.relevant} relevant"
        )


def select_articles(
    settings: Settings, since: datetime, until: datetime | None = None, feed: str | None = None
) -> list[tuple[FeedEntry, int]]:
    """The stored articles to backfill, as the feed entries they came from, with their attempt counts."""
    with store.open_db(settings, read_only=True) as con:
        rows = sql.execute(
            con, "backfill/articles", {"since": since, "until": until, "feed": feed}
        ).fetchall()
    # The query selects a FeedEntry's fields in its order, then the attempt count.
    return [(FeedEntry(*r[:-1]), r[-1]) for r in rows]


def backfill(
    settings: Settings,
    since: datetime,
    until: datetime | None = None,
    feed: str | None = None,
    chunk: int = CHUNK,
    classifier: Callable[[], Any] | None = None,
) -> BackfillSummary:
    """Re-extract and reclassify the stored articles published from ``since`` (up to ``until``)."""
    from pipeline.tasks import current_classifier, worker_classifier

    started = time.monotonic()
    selected = select_articles(settings, since, until, feed)
    summary = BackfillSummary(selected=len(selected))
    if selected:
        factory = classifier or (lambda: worker_classifier(settings))
        asyncio.run(_run(settings, selected, max(1, chunk), factory, current_classifier, summary))
        store.backend(settings).refresh_analyst_copy()
    summary.seconds = time.monotonic() - started
    return summary


async def _run(
    settings: Settings,
    selected: Sequence[tuple[FeedEntry, int]],
    chunk: int,
    classifier: Callable[[], Any],
    current: Callable[[Any], Classifier],
    summary: BackfillSummary,
) -> None:
    loading: asyncio.Task[None] | None = None
    async with Fetcher(settings) as fetcher, WorkerPool(settings, classifier) as pool:
        pool.expect_pages(len(selected))
        for part in _chunks(selected, chunk):
            attempts = {entry.article_id: attempt for entry, attempt in part}
            results = await fetch_articles(fetcher, pool, [e for e, _ in part], attempts, settings)
            if loading is not None:
                await loading  # one chunk loads at a time, in order
            loading = asyncio.create_task(asyncio.to_thread(_load, settings, results, current, summary))
        if loading is not None:
            await loading


def _load(
    settings: Settings,
    results: Sequence[tuple[Article, Classification | None]],
    current: Callable[[Any], Classifier],
    summary: BackfillSummary,
) -> None:
    """Load one chunk, holding the writer lock only for as long as that takes."""
    batch = Batch(
        articles=[a for a, _ in results],
        classified=[(a.article_id, a.content_hash, c) for a, c in results if c is not None],
    )
    tables = staging.batch_tables(batch)
    with store.write_lock(settings), store.open_db(settings, take_lock=False) as con:
        counts = reload_articles(con, tables, current(con), datetime.now(UTC))
    summary.statuses.update(a.extraction_status for a in batch.articles)
    summary.relevant += counts.pop("relevant", 0)
    summary.changes.update(counts)
    log.info("backfill: loaded %d articles (%s)", len(batch.articles), dict(counts))


def _chunks(items: Sequence[tuple[FeedEntry, int]], size: int) -> Iterator[Sequence[tuple[FeedEntry, int]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
