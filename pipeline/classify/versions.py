"""Model versions, analysts' labels and classifications in DuckDB; which model a cycle uses.

The classifier is layered: ``model`` (the Model, its scoring and its params format) <- ``training``
(params fitted from seeds, examples and labels) <- ``versions`` (versions stored and read back,
and the choice: the newest stored version, else the base model built from the repository).

    models            one row per retrained version; the newest is the current one
    labels            analysts' corrections, the last per article wins
    classifications   one row per article and model version: re-scoring adds rows, never rewrites
                      another version's

The SQL lives in ``sql/queries/classify/``, one query per file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline import sql
from pipeline.classify import lexicon
from pipeline.classify.cache import base_inputs_digest, read_json, write_json
from pipeline.classify.model import PARAMS_FORMAT, Model, ModelError, make_version
from pipeline.classify.training import Document, build_base_params

log = logging.getLogger(__name__)

BATCH = 5_000  # articles scored and inserted at a time by reclassify


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
        row = sql.execute(con, "classify/newest_model").fetchone()
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
    row = sql.execute(con, "classify/count_models").fetchone()
    return int(row[0]) if row else 0


def save_model(
    con: duckdb.DuckDBPyConnection,
    model: Model,
    parent_version: str | None,
    metrics: dict[str, Any],
    notes: str,
    created_at: datetime | None = None,
) -> None:
    sql.execute(
        con,
        "classify/save_model",
        {
            "model_version": model.version,
            "created_at": created_at or datetime.now(UTC),
            "parent_version": parent_version,
            "params": json.dumps(model.params, sort_keys=True),
            "metrics": json.dumps(metrics, sort_keys=True),
            "notes": notes,
        },
    )


def labelled_documents(con: duckdb.DuckDBPyConnection) -> list[Document]:
    """Articles analysts labelled, as training documents (ambiguous ones included: callers filter)."""
    rows = sql.execute(con, "classify/labelled_articles").fetchall()
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
        for row in sql.execute(
            con, "classify/articles_to_classify", {"version": version, "all": everything}
        ).fetchall()
    ]
    for start in range(0, len(ids), BATCH):
        con.register(
            "_vigia_ids", pa.table({"article_id": pa.array(ids[start : start + BATCH], pa.string())})
        )
        try:
            yield sql.execute(con, "classify/article_texts").fetchall()
        finally:
            con.unregister("_vigia_ids")


def write_classifications(con: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
    """Insert one Arrow table of classifications, replacing rows of the same article and version."""
    con.register("_vigia_classified", table)
    try:
        sql.execute(con, "classify/replace_classifications")
    finally:
        con.unregister("_vigia_classified")


def reclassify(con: duckdb.DuckDBPyConnection, model: Model, everything: bool = False) -> tuple[int, int]:
    """Score stored articles with ``model`` into ``classifications``. Returns (scored, relevant)."""
    from pipeline.records import classifications_table

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


# ---------------------------------------------------------------- the model a cycle uses

_BASE: Model | None = None  # this process's base model, once built or read


def base_model(cache_dir: Path | None = None) -> Model:
    """The model built from the repository's seeds and examples (deterministic; half a second of CPU).

    Built once per process. With ``cache_dir`` its params are also kept there between processes (each
    cycle is a new process: a CLI run or an Airflow task), under a digest of every input they are
    built from, so a cycle with a handful of new pages does not spend more on the model than on them.
    """
    global _BASE
    if cache_dir is not None:
        lexicon.use_cache(cache_dir)
    if _BASE is None:
        _BASE = _cached_base_model(cache_dir) if cache_dir is not None else _build_base_model()
    return _BASE


def _build_base_model() -> Model:
    params = build_base_params()
    return Model(params, make_version("base", params))


def _cached_base_model(cache_dir: Path) -> Model:
    path = cache_dir / f"base-model-{base_inputs_digest()}.json"
    stored = read_json(path)
    try:
        if stored is not None:
            params, version = stored["params"], stored["version"]
            if make_version("base", params) == version:  # a damaged or edited file is rebuilt
                return Model(params, version)
            log.warning("base model cache %s does not match its params: rebuilding it", path)
    except (KeyError, TypeError, ModelError) as exc:
        log.warning("base model cache %s unreadable (%s): rebuilding it", path, exc)
    model = _build_base_model()
    write_json(path, {"version": model.version, "params": model.params})
    return model


def load_model(
    db_path: str | Path | None = None,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    cache_dir: Path | None = None,
) -> Model:
    """The model a cycle uses: the latest version in the database's ``models`` table, else the base model.

    Pass ``con`` instead of ``db_path`` when the caller already has the database open (DuckDB does
    not let one process open a file twice with different modes); ``cache_dir``: see ``base_model``.
    """
    if cache_dir is not None:
        lexicon.use_cache(cache_dir)
    if con is not None or db_path is not None:
        stored = newest_model_from(con) if con is not None else newest_model(db_path)  # type: ignore[arg-type]
        if stored is not None:
            return stored
    return base_model(cache_dir)
