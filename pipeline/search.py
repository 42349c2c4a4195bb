"""Full-text search over titles and texts: an index kept up to date by each load, ranked by BM25.

Why not DuckDB's ``fts`` extension: it rebuilds the whole index on every change (minutes for a
million articles, every 15 minutes, inside the load), and it would be one more binary package.
This index is plain tables (migration 003) updated incrementally inside the cycle's transaction:

    search_terms            term → dense term_id
    search_docs             doc → article_id, length      (an updated article gets a new doc)
    search_postings_recent  (term_id, doc, tf, doc length) of the latest loads, unsorted
    search_postings         the same, moved here sorted by term once the recent table holds
                            ``MERGE_ROWS`` rows: each sorted run's row groups cover narrow term
                            ranges, so a query reads a few row groups per run (DuckDB skips the
                            others by their min/max), not the whole table

Tokenising and ranking are SQL macros (``search_tokens``, ``search``) created by the migration, so
the index and every query, from Python or from an analyst's read-only session, fold words the same
way: lower case, accents stripped, stop words dropped, plurals folded.

    select * from search('extorsión transportistas');                  -- SQL
    python -m pipeline search "extorsión transportistas" --limit 10     -- shell
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from pipeline.stories import id_filter

log = logging.getLogger(__name__)

MERGE_ROWS = 4_000_000  # postings kept unsorted before they are moved, sorted, into search_postings
BACKLOG_CHUNK = 50_000  # articles from before migration 003 indexed per cycle
TOKENISE_BATCH = 512  # articles per Arrow batch: DuckDB's unit of parallel work when tokenising

SEARCH_SQL = "select * from search(?, max_results := ?)"


def index_articles(con: duckdb.DuckDBPyConnection, changed: Sequence[str], now: datetime) -> int:
    """(Re)index these articles and a chunk of the backlog. Returns how many were indexed."""
    backlog: list[str] = []
    if con.execute("select count(*) from search_backlog").fetchall()[0][0]:
        backlog = [
            r[0]
            for r in con.execute(
                "select distinct article_id from search_backlog limit ?", [BACKLOG_CHUNK]
            ).fetchall()
        ]
    ids = sorted(set(changed) | set(backlog))
    if not ids:
        return 0
    with id_filter(con, "article_id", ids) as wanted:
        indexed = _index(con, wanted, now)
        con.execute(f"delete from search_backlog where {wanted}")
    _maybe_merge(con)
    return indexed


def _index(con: duckdb.DuckDBPyConnection, wanted: str, now: datetime) -> int:
    # An updated article's old doc goes, postings and all (new articles have none: no scan then).
    old = [r[0] for r in con.execute(f"select doc from search_docs where {wanted}").fetchall()]
    if old:
        gone = "doc in (" + ", ".join(str(d) for d in old) + ")"
        for table in ("search_postings_recent", "search_postings", "search_docs"):
            con.execute(f"delete from {table} where {gone}")
    # Tokenising is most of the indexing time, and DuckDB spreads a scan over its threads by row
    # group: the few thousand articles of a cycle are one row group (one core), so they are read
    # out and tokenised from an Arrow table cut into small batches, which DuckDB scans in parallel
    # (2.5 s → 1.3 s for 6,526 articles of real text on two cores).
    source = con.execute(
        f"select article_id, title, coalesce(text, summary) as body from articles where {wanted}"
    ).to_arrow_table()
    batches = source.to_batches(max_chunksize=TOKENISE_BATCH)
    con.register("_search_source", pa.Table.from_batches(batches, source.schema))
    try:
        con.execute(
            """
            create or replace temp table _search_new as
            select article_id,
                   (select coalesce(max(last_doc), 0) from search_state)
                       + row_number() over (order by article_id) as doc,
                   -- The title counts twice: a word in the headline says more than one in the body.
                   search_tokens(concat_ws(' ', title, title, body)) as tokens
            from _search_source
            """
        )
    finally:
        con.unregister("_search_source")
    con.execute(
        """
        create or replace temp table _search_counts as
        select doc, term, count(*)::integer as tf, any_value(length)::integer as length
        from (select doc, len(tokens) as length, unnest(tokens) as term from _search_new)
        group by doc, term
        """
    )
    con.execute(
        """
        insert into search_terms
        select term, (select coalesce(max(term_id), 0) from search_terms) + row_number() over (order by term)
        from (select distinct term from _search_counts) n
        where not exists (select 1 from search_terms t where t.term = n.term)
        """
    )
    con.execute(
        """
        insert into search_postings_recent
        -- The doc's length travels with its counts: joining the token lists back in here would
        -- carry every token of the batch through the join (minutes for a few thousand articles).
        select t.term_id, c.doc, c.tf, c.length
        from _search_counts c
        join search_terms t using (term)
        order by t.term_id, c.doc
        """
    )
    con.execute("insert into search_docs select doc, article_id, len(tokens), ? from _search_new", [now])
    (count, last) = con.execute("select count(*), max(doc) from _search_new").fetchall()[0]
    if count:
        con.execute("delete from search_state")
        con.execute("insert into search_state values (?)", [last])
    con.execute("drop table _search_new")
    con.execute("drop table _search_counts")
    log.info("search: %d articles indexed", count)
    return int(count)


def _maybe_merge(con: duckdb.DuckDBPyConnection, threshold: int = MERGE_ROWS) -> bool:
    """Move the recent postings, sorted by term, to the main table once there are enough of them."""
    (recent,) = con.execute("select count(*) from search_postings_recent").fetchall()[0]
    if recent < threshold:
        return False
    con.execute("insert into search_postings select * from search_postings_recent order by term_id, doc")
    con.execute("delete from search_postings_recent")
    log.info("search: %d recent postings merged into the sorted index", recent)
    return True


def merge(con: duckdb.DuckDBPyConnection) -> bool:
    """Move every recent posting to the sorted table now (the benchmark does this after bulk loads)."""
    return _maybe_merge(con, threshold=1)


def search(con: duckdb.DuckDBPyConnection, query: str, limit: int = 20) -> list[dict]:
    """The ``limit`` best articles for ``query``, best first, as dicts (see the ``search`` macro)."""
    cursor = con.execute(SEARCH_SQL, [query, limit])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
