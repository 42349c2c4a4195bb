"""Full-text search over titles and texts: an index kept up to date by each load, ranked by BM25.

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
articles). A query word then matches every indexed word of its family: ``extorsionadores``
finds ``extorsión`` because both stem to ``extorsion``. The stems live in the database, so the
``search`` table macro (migration 009) works in any DuckDB session, read-only, with no Python:

    select * from search('"tren de aragua" OR extors*');                   -- SQL
    python -m pipeline search '"tren de aragua" OR extors*' --since 2026-11-01   -- shell

The shell command parses the query here (parentheses too) and computes Snowball stems of words
no article contains yet; the macro parses simple queries itself (no parentheses).
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from itertools import product

import duckdb
import pyarrow as pa
import Stemmer

from pipeline.errors import ConfigError
from pipeline.load.stories import id_filter

log = logging.getLogger(__name__)

MERGE_ROWS = 4_000_000  # postings kept unsorted before they are moved, sorted, into search_postings
BACKLOG_CHUNK = 50_000  # articles from before migration 003 indexed per cycle
TOKENISE_BATCH = 512  # articles per Arrow batch: DuckDB's unit of parallel work when tokenising

SEARCH_SQL = (
    "select * from search(?, max_results := ?, since := ?, until := ?, relevant := ?, topic := ?,"
    " department := ?, outlet := ?, atoms := ?)"
)
MAX_ALTERNATIVES = 64  # OR alternatives a query may expand to (parentheses multiply them)


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
        f"select article_id, title, coalesce(text, summary) as body, language from articles where {wanted}"
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
                   search_words(concat_ws(' ', title, title, body)) as tokens,
                   coalesce(language, '') like 'en%' as english,
                   -- words as written, with their accents, for the stemmer (operación → oper)
                   list_filter(
                       regexp_split_to_array(lower(concat_ws(' ', title, body)), '[^\\p{L}\\p{N}]+'),
                       w -> w <> strip_accents(w)
                   ) as accented
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
    _add_terms(con)
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
    _stem_unstemmed(con)
    log.info("search: %d articles indexed", count)
    return int(count)


def _add_terms(con: duckdb.DuckDBPyConnection) -> None:
    """Give the batch's new words their term_id and their Snowball stem."""
    rows = con.execute(
        r"""
        with new_terms as (
            select distinct term from _search_counts c
            where not exists (select 1 from search_terms t where t.term = c.term)
        ),

        written as (
            -- the most accented way the word was written (policía rather than policia)
            select strip_accents(w) as term, arg_max(w, strlen(w)) as sample
            from (select unnest(accented) as w from _search_new)
            group by 1
        ),

        languages as (
            select c.term, bool_and(n.english) as english
            from _search_counts c
            join _search_new n using (doc)
            where c.term in (select term from new_terms)
            group by c.term
        )

        select n.term, coalesce(w.sample, n.term), coalesce(l.english, false)
        from new_terms n
        left join written w using (term)
        left join languages l using (term)
        order by n.term
        """
    ).fetchall()
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
        con.execute(
            """
            insert into search_terms (term, term_id, stem)
            select term,
                   (select coalesce(max(term_id), 0) from search_terms) + row_number() over (order by term),
                   stem
            from _search_stems
            """
        )
    finally:
        con.unregister("_search_stems")


def _stem_unstemmed(con: duckdb.DuckDBPyConnection) -> None:
    """Stems for words indexed before they were stemmed (none after migration 009 reindexes)."""
    rows = con.execute("select term from search_terms where stem is null limit 200000").fetchall()
    if not rows:
        return
    table = pa.table({"term": [r[0] for r in rows], "stem": [stem(r[0], "spanish") for r in rows]})
    con.register("_search_stems", table)
    try:
        con.execute(
            "update search_terms set stem = s.stem from _search_stems s where search_terms.term = s.term"
        )
    finally:
        con.unregister("_search_stems")


# ---------------------------------------------------------------- words and stems


@cache
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


def strip_accents(text: str) -> str:
    """Lower case without accents, as DuckDB's ``strip_accents(lower(...))``: extorsión → extorsion."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def stem(word: str, language: str = "spanish") -> str:
    """The Snowball stem of ``word`` as written (accents help: operación → oper), accents stripped."""
    return strip_accents(_stemmer(language).stemWord(word.lower()))


# ---------------------------------------------------------------- the query language


@dataclass(frozen=True, slots=True)
class Atom:
    kind: str  # word | prefix | phrase
    text: str  # as typed, lower case
    stems: tuple[str, ...] = ()


_TOKEN = re.compile(r'-?"[^"]*"?|[()]|[^\s"()]+')
_OPERATORS = {"AND", "OR", "NOT"}

Clause = tuple[tuple[Atom, bool], ...]  # (atom, negated), all required


def parse_query(query: str) -> list[Clause]:
    """The query as OR-alternatives of required and excluded atoms (disjunctive normal form).

    ``a b`` and ``a AND b``: both; ``a OR b``: either (AND binds tighter); ``NOT a`` or ``-a``:
    not a; parentheses group; ``"a b"`` a phrase; ``ab*`` a prefix. Raises ConfigError with what
    is wrong in a query that cannot be read.
    """
    tokens = _TOKEN.findall(query or "")
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def alternatives() -> tuple:
        parts = [conjunction()]
        while peek() == "OR":
            take()
            parts.append(conjunction())
        return ("or", parts)

    def conjunction() -> tuple:
        parts = [unary()]
        while peek() not in (None, "OR", ")"):
            if peek() == "AND":
                take()
            parts.append(unary())
        return ("and", parts)

    def unary() -> tuple:
        token = peek()
        if token is None or token in ("OR", "AND", ")"):
            raise ConfigError(f"search query {query!r}: a word is missing before {token or 'the end'}")
        take()
        if token == "NOT":
            return ("not", unary())
        if token == "(":
            inner = alternatives()
            if peek() != ")":
                raise ConfigError(f"search query {query!r}: a parenthesis is not closed")
            take()
            return inner
        if token.startswith("-") and len(token) > 1:
            return ("not", ("atom", _atom(token[1:])))
        return ("atom", _atom(token))

    tree = alternatives()
    if peek() is not None:
        raise ConfigError(f"search query {query!r}: unexpected {peek()!r}")
    clauses = [tuple((a, n) for a, n in c if a is not None) for c in _dnf(tree, False)]
    clauses = [c for c in clauses if c]
    if len(clauses) > MAX_ALTERNATIVES:
        raise ConfigError(f"search query {query!r} expands to more than {MAX_ALTERNATIVES} alternatives")
    for clause in clauses:
        if all(negated for _, negated in clause):
            raise ConfigError(
                f"search query {query!r}: every alternative needs a word to look for (NOT alone would"
                " return the whole archive)"
            )
    return clauses


def _atom(token: str) -> Atom | None:
    if token.startswith('"'):
        text = token.strip('"').lower()
        return Atom("phrase", text) if _words(text) else None
    if token.endswith("*"):
        text = token.rstrip("*").lower()
        return Atom("prefix", text) if len(re.sub(r"[^a-z0-9]", "", strip_accents(text))) >= 3 else None
    words = _words(token)
    if not words:
        return None  # a stop word, or punctuation
    if len(words) > 1:
        return Atom("phrase", token.lower())
    written = token.lower()
    return Atom("word", written, tuple(sorted({stem(written, "spanish"), stem(written, "english")})))


# The stop words of the search_words macro (migration 009); a test holds them equal.
_STOP_WORDS = (
    "al ante con de del el en entre es esta este fue ha han la las le les lo los mas no para pero por que se"
    " sin sobre su sus tras un una uno ya an and are as at be by for from has in is it its of on or that the"
    " to was were with"
)
_STOP = frozenset(_STOP_WORDS.split())


def _words(text: str) -> list[str]:
    """The index's words of ``text`` (the ``search_words`` macro, in Python)."""
    return [w for w in re.split(r"[^a-z0-9]+", strip_accents(text)) if len(w) > 1 and w not in _STOP]


def _dnf(node: tuple, negate: bool) -> list[list[tuple[Atom | None, bool]]]:
    kind = node[0]
    if kind == "atom":
        return [[(node[1], negate)]]
    if kind == "not":
        return _dnf(node[1], not negate)
    children = [_dnf(child, negate) for child in node[1]]
    # De Morgan: a negated AND is an OR of negations, and the other way round.
    if (kind == "or") != negate:
        return [clause for child in children for clause in child]
    clauses = []
    for combination in product(*children):
        clauses.append([item for clause in combination for item in clause])
        if len(clauses) > MAX_ALTERNATIVES:
            break
    return clauses


def atoms_json(clauses: list[Clause]) -> str:
    """The parsed query as the ``atoms`` argument of the ``search`` macro."""
    return json.dumps(
        [
            {
                "clause": i,
                "negated": negated,
                "kind": atom.kind,
                "text": strip_accents(atom.text),
                "stems": list(atom.stems),
            }
            for i, clause in enumerate(clauses)
            for atom, negated in clause
        ],
        ensure_ascii=False,
    )


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


def search(
    con: duckdb.DuckDBPyConnection,
    query: str,
    limit: int | None = 20,
    since: date | None = None,
    until: date | None = None,
    relevant: bool | None = None,
    topic: str | None = None,
    department: str | None = None,
    outlet: str | None = None,
) -> list[dict]:
    """The ``limit`` best articles for ``query`` (None: all), best first, as dicts (see the
    ``search`` macro for the columns and the filters)."""
    clauses = parse_query(query)
    if not clauses:
        return []
    cursor = con.execute(
        SEARCH_SQL,
        [query, limit, since, until, relevant, topic, department, outlet, atoms_json(clauses)],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
