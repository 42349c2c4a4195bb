"""Small frozen records passed between the stages of a cycle.

A feed URL becomes an ``articles`` row by passing through these, in this order:

    Feed + FeedState --fetch--> FeedFetch --parse--> FeedEntry --download/extract--> Article
                                                                       --classify--> Classification

Every record is plain data (no I/O, no open handles) so it can be staged to a file between
Airflow tasks and compared in tests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Feed:
    """One entry of ``feeds.toml``."""

    name: str
    url: str
    language: str | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the ``feeds`` table remembers between cycles about one feed."""

    name: str
    url: str  # current URL: the configured one, or where every hop of a permanent redirect led
    etag: str | None = None
    last_modified: str | None = None
    consecutive_failures: int = 0
    next_fetch_at: datetime | None = None  # back-off or Retry-After; None means "due now"
    last_full_fetch_at: datetime | None = None
    gone: bool = False  # the feed answered 410 Gone: not polled again until its URL changes


@dataclass(frozen=True, slots=True)
class FeedJob:
    """One feed to fetch in a run, with its state as planned (passed as JSON between Airflow tasks)."""

    feed: Feed
    state: FeedState


@dataclass(frozen=True, slots=True)
class FeedFetch:
    """The outcome of one HTTP fetch of one feed; becomes a ``fetches`` row.

    ``outcome`` is one of ``pipeline.errors.OUTCOMES``.
    """

    feed: str
    url: str
    started_at: datetime
    outcome: str
    status_code: int | None = None
    bytes: int = 0
    duration_ms: int = 0
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    final_url: str | None = None  # set when every redirect hop was permanent (301/308)
    retry_after: datetime | None = None  # from a 429/503 Retry-After
    items: int = 0
    new_items: int = 0


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item of a parsed feed, with its canonical URL and deterministic key."""

    feed: str
    article_id: str
    url: str | None  # canonical URL; None when the item has no usable http(s) link
    link: str | None  # the link as the feed gave it
    guid: str | None
    title: str
    summary: str
    author: str | None
    published_at: datetime | None
    language: str | None
    entry_hash: str  # hash of what the feed says of the item (title, summary, dates): detects updates


@dataclass(frozen=True, slots=True)
class KnownArticle:
    """What is stored of an article a feed lists again: enough to tell whether to download it."""

    entry_hash: str
    extraction_status: str
    extraction_attempts: int


@dataclass(frozen=True, slots=True)
class DeferredEntry:
    """A feed entry whose page waits for a later cycle (table ``entry_backlog``): over the feed's
    limit of new articles in one cycle, or not asked before the cycle's time was up."""

    feed: str
    article_id: str
    url: str | None
    link: str | None
    guid: str | None
    title: str
    summary: str
    author: str | None
    published_at: datetime | None
    language: str | None
    entry_hash: str
    reason: str  # flood | cycle_time | host_wait
    queued_at: datetime  # first put off: the backlog is taken oldest first

    @classmethod
    def of(cls, entry: FeedEntry, reason: str, queued_at: datetime) -> DeferredEntry:
        return cls(
            entry.feed,
            entry.article_id,
            entry.url,
            entry.link,
            entry.guid,
            entry.title,
            entry.summary,
            entry.author,
            entry.published_at,
            entry.language,
            entry.entry_hash,
            reason,
            queued_at,
        )

    def entry(self) -> FeedEntry:
        return FeedEntry(
            self.feed,
            self.article_id,
            self.url,
            self.link,
            self.guid,
            self.title,
            self.summary,
            self.author,
            self.published_at,
            self.language,
            self.entry_hash,
        )


@dataclass(frozen=True, slots=True)
class TakenEntry:
    """An entry a cycle took from the backlog: the load removes it (and puts back what was deferred again)."""

    article_id: str


@dataclass(frozen=True, slots=True)
class Article:
    """An article ready to load: extracted page text, or the feed's title and summary as fallback."""

    article_id: str
    url: str | None
    feed: str
    guid: str | None
    title: str
    summary: str
    text: str
    author: str | None
    published_at: datetime | None
    fetched_at: datetime
    language: str | None
    extraction_status: str  # ok | feed_only | one of the fetch outcomes (http_error, timeout, ...)
    extraction_error: str | None
    entry_hash: str
    content_hash: str
    extraction_attempts: int = 1
    page_bytes: int = 0
    download_ms: int = 0
    extract_ms: int = 0


@dataclass(frozen=True, slots=True)
class Place:
    """A Peruvian department (or Lima Metropolitana / Callao) the text places something in."""

    ubigeo: str
    name: str
    mentions: int = 1


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why the classifier decided what it decided."""

    terms: tuple[tuple[str, float], ...] = ()  # (term, weight) that weighed most, strongest first
    nearest_seed: str | None = None
    seed_similarity: float = 0.0
    notes: tuple[str, ...] = ()  # rules that fired, e.g. "foreign-country crime"


@dataclass(frozen=True, slots=True)
class Classification:
    score: float  # in [0, 1]
    is_relevant: bool
    model_version: str
    topics: tuple[str, ...] = ()
    places: tuple[Place, ...] = ()  # departments where things happen or that the text is about
    evidence: Evidence = field(default_factory=Evidence)
    primary_department: str | None = None  # the place of the event (a `departments` code), if any
    province: str | None = None  # INEI ubigeo of its province (4 digits), when the text names it
    district: str | None = None  # INEI ubigeo of its district (6 digits), when the text names it


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one load did (a ``runs`` row), and the line ``python -m pipeline run`` prints."""

    run_id: str
    feeds_ok: int
    feeds_failed: int
    feeds_deferred: int
    items_seen: int
    new_articles: int
    updated_articles: int
    relevant: int
    model_version: str | None  # None: nothing to classify, so no model was built
    retried_articles: int = 0  # pages asked again after a failure or a deferral
    waiting_entries: int = 0  # in the backlog after this load, waiting for later cycles (collect/backlog.py)
    revisions_held: int = 0  # outlets' changes over the daily revision limit, stored later

    def line(self) -> str:
        held = f", {self.revisions_held} revisions held" if self.revisions_held else ""
        return (
            f"vigia run {self.run_id}: feeds {self.feeds_ok} ok, {self.feeds_failed} failed, "
            f"{self.feeds_deferred} deferred; items {self.items_seen} seen; "
            f"articles {self.new_articles} new, {self.updated_articles} revised, "
            f"{self.retried_articles} retried{held}; "
            f"{self.waiting_entries} waiting for later cycles; "
            f"{self.relevant} relevant (model {self.model_version or 'not needed'})"
        )


# ---------------------------------------------------------------- classifications as Arrow
#
# One serialisation of a Classification: the columns of the `classifications` table. The load and
# `reclassify` write it (classifications_table); the extraction workers stage it before the load,
# keyed by the content it scored (classified_table, classified_schema). Other records are staged by
# pipeline.staging from their fields. PyArrow is imported when these run, not with the records: the
# extraction workers import the records under a memory limit and never need it.


def _decision_columns(results: Sequence[Classification]) -> dict[str, pa.Array]:
    import pyarrow as pa

    return {
        "model_version": pa.array([c.model_version for c in results], pa.string()),
        "score": pa.array([float(c.score) for c in results], pa.float64()),
        "is_relevant": pa.array([bool(c.is_relevant) for c in results], pa.bool_()),
        "topics": pa.array([list(c.topics) for c in results], pa.list_(pa.string())),
        "departments": pa.array([[p.ubigeo for p in c.places] for c in results], pa.list_(pa.string())),
        "evidence": pa.array([evidence_json(c) for c in results], pa.string()),
    }


def _place_columns(results: Sequence[Classification]) -> dict[str, pa.Array]:
    import pyarrow as pa

    # migration 008: where the decision places the article
    return {
        "primary_department": pa.array([c.primary_department for c in results], pa.string()),
        "province": pa.array([c.province for c in results], pa.string()),
        "district": pa.array([c.district for c in results], pa.string()),
    }


def classifications_table(
    article_ids: Sequence[str], results: Sequence[Classification], now: datetime
) -> pa.Table:
    """Rows of `classifications`, in its column order, all classified at ``now``."""
    import pyarrow as pa

    return pa.table(
        {
            "article_id": pa.array(list(article_ids), pa.string()),
            **_decision_columns(results),
            "classified_at": pa.array([now] * len(results), pa.timestamp("us", tz="UTC")),
            **_place_columns(results),
        }
    )


@cache
def classified_schema() -> pa.Schema:
    """The staged classifications' columns: those of `classifications`, keyed by content."""
    import pyarrow as pa

    return pa.schema(
        [
            ("article_id", pa.string()),
            ("content_hash", pa.string()),
            ("model_version", pa.string()),
            ("score", pa.float64()),
            ("is_relevant", pa.bool_()),
            ("topics", pa.list_(pa.string())),
            ("departments", pa.list_(pa.string())),
            ("evidence", pa.string()),
            ("primary_department", pa.string()),
            ("province", pa.string()),
            ("district", pa.string()),
        ]
    )


def classified_table(rows: Sequence[tuple[str, str, Classification]]) -> pa.Table:
    """Classifications made before the load, as (article_id, content_hash, classification), for staging."""
    import pyarrow as pa

    results = [c for _, _, c in rows]
    columns = {
        "article_id": pa.array([r[0] for r in rows], pa.string()),
        "content_hash": pa.array([r[1] for r in rows], pa.string()),
        **_decision_columns(results),
        **_place_columns(results),
    }
    return pa.Table.from_pydict(columns, schema=classified_schema())


def evidence_json(c: Classification) -> str:
    e = c.evidence
    return json.dumps(
        {
            "terms": [[t, round(w, 4)] for t, w in e.terms],
            "nearest_seed": e.nearest_seed,
            "seed_similarity": round(e.seed_similarity, 4),
            "notes": list(e.notes),
            "places": [{"ubigeo": p.ubigeo, "name": p.name, "mentions": p.mentions} for p in c.places],
            "primary_department": c.primary_department,
            "province": c.province,
            "district": c.district,
        },
        ensure_ascii=False,
    )


def jobs_to_json(jobs: Sequence[FeedJob]) -> list[dict]:
    """FeedJobs as plain JSON for the planned-batch files (a few hundred bytes a feed, no article data)."""
    out = []
    for job in jobs:
        s = job.state
        out.append(
            {
                "feed": {"name": job.feed.name, "url": job.feed.url, "language": job.feed.language},
                "state": {
                    "name": s.name,
                    "url": s.url,
                    "etag": s.etag,
                    "last_modified": s.last_modified,
                    "consecutive_failures": s.consecutive_failures,
                    "next_fetch_at": s.next_fetch_at.isoformat() if s.next_fetch_at else None,
                    "last_full_fetch_at": s.last_full_fetch_at.isoformat() if s.last_full_fetch_at else None,
                    "gone": s.gone,
                },
            }
        )
    return out


def jobs_from_json(items: Sequence[dict]) -> list[FeedJob]:
    """The FeedJobs ``jobs_to_json`` wrote."""
    jobs = []
    for item in items:
        s = dict(item["state"])
        for key in ("next_fetch_at", "last_full_fetch_at"):
            s[key] = datetime.fromisoformat(s[key]) if s[key] else None
        jobs.append(FeedJob(Feed(**item["feed"]), FeedState(**s)))
    return jobs
