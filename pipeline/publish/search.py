"""Full-text search over titles and texts, ranked by BM25: the query language and ``search``.

The index is kept up to date by each load (pipeline.load.search_index).

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
from dataclasses import dataclass
from datetime import date
from itertools import product

import duckdb

from pipeline import sql
from pipeline.errors import ConfigError
from pipeline.load.search_index import stem, strip_accents

log = logging.getLogger(__name__)

MAX_ALTERNATIVES = 64  # OR alternatives a query may expand to (parentheses multiply them)


# ---------------------------------------------------------------- words and stems


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
    cursor = sql.execute(
        con,
        "search/search",
        {
            "query": query,
            "limit": limit,
            "since": since,
            "until": until,
            "relevant": relevant,
            "topic": topic,
            "department": department,
            "outlet": outlet,
            "atoms": atoms_json(clauses),
        },
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
