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

Everything here runs inside the cycle's load transaction (``load._after_load``): set-based SQL
over Arrow tables, and numpy for the signatures; loading the same cycle twice changes nothing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

import duckdb
import numpy as np
import pyarrow as pa

from pipeline import sql
from pipeline.sql import id_filter
from pipeline.text import fold_accents

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=72)
INDEX_DAYS = 14  # how long a loaded article stays comparable (story_index is pruned after that)
SHINGLE = 5  # words per shingle
NUM_HASHES = 96
BANDS, ROWS = 32, 3  # BANDS * ROWS == NUM_HASHES
MIN_SIMILARITY = 0.5
MIN_SHINGLES = 8  # texts shorter than this (about 12 words) are not compared
MAX_WORDS = 2000  # the start of a long text identifies it as well as the whole
MIN_TITLE_WORDS = 5
BACKLOG_CHUNK = 20_000  # articles from before migration 003 assigned per cycle
FULL_REFRESH_ABOVE = 50_000  # touched articles past which trend facts are rebuilt whole

_WORD = re.compile(r"[a-z0-9]+")
_rng = np.random.default_rng(20251020)  # fixed: signatures must be comparable across runs
# Multiply-shift hashing (a*x + b mod 2**64, top 32 bits): 96 independent-enough permutations.
_MUL = _rng.integers(1, 2**63, NUM_HASHES, dtype=np.uint64) | np.uint64(1)
_ADD = _rng.integers(0, 2**63, NUM_HASHES, dtype=np.uint64)
_SHINGLE_MUL = (_rng.integers(1, 2**63, SHINGLE, dtype=np.uint64) | np.uint64(1)).reshape(SHINGLE, 1)
_BAND_MUL = _rng.integers(1, 2**63, ROWS + 1, dtype=np.uint64) | np.uint64(1)
_SHIFT = np.uint64(32)


# ---------------------------------------------------------------- text → keys


def words(text: str | None) -> list[str]:
    """Lower-case, accent-free words: "Extorsión en SJL" → ["extorsion", "en", "sjl"]."""
    if not text:
        return []
    return _WORD.findall(fold_accents(text.lower()))


def title_key(title: str | None) -> str | None:
    """The normalised title, or None when it is too short to tell one story from another."""
    ws = words(title)
    return " ".join(ws) if len(ws) >= MIN_TITLE_WORDS else None


def _token_hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")


def minhash(tokens: Sequence[str], cache: dict[str, int] | None = None) -> np.ndarray | None:
    """The MinHash signature (NUM_HASHES uint32) of the text's word shingles; None if too short."""
    tokens = tokens[:MAX_WORDS]
    if len(tokens) - SHINGLE + 1 < MIN_SHINGLES:
        return None
    cache = {} if cache is None else cache
    for token in set(tokens).difference(cache):
        cache[token] = _token_hash(token)
    hashes = np.fromiter(map(cache.__getitem__, tokens), dtype=np.uint64, count=len(tokens))
    n = len(tokens) - SHINGLE + 1
    windows = np.lib.stride_tricks.sliding_window_view(hashes, SHINGLE)[:n]  # (n, SHINGLE)
    # A shingle's hash: each word's hash times its position's odd constant, summed (mod 2**64).
    # Repeated shingles are left in: they cannot change a minimum, and removing them costs more.
    shingles = (windows.T * _SHINGLE_MUL).sum(axis=0, dtype=np.uint64)
    permuted = (shingles[:, None] * _MUL + _ADD) >> _SHIFT
    return permuted.min(axis=0).astype(np.uint32)


def band_keys(signature: np.ndarray) -> np.ndarray:
    """One uint64 key per LSH band: articles that share a key are compared."""
    rows = signature.astype(np.uint64).reshape(BANDS, ROWS)
    mixed = (rows * _BAND_MUL[:ROWS]).sum(axis=1, dtype=np.uint64)
    return mixed ^ (np.arange(BANDS, dtype=np.uint64) * _BAND_MUL[ROWS])


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal MinHash values."""
    return float(np.count_nonzero(a == b)) / NUM_HASHES


def outlet_of(url: str | None, feed_url: str | None, feed: str) -> str:
    """Who published the article: the site of its URL ("elcomercio.pe" for every El Comercio
    section feed), else of its feed's URL; the feed's name when neither names a site (an IP
    address, as with the test servers on 127.0.0.1)."""
    for candidate in (url, feed_url):
        site = _site(candidate)
        if site:
            return site
    return feed


_SECOND_LEVEL = {"com", "gob", "org", "edu", "net", "mil", "nom", "co", "ac"}


def _site(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return None
    if not host or "." not in host:
        return None  # localhost and friends
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    labels = host.removeprefix("www.").split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


# ---------------------------------------------------------------- assignment inside a load


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


# ---------------------------------------------------------------- trend facts

# The flattened fact tables: (table, key column, the list column of _trend_new it comes from). A story
# counts in one department, the one where it happened (its primary department, migration 008), not in
# every department its texts name (trends/stories.sql).
_FLAT = (
    ("trend_topics", "topic", "topics"),
    ("trend_departments", "ubigeo", "story_departments"),
)


def refresh_trends(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str], now: datetime) -> None:
    """Bring trend_articles, trend_stories, trend_topics and trend_departments in step (migrations 003, 008).

    Recomputed: every story with an article among ``article_ids`` or classified since the last
    refresh, all of its articles at once (which one counts the story may change), and the outlet
    flags of every (day, topic) and (day, department) those rows fall in. Everything is rebuilt
    when ``models`` changed or too much was touched. The current decision is the one of the
    ``current_classifications`` view: both apply the macro current_decisions."""
    state = sql.execute(con, "trends/state").fetchone()
    (signature,) = sql.execute(con, "trends/models_signature").fetchall()[0]
    (upto,) = sql.execute(con, "trends/classified_upto").fetchall()[0]
    story_ids: list[str] | None = None  # None: every story
    if state is not None and state[1] == signature:
        touched = set(article_ids)
        if state[0] is None or upto is None or upto > state[0]:
            touched.update(
                r[0] for r in sql.execute(con, "trends/classified_since", {"since": state[0]}).fetchall()
            )
        if len(touched) <= FULL_REFRESH_ABOVE:
            with id_filter(con, "article_id", sorted(touched)) as wanted:
                story_ids = [r[0] for r in sql.execute(con, "trends/stories_of", wanted=wanted).fetchall()]
    if story_ids is None:
        _replace_trends(con, "true", "true")
    elif story_ids:
        with id_filter(con, "story_id", story_ids) as stale:
            members = [r[0] for r in sql.execute(con, "trends/members", stale=stale).fetchall()]
            with id_filter(con, "article_id", members) as wanted:
                _replace_trends(con, stale, wanted)
    sql.execute(con, "trends/state_set", {"now": now, "upto": upto, "signature": signature})
    log.info("trends: %s stories refreshed", "all" if story_ids is None else len(story_ids))


def _replace_trends(con: duckdb.DuckDBPyConnection, stale: str, members: str) -> None:
    """Replace the facts of the stories matching ``stale``, whose articles match ``members``."""
    sql.execute(con, "trends/facts", members=members)
    sql.execute(con, "trends/stories", stale=stale)
    for table, key, source in _FLAT:
        sql.execute(con, "trends/flat", table=table, key=key, source=source, stale=stale)
    sql.execute(con, "trends/done")
