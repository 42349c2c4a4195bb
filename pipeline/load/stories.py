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

import contextlib
import hashlib
import ipaddress
import itertools
import logging
import re
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

import duckdb
import numpy as np
import pyarrow as pa

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
LITERAL_IDS = 2_000  # see id_filter

_WORD = re.compile(r"[a-z0-9]+")
# Accents, once NFKD has split them from their letters (a regex pass is ~8x faster than testing
# unicodedata.combining on every character of every text).
_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_rng = np.random.default_rng(20251020)  # fixed: signatures must be comparable across runs
# Multiply-shift hashing (a*x + b mod 2**64, top 32 bits): 96 independent-enough permutations.
_MUL = _rng.integers(1, 2**63, NUM_HASHES, dtype=np.uint64) | np.uint64(1)
_ADD = _rng.integers(0, 2**63, NUM_HASHES, dtype=np.uint64)
_SHINGLE_MUL = (_rng.integers(1, 2**63, SHINGLE, dtype=np.uint64) | np.uint64(1)).reshape(SHINGLE, 1)
_BAND_MUL = _rng.integers(1, 2**63, ROWS + 1, dtype=np.uint64) | np.uint64(1)
_SHIFT = np.uint64(32)
_registered = itertools.count()


# ---------------------------------------------------------------- text → keys


def words(text: str | None) -> list[str]:
    """Lower-case, accent-free words: "Extorsión en SJL" → ["extorsion", "en", "sjl"]."""
    if not text:
        return []
    lowered = text.lower()
    if lowered.isascii():
        return _WORD.findall(lowered)
    return _WORD.findall(_MARKS.sub("", unicodedata.normalize("NFKD", lowered)))


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
        feed_urls = dict(con.execute("select name, configured_url from feeds").fetchall())
        known = _known_stories(con, wanted)
        rows = [
            _Article(r[0], r[1], r[2], feed_urls.get(r[2]), r[3], r[4], r[5], *known.get(r[0], (None, None)))
            for r in con.execute(
                f"""
                select article_id, url, feed, title, coalesce(text, summary),
                       coalesce(published_at, first_seen_at) as event_at
                from articles where {wanted}
                order by event_at, article_id
                """
            ).fetchall()
        ]
        _replace_index(con, rows, now)
        fresh = [r for r in rows if r.story_id is None]
        if fresh:
            _insert_stories(con, fresh, _resolve(fresh, _candidates(con, fresh)), now)
        # An updated article keeps its story; only its event time follows the update.
        con.execute(
            f"""
            update article_stories set event_at = a.event_at
            from (select article_id, coalesce(published_at, first_seen_at) as event_at from articles
                  where {wanted}) a
            where a.article_id = article_stories.article_id and article_stories.event_at <> a.event_at
            """
        )
        con.execute(f"delete from story_backlog where {wanted}")
    _prune(con, now)
    log.info("stories: %d articles assigned, %d refreshed", len(fresh), len(rows) - len(fresh))
    return ids


@contextlib.contextmanager
def id_filter(con: duckdb.DuckDBPyConnection, column: str, values: Sequence[str]) -> Iterator[str]:
    """A condition "``column`` is one of ``values``" for set-based SQL over big tables.

    A literal list (``article_id in ('a', 'b')``) is checked while DuckDB scans, before it reads a
    row's other columns, where a join reads every article's text first: 30 ms against 200 ms among a
    million articles, for the few hundred ids of a cycle. Past LITERAL_IDS values the literal check
    costs more than the join, and the values are joined from a registered Arrow table instead."""
    if not values:
        yield "false"
    elif len(values) <= LITERAL_IDS:
        yield f"{column} in (" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"
    else:
        name = f"_ids_{next(_registered)}"
        con.register(name, pa.table({"id": pa.array(list(values), pa.string())}))
        try:
            yield f"{column} in (select id from {name})"
        finally:
            con.unregister(name)


def _known_stories(con: duckdb.DuckDBPyConnection, wanted: str) -> dict[str, tuple[str, datetime | None]]:
    """article_id → (story_id, its start) of the articles matching ``wanted`` that have a story."""
    stories = dict(con.execute(f"select article_id, story_id from article_stories where {wanted}").fetchall())
    with id_filter(con, "article_id", sorted(set(stories.values()))) as firsts:
        starts = dict(
            con.execute(f"select article_id, event_at from article_stories where {firsts}").fetchall()
        )
    return {a: (s, starts.get(s)) for a, s in stories.items()}


def _backlog_chunk(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Articles stored before migration 003, oldest first, BACKLOG_CHUNK at a time."""
    if not con.execute("select count(*) from story_backlog").fetchall()[0][0]:
        return []
    return [
        r[0]
        for r in con.execute(
            "select distinct b.article_id from story_backlog b join articles a using (article_id)"
            " order by coalesce(a.published_at, a.first_seen_at), b.article_id limit ?",
            [BACKLOG_CHUNK],
        ).fetchall()
    ]


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
        con.execute("delete from story_index where article_id in (select article_id from _story_index_new)")
        con.execute("delete from story_bands where article_id in (select article_id from _story_index_new)")
        con.execute("insert into story_index select * from _story_index_new")
        con.execute("insert into story_bands select * from _story_bands_new order by band")
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
    window = int(WINDOW.total_seconds())
    try:
        return con.execute(
            f"""
            with fresh as (
                select i.*, f.seq from story_index i join _story_fresh f using (article_id)
            ),
            pool as (
                select i.*, f.seq from story_index i left join _story_fresh f using (article_id)
            ),
            title_pairs as (
                select n.article_id, p.article_id as candidate, 'title' as how, null::double as similarity
                from fresh n join pool p on p.title_key = n.title_key
                where p.article_id <> n.article_id
                  and abs(epoch(p.event_at) - epoch(n.event_at)) <= {window}
                  and (p.seq is null or p.seq < n.seq)
            ),
            band_pairs as (
                select distinct n.article_id, p.article_id as candidate
                from story_bands n
                join _story_fresh f on f.article_id = n.article_id
                join story_bands p on p.band = n.band
                where p.article_id <> n.article_id
                  and abs(epoch(p.event_at) - epoch(n.event_at)) <= {window}
            ),
            text_pairs as (
                select b.article_id, b.candidate, 'text' as how,
                       len(list_filter(list_zip(n.minhash, p.minhash), x -> x[1] = x[2])) / {NUM_HASHES}
                           as similarity
                from band_pairs b
                join fresh n on n.article_id = b.article_id
                join pool p on p.article_id = b.candidate
                where p.seq is null or p.seq < n.seq
            ),
            pairs as (
                select * from title_pairs
                union all
                select * from text_pairs where similarity >= {MIN_SIMILARITY}
            ),
            final as (
                select x.article_id, x.candidate, x.how, x.similarity,
                       abs(epoch(p.event_at) - epoch(n.event_at)) as seconds_apart, p.story_id, p.story_start
                from pairs x
                join fresh n on n.article_id = x.article_id
                join pool p on p.article_id = x.candidate
            )
            select * from final
            """
        ).fetchall()
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
        con.execute(
            "insert into article_stories select * exclude (story_start) from _stories_new n"
            " where not exists (select 1 from article_stories s where s.article_id = n.article_id)"
        )
        con.execute(
            "update story_index set story_id = n.story_id, story_start = n.story_start from _stories_new n"
            " where story_index.article_id = n.article_id"
        )
    finally:
        con.unregister("_stories_new")


def _prune(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    cutoff = now - timedelta(days=INDEX_DAYS)
    con.execute("delete from story_index where indexed_at < ?", [cutoff])
    con.execute("delete from story_bands where indexed_at < ?", [cutoff])


# ---------------------------------------------------------------- trend facts

# The flattened fact tables: (table, key column, list expression over _trend_new it comes from). A
# story counts in one department, the one where it happened (its primary department, migration 008),
# not in every department its texts name.
_FLAT = (
    ("trend_topics", "topic", "topics"),
    ("trend_departments", "ubigeo", "list_filter([story_department], d -> d is not null)"),
)


def refresh_trends(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str], now: datetime) -> None:
    """Bring trend_articles, trend_stories, trend_topics and trend_departments in step (migrations 003, 008).

    Recomputed: every story with an article among ``article_ids`` or classified since the last
    refresh, all of its articles at once (which one counts the story may change), and the outlet
    flags of every (day, topic) and (day, department) those rows fall in. Everything is rebuilt
    when ``models`` changed or too much was touched. The current decision follows the rule of the
    ``current_classifications`` view; a test holds them equal."""
    state = con.execute("select classified_upto, models_signature from trend_state").fetchone()
    (signature,) = con.execute(
        "select count(*) || '/' || coalesce(max(created_at)::varchar, '') from models"
    ).fetchall()[0]
    (upto,) = con.execute("select max(classified_at) from classifications").fetchall()[0]
    story_ids: list[str] | None = None  # None: every story
    if state is not None and state[1] == signature:
        touched = set(article_ids)
        if state[0] is None or upto is None or upto > state[0]:
            touched.update(
                r[0]
                for r in con.execute(
                    "select article_id from classifications"
                    " where ?::timestamptz is null or classified_at > ?",
                    [state[0], state[0]],
                ).fetchall()
            )
        if len(touched) <= FULL_REFRESH_ABOVE:
            with id_filter(con, "article_id", sorted(touched)) as wanted:
                story_ids = [
                    r[0]
                    for r in con.execute(
                        f"select distinct story_id from article_stories where {wanted}"
                    ).fetchall()
                ]
    if story_ids is None:
        _replace_trends(con, "true", "true")
    elif story_ids:
        with id_filter(con, "story_id", story_ids) as stale:
            members = [
                r[0] for r in con.execute(f"select article_id from article_stories where {stale}").fetchall()
            ]
            with id_filter(con, "article_id", members) as wanted:
                _replace_trends(con, stale, wanted)
    con.execute("delete from trend_state")
    con.execute("insert into trend_state values (?, ?, ?)", [now, upto, signature])
    log.info("trends: %s stories refreshed", "all" if story_ids is None else len(story_ids))


def _replace_trends(con: duckdb.DuckDBPyConnection, stale: str, members: str) -> None:
    """Replace the facts of the stories matching ``stale``, whose articles match ``members``."""
    con.execute(
        f"""
        create or replace temp table _trend_new as
        with decisions as (
            select c.article_id, c.model_version, c.score, c.is_relevant, c.topics, c.departments,
                   c.primary_department
            from (select * from classifications where {members}) c
            left join models v using (model_version)
            qualify row_number() over (
                partition by c.article_id
                order by coalesce(v.created_at, c.classified_at) desc, c.classified_at desc,
                         c.model_version desc
            ) = 1
        ),
        stories as (
            select article_id, story_id, event_at, outlet from article_stories where {members}
        ),
        article_rows as (
            select article_id, feed, title, url from articles where {members}
        )
        select d.article_id, s.story_id, s.event_at, timezone('America/Lima', s.event_at)::date as day,
               a.feed, s.outlet, a.title, a.url, d.model_version, d.score, d.topics, d.departments,
               d.primary_department
        from decisions d
        join stories s using (article_id)
        join article_rows a using (article_id)
        where d.is_relevant
        """
    )
    con.execute(f"delete from trend_articles where {stale}")
    con.execute("insert into trend_articles select * from _trend_new")
    con.execute(f"delete from trend_stories where {stale}")
    con.execute(
        """
        insert into trend_stories
        with facts as (
            select story_id, arg_min(title, (event_at, article_id)) as title, min(event_at) as first_event_at,
                   max(event_at) as last_event_at, min(day) as day, count(*) as articles,
                   count(distinct outlet) as outlets, list_sort(list_distinct(list(outlet))) as outlet_names,
                   list_sort(list_distinct(flatten(list(topics)))) as topics,
                   list_sort(list_distinct(flatten(list(departments)))) as departments
            from _trend_new
            group by story_id
        ),
        -- A story's primary department: the one most of its relevant articles give; on a tie, that
        -- of the earliest of them (migration 008).
        given as (
            select story_id, primary_department, count(*) as n, min((event_at, article_id)) as first
            from _trend_new
            where primary_department is not null
            group by story_id, primary_department
        ),
        chosen as (
            select story_id, arg_min(primary_department, (-n, first)) as primary_department
            from given
            group by story_id
        )
        select f.*, c.primary_department
        from facts f
        left join chosen c using (story_id)
        """
    )
    con.execute("alter table _trend_new add column story_department varchar")
    con.execute(
        "update _trend_new set story_department = t.primary_department"
        " from trend_stories t where t.story_id = _trend_new.story_id"
    )
    for table, key, source in _FLAT:
        # The (day, key) groups whose outlet flags change: those of the rows going and coming.
        con.execute(
            f"""
            create or replace temp table _trend_groups as
            select distinct day, {key} from {table} where {stale}
            union
            select distinct day, unnest({source}) from _trend_new
            """
        )
        con.execute(f"delete from {table} where {stale}")
        # A story counts once per topic (department): on its earliest relevant article that has it.
        con.execute(
            f"""
            insert into {table}
            select day, {key}, story_id, article_id, outlet,
                   row_number() over (partition by story_id, {key} order by day, event_at, article_id) = 1,
                   false
            from (select distinct day, event_at, story_id, article_id, outlet, unnest({source}) as {key}
                  from _trend_new)
            """
        )
        # An outlet counts once per day and topic (department): on its first article there.
        con.execute(
            f"""
            create or replace temp table _trend_regroup as
            select t.* exclude (outlet_first) from {table} t join _trend_groups g using (day, {key})
            """
        )
        con.execute(f"delete from {table} t using _trend_groups g where t.day = g.day and t.{key} = g.{key}")
        con.execute(
            f"""
            insert into {table}
            select *, row_number() over (partition by day, {key}, outlet order by article_id) = 1
            from _trend_regroup
            """
        )
        con.execute("drop table _trend_groups")
        con.execute("drop table _trend_regroup")
    con.execute("drop table _trend_new")
