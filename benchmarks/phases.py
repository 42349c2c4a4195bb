"""The pipeline's side of the benchmark: a first cycle, unchanged cycles, F1 and the loading rate.

Each cycle runs the three stages ``pipeline.tasks.run_once`` runs (``plan``, ``collect`` of
every feed as one batch, ``load``), through the same public functions, each timed on its own.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

from benchmarks.corpus import Served, page_index
from benchmarks.measure import Stage, TreeMonitor, f1, timed
from pipeline import staging, store, tasks
from pipeline.collect.batch import Batch
from pipeline.extract.feeds import parse_feed
from pipeline.load import search_index, stories, trends
from pipeline.load import transaction as load_module
from pipeline.load.transaction import _load_articles, load_cycle
from pipeline.settings import Settings, load_feeds
from pipeline.store import publication

MB = 1024 * 1024
# The steps of a load worth timing apart: the pipeline calls them through these modules' attributes.
LOAD_STEPS = [
    (load_module, "_load_articles"),
    (load_module, "classify_articles"),
    (stories, "assign"),
    (trends, "refresh_trends"),
    (search_index, "index_articles"),
    (publication, "publish"),
]


def local_only(served: Served) -> tuple[list[int], int]:
    """Feeds whose every item link is on a loopback host (as the pipeline parses them), and the
    number of others, which the benchmark leaves out: it never sends a request off this machine."""
    keep, dropped = [], 0
    for i, (url, body) in enumerate(zip(served.feed_urls, served.feed_bodies, strict=True)):
        try:
            entries = parse_feed(body, feed=f"f{i:03d}", url=url).entries
        except Exception:  # noqa: BLE001 - not a feed: the pipeline records it and moves on, so do we
            keep.append(i)
            continue
        hosts = {urlsplit(e.url).hostname or "" for e in entries if e.url}
        if all(h.startswith("127.") for h in hosts):
            keep.append(i)
        else:
            dropped += 1
    return keep, dropped


def cycle(settings: Settings, tree: TreeMonitor, run_id: str) -> tuple[dict[str, Any], Batch]:
    """One cycle, stage by stage, exactly as ``tasks.run_once`` composes it."""
    feeds = load_feeds(settings.feeds_path)
    with Stage(tree) as total:
        with Stage(tree) as plan:
            jobs = [job for batch in tasks.plan(settings) for job in batch]
        with Stage(tree) as collect:
            batch = tasks.collect(settings, jobs)
        with Stage(tree) as load, timed(LOAD_STEPS, load_steps := {}):
            summary = tasks.load(settings, staging.batch_tables(batch), run_id, feeds=feeds)
    outcomes = Counter(f.outcome for f in batch.fetches)
    statuses = Counter(a.extraction_status for a in batch.articles)
    extracted = sum(1 for a in batch.articles if _extraction_ran(a))
    stages = {
        "plan": {"wall_s": plan.wall, "cpu_s": plan.main_cpu},
        "collect": {
            "wall_s": collect.wall,
            "cpu_s": collect.tree_cpu,
            "main_cpu_s": collect.main_cpu,  # fetching, the event loop, handing work to the workers
            "workers_cpu_s": max(0.0, collect.tree_cpu - collect.main_cpu),
            "worker_tasks_cpu_s": {k: v for k, v in batch.cpu.items() if k != "collect"},
        },
        "load": {"wall_s": load.wall, "cpu_s": load.main_cpu, "steps_s": load_steps},
    }
    figures = {
        "wall_s": total.wall,
        "cpu_s": total.tree_cpu,
        "peak_rss_mb": total.peak_rss / MB,
        "feeds": dict(outcomes),
        "articles": len(batch.articles),
        "statuses": dict(statuses),
        "pages_extracted": extracted,
        "classified_in_workers": len(batch.classified),
        "new_articles": summary.new_articles,
        "stages": stages,
        "articles_per_s": len(batch.articles) / total.wall if total.wall else 0.0,
        "pages_per_s": extracted / total.wall if total.wall else 0.0,
        "load_rows_per_s": len(batch.articles) / load.wall if load.wall else 0.0,
    }
    return figures, batch


def backfill(settings: Settings, tree: TreeMonitor) -> dict[str, Any]:
    """``python -m pipeline backfill`` over every stored article: each page downloaded, extracted,
    classified and loaded again, in chunks, on the same server as the first cycle."""
    from pipeline.backfill import backfill as run_backfill

    with Stage(tree) as stage:
        summary = run_backfill(settings, datetime(1995, 1, 1, tzinfo=UTC))
    pages = summary.statuses.get("ok", 0)
    return {
        "selected": summary.selected,
        "statuses": dict(summary.statuses),
        "changes": dict(summary.changes),
        "wall_s": stage.wall,
        "cpu_s": stage.tree_cpu,
        "pages_per_s": pages / stage.wall if stage.wall else 0.0,
        "peak_rss_mb": stage.peak_rss / MB,
    }


def _extraction_ran(article: Any) -> bool:
    """The page was downloaded and handed to the extractor (whatever came of it)."""
    return (
        article.extraction_status == "ok"
        or article.extraction_error in ("no article text found in the page",)
        or article.extraction_status == "extract_error"
    )


def extracted_pages(batch: Batch, pages: int) -> list[int]:
    """The page number of every page the cycle extracted, in order: the limit extracts the same."""
    return [page_index(urlsplit(a.url).path, pages) for a in batch.articles if a.url and _extraction_ran(a)]


def stored_f1(db: Path, served: Served, truth: dict[str, str]) -> dict[str, Any]:
    """F1 of the texts stored in ``articles`` against the reference texts, one article per page.

    A page whose text was too short to keep counts as an empty extraction (the article then holds
    its feed item's summary, which in this corpus describes some other page).
    """
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select url, text, extraction_status, extraction_error from articles"
            " where url is not null order by url"
        ).fetchall()
    finally:
        con.close()
    texts: dict[int, str] = {}
    for url, text, status, error in rows:
        if status != "ok" and error != "no article text found in the page":
            continue  # never extracted (download failed): not a verdict on extraction
        index = page_index(urlsplit(url).path, len(served.pages))
        texts.setdefault(index, text if status == "ok" else "")
    pairs = [(truth.get(served.pages[i].name, ""), text) for i, text in sorted(texts.items())]
    return {**f1(pairs), "pages": len(pairs)}


def limit_f1(texts: dict[int, str], served: Served, truth: dict[str, str]) -> dict[str, Any]:
    pairs = [(truth.get(served.pages[i].name, ""), text) for i, text in sorted(texts.items())]
    return {**f1(pairs), "pages": len(pairs)}


def bulk_load(
    settings: Settings, batch: Batch, rows: int, directory: Path, whole_rows: int = 5_000, seed: int = 11
) -> dict[str, Any]:
    """Article rows a second through the load, into a fresh database, as one cycle of ``rows`` articles.

    The articles are the first cycle's, each copied under new ids with a text of its own (words of
    the corpus drawn at random, as long as the original): copies of the same 181 texts would all be
    near-duplicates, which no real cycle is, and the story clustering would spend its time on them.
    Each keeps its original's classification (made in the workers), so the load classifies nothing.

    Reported twice: the articles upsert alone (all ``rows``), and the whole load (``load_cycle``:
    articles, sources, classification rows, stories, search index) of the first ``whole_rows``.
    """
    source = [a for a in batch.articles if a.url]
    if not source:
        return {}
    rng = random.Random(seed)
    vocabulary = sorted({w for a in source[:500] for w in a.text.split()})
    verdicts = {article_id: c for article_id, _, c in batch.classified}
    fallback = next(iter(verdicts.values()), None)
    copies, classified = [], []
    for n in range(rows):
        a = source[n % len(source)]
        text = " ".join(rng.choices(vocabulary, k=max(50, len(a.text.split()))))
        title = " ".join(rng.choices(vocabulary, k=9))
        content_hash = hashlib.sha256(f"{title}\x1f{text}".encode("utf-8", "surrogatepass")).hexdigest()[:20]
        copy = replace(
            a,
            article_id=f"bulk-{n:07d}",
            url=f"{a.url}?copy={n}",
            title=title,
            text=text,
            content_hash=content_hash,
        )
        copies.append(copy)
        verdict = verdicts.get(a.article_id, fallback)
        if verdict is not None:
            classified.append((copy.article_id, content_hash, verdict))
    tables = staging.batch_tables(
        Batch(fetches=batch.fetches, states=batch.states, articles=copies, classified=classified)
    )
    del copies, classified
    feeds = load_feeds(settings.feeds_path)
    bulk_settings = replace(
        settings, db_path=directory / "bulk.duckdb", analyst_db_path=directory / "bulk.analyst.duckdb"
    )
    classifier = tasks.worker_classifier(settings)
    steps: dict[str, float] = {}
    # The whole load of a part of them: stories and the search index take far longer per row.
    part = {
        name: table.slice(0, whole_rows) if name in ("articles", "classified") else table
        for name, table in tables.items()
    }
    with store.open_db(bulk_settings) as con, timed(LOAD_STEPS, steps):
        started = time.perf_counter()
        load_cycle(con, part, feeds, "bench-bulk", classifier, datetime.now(UTC))
        whole = time.perf_counter() - started
    # The articles upsert alone, into an empty table: what `_load_articles` costs per row.
    with store.open_db(replace(bulk_settings, db_path=directory / "bulk2.duckdb")) as con:
        con.register("_stage_articles", tables["articles"])
        started = time.perf_counter()
        con.execute("begin transaction")
        _load_articles(con, datetime.now(UTC))  # the step itself, not a copy of its SQL
        con.execute("commit")
        upsert = time.perf_counter() - started
    return {
        "rows": rows,
        "load_cycle_rows": part["articles"].num_rows,
        "load_cycle_s": whole,
        "load_cycle_rows_per_s": part["articles"].num_rows / whole if whole else 0.0,
        "load_cycle_steps_s": steps,
        "articles_upsert_s": upsert,
        "articles_upsert_rows_per_s": rows / upsert if upsert else 0.0,
    }
