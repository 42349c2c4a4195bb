"""Stories: one ``story_id`` for the articles that report the same incident.

When twenty outlets carry Andina's wire story, trends should count one incident, not twenty. An
article joins the story of an earlier article when their event times (``coalesce(published_at,
first_seen_at)``) are at most ``WINDOW`` (72 h) apart and, in this order of preference:

1. they have the same canonical URL: then they are already one article (``article_id``);
2. they have the same normalised title (lower case, accents and punctuation dropped, at least
   ``MIN_TITLE_WORDS`` words, so "Tipo de cambio hoy" does not glue a week of articles together);
3. their texts are near duplicates: MinHash over 5-word shingles estimates the Jaccard similarity
   of their shingle sets, and at least ``MIN_SIMILARITY`` (0.5) joins them. Copies of a wire story
   with a different headline and a paragraph cut or added score 0.6–1.0; two outlets' own reports
   of one incident score below 0.2 and stay two stories (that is topic clustering, not duplicates).

An article also joins a story only within 72 h of the story's *first* article, so that a daily
column with a recurring title or template cannot chain a month of articles into one story.
Otherwise the article starts a story whose ``story_id`` is its own ``article_id``. A story_id never
changes once given (an update of the article keeps it), so counts and links stay stable.

Scale: new articles are compared only with the articles loaded in the last ``INDEX_DAYS`` days
(``story_index``), through LSH: the 96 MinHash values are cut into 32 bands of 3, each band hashed
to a key (``story_bands``); only articles sharing a band key are compared. Two texts with
similarity 0.5 share a band with probability 1 - (1 - 0.5**3)**32 = 0.986; at 0.2, 0.23.

Everything here runs inside the cycle's load transaction (``transaction._after_load``): set-based SQL
over Arrow tables, and numpy for the signatures; loading the same cycle twice changes nothing.
The keys (title key, MinHash signature, LSH bands) are computed in ``near_duplicates.py``; the trend
tables that count stories are refreshed by ``trends.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

import duckdb
import pyarrow as pa

from pipeline import sql
from pipeline.load.near_duplicates import (
    BANDS,
    MIN_SIMILARITY,
    NUM_HASHES,
    band_keys,
    minhash,
    title_key,
    words,
)
from pipeline.sql import id_filter
from pipeline.urls import outlet_of

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=72)
INDEX_DAYS = 14  # how long a loaded article stays comparable (story_index is pruned after that)
BACKLOG_CHUNK = 20_000  # articles from before migration 003 assigned per cycle


class _Article(NamedTuple):
    article_id: str
    url: str | None
    feed: str
    feed_url: str | None
    title: str | None
    text: str | None
    event_at: datetime
    story_id: str | None  # None until it is given one
    story_start: datetime | None  # the event time of its story's first article


def assign(con: duckdb.DuckDBPyConnection, changed: Sequence[str], now: datetime) -> list[str]:
    """Give every new article among ``changed`` (and a chunk of the backlog) its story; refresh the
    index entries of updated ones. Returns the ids of the articles it went through."""
    ids = sorted(set(changed) | set(_backlog_chunk(con)))
    if not ids:
        _prune(con, now)
        return []
    with id_filter(con, "article_id", ids) as wanted:
        feed_urls = dict(sql.execute(con, "stories/feed_urls").fetchall())
        known = _known_stories(con, wanted)
        rows = [
            _Article(r[0], r[1], r[2], feed_urls.get(r[2]), r[3], r[4], r[5], *known.get(r[0], (None, None)))
            for r in sql.execute(con, "stories/articles", wanted=wanted).fetchall()
        ]
        _replace_index(con, rows, now)
        fresh = [r for r in rows if r.story_id is None]
        if fresh:
            _insert_stories(con, fresh, _resolve(fresh, _candidates(con, fresh)), now)
        # An updated article keeps its story; only its event time follows the update.
        sql.execute(con, "stories/event_times", wanted=wanted)
        sql.execute(con, "stories/backlog_done", wanted=wanted)
    _prune(con, now)
    log.info("stories: %d articles assigned, %d refreshed", len(fresh), len(rows) - len(fresh))
    return ids


def _known_stories(con: duckdb.DuckDBPyConnection, wanted: str) -> dict[str, tuple[str, datetime | None]]:
    """article_id → (story_id, its start) of the articles matching ``wanted`` that have a story."""
    stories = dict(sql.execute(con, "stories/known", wanted=wanted).fetchall())
    with id_filter(con, "article_id", sorted(set(stories.values()))) as firsts:
        starts = dict(sql.execute(con, "stories/starts", firsts=firsts).fetchall())
    return {a: (s, starts.get(s)) for a, s in stories.items()}


def _backlog_chunk(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Articles stored before migration 003, oldest first, BACKLOG_CHUNK at a time."""
    if not sql.execute(con, "stories/backlog_count").fetchall()[0][0]:
        return []
    return [r[0] for r in sql.execute(con, "stories/backlog_chunk", {"limit": BACKLOG_CHUNK}).fetchall()]


def _replace_index(con: duckdb.DuckDBPyConnection, rows: list[_Article], now: datetime) -> None:
    """(Re)write the story_index and story_bands entries of these articles."""
    cache: dict[str, int] = {}
    signatures: list[list[int] | None] = []
    bands: list[int] = []
    band_owners: list[_Article] = []
    for row in rows:
        sig = minhash(words(row.text), cache)
        signatures.append(None if sig is None else sig.tolist())
        if sig is not None:
            bands.extend(band_keys(sig).tolist())
            band_owners.extend([row] * BANDS)
    ts = pa.timestamp("us", tz="UTC")
    index = pa.table(
        {
            "article_id": pa.array([r.article_id for r in rows], pa.string()),
            "story_id": pa.array([r.story_id for r in rows], pa.string()),
            "story_start": pa.array([r.story_start for r in rows], ts),
            "event_at": pa.array([r.event_at for r in rows], ts),
            "title_key": pa.array([title_key(r.title) for r in rows], pa.string()),
            "minhash": pa.array(signatures, pa.list_(pa.uint32())),
            "indexed_at": pa.array([now] * len(rows), ts),
        }
    )
    band_table = pa.table(
        {
            "band": pa.array(bands, pa.uint64()),
            "article_id": pa.array([r.article_id for r in band_owners], pa.string()),
            "event_at": pa.array([r.event_at for r in band_owners], ts),
            "indexed_at": pa.array([now] * len(bands), ts),
        }
    )
    con.register("_story_index_new", index)
    con.register("_story_bands_new", band_table)
    try:
        sql.execute(con, "stories/replace_index")
    finally:
        con.unregister("_story_index_new")
        con.unregister("_story_bands_new")


def _candidates(con: duckdb.DuckDBPyConnection, fresh: list[_Article]) -> list[tuple]:
    """Pairs (fresh article, earlier candidate, how, similarity, |Δt| seconds, candidate's story and
    its start).

    "Earlier" means an article that has a story already, or a fresh one before it in the order
    fresh articles are assigned (event time, then article_id)."""
    order = pa.table(
        {
            "article_id": pa.array([r.article_id for r in fresh], pa.string()),
            "seq": pa.array(range(len(fresh)), pa.int64()),
        }
    )
    con.register("_story_fresh", order)
    params = {"window": int(WINDOW.total_seconds()), "hashes": NUM_HASHES, "min_similarity": MIN_SIMILARITY}
    try:
        return sql.execute(con, "stories/candidates", params).fetchall()
    finally:
        con.unregister("_story_fresh")


class _Match(NamedTuple):
    story_id: str
    matched_by: str  # first | title | text
    matched_article: str | None
    similarity: float | None
    story_start: datetime


def _resolve(fresh: list[_Article], pairs: list[tuple]) -> dict[str, _Match]:
    """Walk the fresh articles in order: each takes the story of its best earlier match whose
    story started within WINDOW of it.

    Best: a title match before a text match; then the higher similarity, the closer in time, and
    the smaller article_id (so the choice never depends on the order rows came back in)."""
    options: dict[str, list[tuple]] = {}
    for article_id, candidate, how, sim, apart, story, start in pairs:
        options.setdefault(article_id, []).append(
            (how != "title", -(sim or 0.0), apart, candidate, how, sim, story, start)
        )
    result: dict[str, _Match] = {}
    for row in fresh:  # already in (event time, article_id) order
        result[row.article_id] = _Match(row.article_id, "first", None, None, row.event_at)
        for *_, candidate, how, sim, story, start in sorted(options.get(row.article_id, [])):
            if story is None:  # a fresh article given its story earlier in this walk
                story, start = result[candidate].story_id, result[candidate].story_start
            if start is None or abs(row.event_at - start) <= WINDOW:
                result[row.article_id] = _Match(
                    story, how, candidate, None if sim is None else round(sim, 4), start
                )
                break
    return result


def _insert_stories(
    con: duckdb.DuckDBPyConnection, fresh: list[_Article], matches: dict[str, _Match], now: datetime
) -> None:
    chosen = [matches[r.article_id] for r in fresh]
    ts = pa.timestamp("us", tz="UTC")
    table = pa.table(
        {
            "article_id": pa.array([r.article_id for r in fresh], pa.string()),
            "story_id": pa.array([m.story_id for m in chosen], pa.string()),
            "event_at": pa.array([r.event_at for r in fresh], ts),
            "outlet": pa.array([outlet_of(r.url, r.feed_url, r.feed) for r in fresh], pa.string()),
            "matched_by": pa.array([m.matched_by for m in chosen], pa.string()),
            "matched_article": pa.array([m.matched_article for m in chosen], pa.string()),
            "similarity": pa.array([m.similarity for m in chosen], pa.float64()),
            "assigned_at": pa.array([now] * len(fresh), ts),
            "story_start": pa.array([m.story_start for m in chosen], ts),
        }
    )
    con.register("_stories_new", table)
    try:
        sql.execute(con, "stories/insert")
    finally:
        con.unregister("_stories_new")


def _prune(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    sql.execute(con, "stories/prune", {"cutoff": now - timedelta(days=INDEX_DAYS)})
