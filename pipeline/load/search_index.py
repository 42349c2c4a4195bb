"""The full-text search index, kept up to date inside each load's transaction.

Why not DuckDB's ``fts`` extension: it rebuilds the whole index on every change (minutes for a
million articles, every 15 minutes, inside the load), and its stemmer would have to be loaded
into every analyst's session. This index is plain tables (migrations 003 and 009) updated
incrementally inside the cycle's transaction:

    search_terms            word → dense term_id, and its Snowball stem (PyStemmer)
    search_docs             doc → article_id, length      (an updated article gets a new doc)
    search_postings_recent  (term_id, doc, tf, doc length) of the latest loads, unsorted
    search_postings         the same, moved here sorted by term once the recent table holds
                            ``MERGE_ROWS`` rows: each sorted run's row groups cover narrow term
                            ranges, so a query reads a few row groups per run (DuckDB skips the
                            others by their min/max), not the whole table

Words are indexed as written (lower case, accents stripped), each with the stem Snowball gives
the word as it was written, accents and all (Spanish; English for words seen only in English
articles). The queries are answered by pipeline.publish.search and the ``search`` table macro.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from functools import cache

import duckdb
import pyarrow as pa
import Stemmer

from pipeline import sql
from pipeline.sql import id_filter
from pipeline.text import fold_accents

log = logging.getLogger(__name__)

MERGE_ROWS = 4_000_000  # postings kept unsorted before they are moved, sorted, into search_postings
BACKLOG_CHUNK = 50_000  # articles from before migration 003 indexed per cycle
TOKENISE_BATCH = 512  # articles per Arrow batch: DuckDB's unit of parallel work when tokenising


def index_articles(con: duckdb.DuckDBPyConnection, changed: Sequence[str], now: datetime) -> int:
    """(Re)index these articles and a chunk of the backlog. Returns how many were indexed."""
    backlog: list[str] = []
    if sql.execute(con, "search/backlog_count").fetchall()[0][0]:
        backlog = [
            r[0] for r in sql.execute(con, "search/backlog_chunk", {"limit": BACKLOG_CHUNK}).fetchall()
        ]
    ids = sorted(set(changed) | set(backlog))
    if not ids:
        return 0
    with id_filter(con, "article_id", ids) as wanted:
        indexed = _index(con, wanted, now)
        sql.execute(con, "search/backlog_done", wanted=wanted)
    _maybe_merge(con)
    return indexed


def _index(con: duckdb.DuckDBPyConnection, wanted: str, now: datetime) -> int:
    # An updated article's old doc goes, postings and all (new articles have none: no scan then).
    old = [r[0] for r in sql.execute(con, "search/old_docs", wanted=wanted).fetchall()]
    if old:
        sql.execute(con, "search/drop_docs", gone="doc in (" + ", ".join(str(d) for d in old) + ")")
    # Tokenising is most of the indexing time, and DuckDB spreads a scan over its threads by row
    # group: the few thousand articles of a cycle are one row group (one core), so they are read
    # out and tokenised from an Arrow table cut into small batches, which DuckDB scans in parallel
    # (2.5 s → 1.3 s for 6,526 articles of real text on two cores).
    source = sql.execute(con, "search/source", wanted=wanted).to_arrow_table()
    batches = source.to_batches(max_chunksize=TOKENISE_BATCH)
    con.register("_search_source", pa.Table.from_batches(batches, source.schema))
    try:
        sql.execute(con, "search/tokenise")
    finally:
        con.unregister("_search_source")
    _add_terms(con)
    (count, last) = sql.execute(con, "search/postings", {"now": now}).fetchall()[0]
    if count:
        sql.execute(con, "search/last_doc", {"last_doc": last})
    sql.execute(con, "search/batch_done")
    _stem_unstemmed(con)
    log.info("search: %d articles indexed", count)
    return int(count)


def _add_terms(con: duckdb.DuckDBPyConnection) -> None:
    """Give the batch's new words their term_id and their Snowball stem."""
    rows = sql.execute(con, "search/new_terms").fetchall()
    if not rows:
        return
    table = pa.table(
        {
            "term": [term for term, _, _ in rows],
            "stem": [stem(sample, "english" if english else "spanish") for _, sample, english in rows],
        }
    )
    con.register("_search_stems", table)
    try:
        sql.execute(con, "search/add_terms")
    finally:
        con.unregister("_search_stems")


def _stem_unstemmed(con: duckdb.DuckDBPyConnection) -> None:
    """Stems for words indexed before they were stemmed (none after migration 009 reindexes)."""
    rows = sql.execute(con, "search/unstemmed", {"limit": 200_000}).fetchall()
    if not rows:
        return
    table = pa.table({"term": [r[0] for r in rows], "stem": [stem(r[0], "spanish") for r in rows]})
    con.register("_search_stems", table)
    try:
        sql.execute(con, "search/set_stems")
    finally:
        con.unregister("_search_stems")


# ---------------------------------------------------------------- merging


def _maybe_merge(con: duckdb.DuckDBPyConnection, threshold: int = MERGE_ROWS) -> bool:
    """Move the recent postings, sorted by term, to the main table once there are enough of them."""
    (recent,) = sql.execute(con, "search/recent_count").fetchall()[0]
    if recent < threshold:
        return False
    sql.execute(con, "search/merge")
    log.info("search: %d recent postings merged into the sorted index", recent)
    return True


def merge(con: duckdb.DuckDBPyConnection) -> bool:
    """Move every recent posting to the sorted table now (the benchmark does this after bulk loads)."""
    return _maybe_merge(con, threshold=1)


# ---------------------------------------------------------------- words and stems


@cache
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


def strip_accents(text: str) -> str:
    """Lower case without accents, as DuckDB's ``strip_accents(lower(...))``: extorsión → extorsion."""
    return fold_accents(text.lower(), like_duckdb=True)


def stem(word: str, language: str = "spanish") -> str:
    """The Snowball stem of ``word`` as written (accents help: operación → oper), accents stripped."""
    return strip_accents(_stemmer(language).stemWord(word.lower()))
