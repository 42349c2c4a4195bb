"""Model versions, analysts' labels and classifications in DuckDB.

    models            one row per retrained version; the newest is the current one
    labels            analysts' corrections, the last per article wins (queries/labelled_articles.sql)
    classifications   one row per article and model version: re-scoring adds rows, never rewrites
                      another version's

The SQL lives in ``queries/``, one query per file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.classify.model import PARAMS_FORMAT, Model, ModelError
from pipeline.classify.training import Document

log = logging.getLogger(__name__)

QUERIES = Path(__file__).resolve().parent / "queries"
BATCH = 5_000  # articles scored and inserted at a time by reclassify


@cache
def query(name: str) -> str:
    return (QUERIES / f"{name}.sql").read_text(encoding="utf-8")


def newest_model(db_path: str | Path) -> Model | None:
    """The newest stored version, or None when the database or its ``models`` table has none."""
    from pipeline.store import open_db

    if not Path(db_path).exists():
        return None
    # A busy or broken database raises (StoreError): silently scoring with the base model instead
    # of the current version would mix versions in `classifications`.
    with open_db(db_path, read_only=True) as con:
        return newest_model_from(con)


def newest_model_from(con: duckdb.DuckDBPyConnection) -> Model | None:
    try:
        row = con.execute(query("newest_model")).fetchone()
    except duckdb.CatalogException:  # a database from before the models table
        return None
    if row is None:
        return None
    version, _created, _parent, params = row
    try:
        decoded = json.loads(params)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ModelError(f"stored model {version} has unreadable params: {exc}") from exc
    if (
        isinstance(decoded, dict)
        and isinstance(decoded.get("format"), int)
        and decoded["format"] < PARAMS_FORMAT
    ):
        # Built by an older classifier whose features this one no longer computes: its weights would
        # score nonsense. The base model decides until `retrain` builds a version of today's kind.
        log.warning(
            "stored model %s has params format %s (this classifier reads %s): using the base model;"
            " run `python -m pipeline retrain` to rebuild it from the labels",
            version,
            decoded["format"],
            PARAMS_FORMAT,
        )
        return None
    return Model(decoded, version)


def count_models(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select count(*) from models").fetchone()
    return int(row[0]) if row else 0


def save_model(
    con: duckdb.DuckDBPyConnection,
    model: Model,
    parent_version: str | None,
    metrics: dict[str, Any],
    notes: str,
    created_at: datetime | None = None,
) -> None:
    con.execute(
        "insert into models (model_version, created_at, parent_version, params, metrics, notes)"
        " values (?, ?, ?, ?, ?, ?)",
        [
            model.version,
            created_at or datetime.now(UTC),
            parent_version,
            json.dumps(model.params, sort_keys=True),
            json.dumps(metrics, sort_keys=True),
            notes,
        ],
    )


def labelled_documents(con: duckdb.DuckDBPyConnection) -> list[Document]:
    """Articles analysts labelled, as training documents (ambiguous ones included: callers filter)."""
    rows = con.execute(query("labelled_articles")).fetchall()
    return [
        Document(
            id=article_id,
            label=label,
            title=title,
            text=text,
            language=language,
            source="analyst",
            category=f"labelled by {labelled_by or 'unknown'}",
        )
        for article_id, label, title, text, language, labelled_by, _at in rows
    ]


def articles_to_classify(
    con: duckdb.DuckDBPyConnection, version: str, everything: bool
) -> Iterator[list[tuple[str, str, str, str | None, str | None]]]:
    """Batches of (article_id, title, text, language, url) not yet scored by ``version`` (or all).

    The ids are read first, then the texts a batch at a time: the caller may write between batches.
    """
    ids = [
        row[0]
        for row in con.execute(
            query("articles_to_classify"), {"version": version, "all": everything}
        ).fetchall()
    ]
    for start in range(0, len(ids), BATCH):
        con.register(
            "_vigia_ids", pa.table({"article_id": pa.array(ids[start : start + BATCH], pa.string())})
        )
        try:
            yield con.execute(query("article_texts")).fetchall()
        finally:
            con.unregister("_vigia_ids")


def write_classifications(con: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
    """Insert one Arrow table of classifications, replacing rows of the same article and version."""
    con.register("_vigia_classified", table)
    try:
        con.execute(
            "delete from classifications c using _vigia_classified n"
            " where c.article_id = n.article_id and c.model_version = n.model_version"
        )
        con.execute("insert into classifications by name select * from _vigia_classified")
    finally:
        con.unregister("_vigia_classified")


def reclassify(con: duckdb.DuckDBPyConnection, model: Model, everything: bool = False) -> tuple[int, int]:
    """Score stored articles with ``model`` into ``classifications``. Returns (scored, relevant)."""
    from pipeline.load.transaction import classifications_table

    scored = relevant = 0
    now = datetime.now(UTC)
    for rows in articles_to_classify(con, model.version, everything):
        results = model.classify_many(
            [(title, text, language, url) for _id, title, text, language, url in rows]
        )
        write_classifications(con, classifications_table([r[0] for r in rows], results, now))
        scored += len(rows)
        relevant += sum(1 for c in results if c.is_relevant)
        log.info("reclassified %d articles with %s", scored, model.version)
    return scored, relevant
