"""The stages of a cycle as the CLI and the Airflow DAG call them.

plan(settings)                      → list of batches of FeedJobs   (reads the database)
collect(settings, jobs)             → Batch                          (network + workers, no writes)
stage(batch, dir) / read_staged(..) → Parquet files between Airflow tasks
load(settings, tables, run_id)      → RunSummary                     (the only writer)
run_once(settings)                  → all of it in one process
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, overload

import pyarrow as pa

from pipeline import staging, store
from pipeline.collect import polling
from pipeline.collect.batch import Batch, batches_of, collect_batch, plan_jobs
from pipeline.errors import StoreError
from pipeline.load.transaction import Classifier, LazyClassifier, load_cycle
from pipeline.records import Feed, FeedJob, RunSummary, jobs_from_json, jobs_to_json
from pipeline.registry import Registry, check_disabling, read_registry
from pipeline.settings import Settings, load_feeds  # noqa: F401 (ingest.load_feeds, as before)
from pipeline.store import reads

log = logging.getLogger(__name__)


def new_run_id(prefix: str = "cli") -> str:
    return f"{prefix}-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"


def plan(
    settings: Settings, only_due: bool = False, now: datetime | None = None, registry: Registry | None = None
) -> list[list[FeedJob]]:
    """Read feeds.toml and the stored feed states; return the feeds to poll, in batches.

    ``only_due`` (the scheduler's runs): only the feeds due now, each at its own rhythm
    (``polling.rested``), and none backing off or gone, so a run every minute asks only the feeds
    worth asking and logs nothing for the others. Without it (the CLI's cycle) every enabled feed
    is planned and one not due is recorded ``deferred`` or ``gone``.

    A registry the database already lists (``reads.applied_registry``: the same bytes, checked by
    the load that applied them) is read from the ``feeds`` table, the due feeds picked there in
    one query: the plan's cost follows the feeds it plans. Another is parsed and checked whole.
    ``registry``: feeds.toml as read already (read here when not given).
    """
    registry = registry or read_registry(settings.feeds_path)
    now = now or datetime.now(UTC)
    if not store.backend(settings).exists():
        registry.feeds()  # a registry that is wrong creates no database
    # A writer open: creates and migrates a new database; a damaged one stops the cycle here.
    with store.open_db(settings, check_blocks=True) as con:
        if reads.applied_registry(con) == registry.key:
            stored = reads.planned_feeds(con, polling.due_filter(settings, now) if only_due else None)
            jobs = [FeedJob(feed, state) for feed, state, _, _ in stored]
        else:
            feeds = registry.feeds()
            stored = reads.feed_states(con)
            # Before anything is downloaded (the load checks again, in its transaction).
            enabled = {feed.name for feed, *_ in stored if feed.enabled}
            check_disabling(enabled, feeds, settings.allow_mass_disable, settings.feeds_path)
            jobs = plan_jobs(feeds, {feed.name: (state, feed.url) for feed, state, _, _ in stored})
    if only_due:
        jobs = due_jobs(jobs, stored, settings, now)
    return batches_of(jobs, settings.feeds_per_batch)


def due_jobs(
    jobs: Sequence[FeedJob], stored: Sequence[reads.Planned], settings: Settings, now: datetime
) -> list[FeedJob]:
    """The jobs whose feed is due now: not gone, not backing off, and rested if healthy (its rhythm
    is the stored one while feeds.toml still gives it the URL that rhythm was learnt at)."""
    by_name = {feed.name: (feed.url, last, new) for feed, _, last, new in stored}
    due = []
    for job in jobs:
        if not polling.due(job.state, now, settings)[0]:
            continue
        configured, last_fetch_at, last_new_item_at = by_name.get(job.feed.name, (None, None, None))
        healthy = job.state.consecutive_failures == 0 and configured == job.feed.url
        if healthy and not polling.rested(last_fetch_at, last_new_item_at, now, settings):
            continue
        due.append(job)
    return due


def collect(settings: Settings, jobs: Sequence[FeedJob], now: datetime | None = None) -> Batch:
    """Fetch one batch of feeds and their new articles (classified in the workers when there are many:
    ``WorkerPool.expect_pages``). Writes nothing."""
    backend = store.backend(settings)
    return asyncio.run(
        collect_batch(
            jobs,
            settings,
            reads.known_lookup(backend),
            now,
            lambda: worker_classifier(settings),
            reads.backlog_lookup(backend, settings),
        )
    )


def worker_classifier(settings: Settings) -> Classifier:
    """The model the load will use, for the workers to classify with (built only if a page is extracted)."""
    backend = store.backend(settings)
    if not backend.exists():
        return current_classifier(None, settings.cache_dir)
    with backend.open(read_only=True) as con:
        return current_classifier(con, settings.cache_dir)


def current_classifier(con, cache_dir: Path | None = None) -> Classifier:
    """The newest model version stored in the database, else the base model built from the repository
    (its params read from ``cache_dir`` when an earlier cycle built them from the same inputs)."""
    from pipeline.classify.versions import load_model

    return load_model(con=con, cache_dir=cache_dir)


def load(
    settings: Settings,
    tables: dict[str, pa.Table],
    run_id: str,
    feeds: Sequence[Feed] | Registry | None = None,
    classifier: Classifier | None = None,
) -> RunSummary:
    """Load a cycle in one transaction, then publish the analyst copy. The only writer of a cycle.

    ``feeds``: feeds.toml as read (a ``Registry``, read here when not given), applied only if the
    database does not list it already; or a list of feeds, applied as given."""
    feeds = read_registry(settings.feeds_path) if feeds is None else feeds
    backend = store.backend(settings)
    if classifier is None and backend.shared and tables["articles"].num_rows:
        # Shared writers queue for one lock and its readers never wait: build the model (seconds) before
        # queueing. (A lake that does not exist yet is created below, and the model built there.)
        with contextlib.suppress(StoreError), backend.open(read_only=True) as con:
            classifier = current_classifier(con, settings.cache_dir)
    # Checkpointed and published on the way out (a lake compacts every so many loads instead).
    with backend.writing() as con:
        # Lazy: a cycle that changes no article never builds the model (a second or more).
        model: Classifier = classifier or LazyClassifier(lambda: current_classifier(con, settings.cache_dir))
        summary = load_cycle(con, tables, feeds, run_id, model, datetime.now(UTC), settings)
    return summary


def run_once(settings: Settings, run_id: str | None = None) -> RunSummary:
    """One whole cycle in this process: plan, collect every feed as one batch, load.

    One batch, not the DAG's several: one worker pool and one HTTP client for the whole cycle, and
    no batch waits for the slowest page of the batch before it. The cycle lock is held throughout:
    a second cycle stops (DatabaseBusy) before downloading anything.
    """
    run_id = run_id or new_run_id()
    with store.cycle_lock(settings):
        registry = read_registry(settings.feeds_path)
        jobs = [job for batch in plan(settings, registry=registry) for job in batch]
        return load(settings, staging.batch_tables(collect(settings, jobs)), run_id, feeds=registry)


def stage(settings: Settings, run_id: str, index: int, batch: Batch) -> str:
    directory = run_staging_dir(settings, run_id) / f"batch-{index:05d}"
    return str(staging.write_batch(batch, directory))


def read_staged(paths: Sequence[str]) -> dict[str, pa.Table]:
    return staging.read_batches([Path(p) for p in paths])


def run_staging_dir(settings: Settings, run_id: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
    return settings.staging / safe


def clear_staging(settings: Settings, run_id: str) -> None:
    shutil.rmtree(run_staging_dir(settings, run_id), ignore_errors=True)


# ---------------------------------------------------------------- the Airflow tasks' entry points


def plan_to_files(settings: Settings, run_id: str) -> list[str]:
    """Plan the run (the feeds due now) and write each batch's jobs to a JSON file; returns the
    files (XCom stays small): none when no feed is due, and the run collects and loads nothing."""
    import json

    batches = plan(settings, only_due=True)
    if not batches:
        return []
    directory = run_staging_dir(settings, run_id)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, jobs in enumerate(batches):
        path = directory / f"jobs-{i:05d}.json"
        path.write_text(json.dumps(jobs_to_json(jobs)), encoding="utf-8")
        paths.append(str(path))
    return paths


@overload
def collect_to_file(
    settings: Settings, jobs_file: str, run_id: str, index: int, with_batch: Literal[False] = False
) -> str: ...
@overload
def collect_to_file(
    settings: Settings, jobs_file: str, run_id: str, index: int, with_batch: Literal[True]
) -> tuple[str, Batch]: ...
def collect_to_file(
    settings: Settings, jobs_file: str, run_id: str, index: int, with_batch: bool = False
) -> str | tuple[str, Batch]:
    """Collect the batch planned in ``jobs_file`` and stage it; returns the staged directory (and
    the batch, ``with_batch``). ``python -m pipeline collect`` runs it for an Airflow collect task."""
    import json

    jobs = jobs_from_json(json.loads(Path(jobs_file).read_text(encoding="utf-8")))
    batch = collect(settings, jobs)
    path = stage(settings, run_id, index, batch)
    return (path, batch) if with_batch else path


def load_staged(settings: Settings, staged: Sequence[str], run_id: str) -> dict:
    summary = load(settings, read_staged(staged), run_id)
    clear_staging(settings, run_id)
    print(summary.line())
    return {k: getattr(summary, k) for k in summary.__dataclass_fields__}
