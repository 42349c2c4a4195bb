"""One ingestion cycle: which feeds to poll, fetching them, and turning new items into articles.

    plan_jobs        feeds.toml + stored feed states            → FeedJob per feed
    collect_batch    FeedJobs (async: fetch, parse in workers,  → Batch (fetches, states,
                     skip known items, download, extract)          articles, sightings, backlog)
    store.load       Batches → DuckDB, one transaction

A cycle never lets a flood or a slow host decide what is lost: at most ``max_new_per_feed`` new
articles a feed are taken per cycle, and a page that could not be asked before the cycle's
``collect_budget`` was up (or a quarter of it after the feeds were in, if that is later) is put
off, attempts untouched; both wait in the backlog (``pipeline.collect.backlog``), which the next cycles
take first.

The CLI runs all feeds as one batch in one process; the Airflow DAG runs one mapped task per
batch of feeds and stages each Batch to files for the single load task.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pipeline.collect import backlog, polling, turns
from pipeline.collect.net import Fetcher, host_key
from pipeline.errors import ContentError, CycleFailed, Deferred, FetchError
from pipeline.extract.feeds import ParsedFeed
from pipeline.extract.pages import ArticleContent, ExtractedPage, article_content, usable
from pipeline.extract.workers import WorkerPool
from pipeline.records import (
    Article,
    Classification,
    DeferredEntry,
    Feed,
    FeedEntry,
    FeedFetch,
    FeedJob,
    FeedState,
    KnownArticle,
    TakenEntry,
)
from pipeline.settings import Settings

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9,"
    " */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
# The cause given to a feed whose address the network guard refused, when every feed's was.
GUARD_REFUSED = (
    "the network guard refused the address of every feed (feeds on a private or loopback network need"
    " VIGIA_ALLOW_NETWORKS)"
)
# Page failures worth another try on a later cycle; the others are final.
TRANSIENT_PAGE_OUTCOMES = frozenset({"timeout", "connect_error", "rate_limited", "http_error"})


@dataclass(frozen=True, slots=True)
class Sighting:
    article_id: str
    feed: str
    seen_at: datetime


@dataclass(repr=False)
class Batch:
    fetches: list[FeedFetch] = field(default_factory=list)
    states: list[FeedState] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)
    sightings: list[Sighting] = field(default_factory=list)
    # Classifications made in the workers: (article_id, content_hash it was made for, classification).
    classified: list[tuple[str, str, Classification]] = field(default_factory=list)
    # The backlog: entries taken from it this cycle, and entries put off to a later one.
    taken: list[TakenEntry] = field(default_factory=list)
    deferred: list[DeferredEntry] = field(default_factory=list)
    # Seconds of CPU per stage, for the benchmark: "collect" in this process, the rest in workers.
    cpu: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Short on purpose: asyncio.run() renders the repr of the task that returned a batch when it
        # restores its SIGINT handler (Python 3.11), and a batch's full repr holds every article's
        # text: 0.9 s of CPU after a 6,500-article collect, spent on a string nobody reads.
        return (
            f"Batch({len(self.fetches)} fetches, {len(self.articles)} articles,"
            f" {len(self.classified)} classified)"
        )

    def extend(self, other: Batch) -> None:
        self.fetches += other.fetches
        self.states += other.states
        self.articles += other.articles
        self.sightings += other.sightings
        self.classified += other.classified
        self.taken += other.taken
        self.deferred += other.deferred
        for stage, seconds in other.cpu.items():
            self.cpu[stage] = self.cpu.get(stage, 0.0) + seconds


KnownLookup = Callable[[Sequence[str]], dict[str, KnownArticle]]
BacklogLookup = Callable[[Sequence[str]], list[DeferredEntry]]  # feed names → their waiting entries
# What a cycle keeps of a polled feed until the load: its fetch, its next state, its entries (if any).
Polled = tuple[FeedFetch, FeedState, Sequence[FeedEntry] | None]


def plan_jobs(feeds: Sequence[Feed], stored: dict[str, tuple[FeedState, str]]) -> list[FeedJob]:
    """Pair each enabled feed with the state to poll it with (``stored``: name → (state, configured URL))."""
    jobs = []
    for feed in feeds:
        if not feed.enabled:
            continue
        state, configured = stored.get(feed.name, (None, None))
        jobs.append(FeedJob(feed, polling.reconcile(feed, state, configured)))
    return jobs


def batches_of(jobs: Sequence[FeedJob], size: int) -> list[list[FeedJob]]:
    size = max(1, size)
    return [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]


async def collect_batch(
    jobs: Sequence[FeedJob],
    settings: Settings,
    known: KnownLookup,
    now: datetime | None = None,
    classifier: Callable[[], Any] | None = None,
    waiting: BacklogLookup | None = None,
) -> Batch:
    """Fetch a batch of feeds and the new articles they announce. Never raises for one bad feed or page.

    ``classifier`` (called only if a page is extracted) gives the model that classifies pages in the
    worker processes; without it the load classifies every article. ``waiting`` gives the entries
    the backlog holds for these feeds: they are taken first, oldest first.
    """
    now = now or datetime.now(UTC)
    cpu_started = time.process_time()
    loop = asyncio.get_running_loop()
    start_by = loop.time() + settings.collect_budget
    batch = Batch()
    queued = waiting([job.feed.name for job in jobs]) if waiting is not None else []
    async with Fetcher(settings) as fetcher, WorkerPool(settings, classifier) as pool:
        faults: dict[str, str | None] = {}  # feed → the cause of ours it failed for (None: none), if asked

        async def poll(job: FeedJob, done_with_host: Callable[[], None]) -> Polled:
            fetch, parsed, sent_validators = await _poll_feed(
                fetcher, pool, job, settings, now, faults, done_with_host
            )
            # Only what the load needs is kept of each feed: its fetch, its next state (the one it had
            # when nothing changed) and its entries when it had any.
            state = polling.next_state(job.state, fetch, sent_validators, settings, now)
            return fetch, state, parsed.entries if parsed is not None and parsed.entries else None

        polled = await turns.by_host(
            jobs,
            lambda job: host_key(job.state.url),
            poll,
            tasks=_in_hand(settings),
            limit=settings.concurrency,
            per_host=settings.per_host_concurrency,
        )
        _fail_if_all_ours("feed", list(faults.values()), minimum=1)
        entries: dict[str, FeedEntry] = {d.article_id: d.entry() for d in queued}
        first_queued = {d.article_id: d.queued_at for d in queued}
        batch.taken = [TakenEntry(d.article_id) for d in queued]
        batch.sightings += [Sighting(d.article_id, d.feed, d.queued_at) for d in queued]
        per_feed: dict[str, list[str]] = {}
        for job, (fetch, state, feed_entries) in zip(jobs, polled, strict=True):
            # A host that asked us to wait (429/503 Retry-After) is left alone by all its feeds, next
            # cycles too.
            batch.states.append(_hold_for_host(state, fetcher.host_wait(state.url)))
            batch.fetches.append(fetch)
            if not feed_entries:
                continue
            ids = []
            for entry in feed_entries:
                held = entries.get(entry.article_id)
                if held is None or (entry.article_id in first_queued and held.feed == entry.feed):
                    entries[entry.article_id] = entry  # the feed's latest word, in the backlog's place
                batch.sightings.append(Sighting(entry.article_id, job.feed.name, now))
                ids.append(entry.article_id)
            per_feed[job.feed.name] = ids
        del polled

        stored = known(list(entries)) if entries else {}
        wanted, flood = backlog.choose(
            entries.values(),
            lambda e: _needs_download(e, stored.get(e.article_id), settings),
            lambda article_id: article_id not in stored,
            settings.max_new_per_feed,
        )
        for i, f in enumerate(batch.fetches):
            if f.feed in per_feed:  # a feed without entries keeps its record (no copy of 100,000 of them)
                batch.fetches[i] = replace(f, new_items=len({a for a in per_feed[f.feed] if a not in stored}))
        attempts = {
            e.article_id: stored[e.article_id].extraction_attempts + 1 if e.article_id in stored else 1
            for e in wanted
        }
        # Pages always get a quarter of the budget, however long the feeds took: the oldest entries
        # of the backlog come first, so every cycle makes progress on it.
        start_by = max(start_by, loop.time() + settings.collect_budget / 4)
        pool.expect_pages(len(wanted))
        pages = await fetch_pages(fetcher, pool, wanted, attempts, settings, start_by)
        # One page whose worker died may be the page's doing; every page of a cycle, ours.
        _fail_if_all_ours("page handed to the workers", pool.faults["extract"], minimum=2)
        for article, classification in pages.done:
            batch.articles.append(article)
            if classification is not None:
                batch.classified.append((article.article_id, article.content_hash, classification))
        put_off = [(e, "flood") for e in flood] + pages.deferred
        batch.deferred = [DeferredEntry.of(e, why, first_queued.get(e.article_id, now)) for e, why in put_off]
        if flood:
            log.info(
                "%d new entries over the limit of %d a feed: put off", len(flood), settings.max_new_per_feed
            )
        batch.cpu = {"collect": time.process_time() - cpu_started, **pool.cpu}
    return batch


@dataclass(slots=True)
class Pages:
    done: list[tuple[Article, Classification | None]] = field(default_factory=list)
    deferred: list[tuple[FeedEntry, str]] = field(default_factory=list)  # (entry, why): never asked


async def fetch_articles(
    fetcher: Fetcher,
    pool: WorkerPool,
    entries: Sequence[FeedEntry],
    attempts: dict[str, int],
    settings: Settings,
) -> list[tuple[Article, Classification | None]]:
    """Download, extract and classify the pages of ``entries``: an Article each (never raises for one).

    A page whose host asked every request to wait is recorded ``rate_limited`` (a backfill has no
    later cycle to put it off to).
    """
    pages = await fetch_pages(fetcher, pool, entries, attempts, settings)
    why = "host asked to wait (Retry-After)"
    waited = [
        (build_article(e, None, "rate_limited", why, attempts.get(e.article_id, 1)), None)
        for e, _ in pages.deferred
    ]
    return pages.done + waited


async def fetch_pages(
    fetcher: Fetcher,
    pool: WorkerPool,
    entries: Sequence[FeedEntry],
    attempts: dict[str, int],
    settings: Settings,
    start_by: float | None = None,
) -> Pages:
    """Download, extract and classify the pages of ``entries`` (never raises for one).

    Each page ends as an Article, or, when it was never asked (its host asked every request to
    wait, or ``start_by``, on the event loop's clock, passed while it waited for a slot), as a
    deferred entry.

    At most ``concurrency + 2 × workers`` pages are in hand at once (downloading, or waiting for or in a
    worker): enough to keep every download slot busy while the workers have a page each and the
    next one waiting, so a slow server's wait overlaps the others' work, and memory stays bounded.
    Hosts take turns (``turns.by_host``): a host's politeness limit never holds up the others'
    pages, and the backlog's pages of one site, thousands in a row, wait in its queue, not in tasks.
    """
    results = await turns.by_host(
        entries,
        lambda e: host_key(e.url) if e.url else "",
        lambda e, done_with_host: _fetch_article(
            fetcher, pool, e, attempts.get(e.article_id, 1), settings, start_by, done_with_host
        ),
        tasks=_in_hand(settings),
        limit=settings.concurrency,
        per_host=settings.per_host_concurrency,
        start_by=start_by,
        late=lambda e: Deferred("the cycle's time was up", reason="cycle_time"),
    )
    pages = Pages()
    for entry, result in zip(entries, results, strict=True):
        if isinstance(result, Deferred):
            pages.deferred.append((entry, result.reason))
        else:
            pages.done.append(result)
    return pages


def _in_hand(settings: Settings) -> int:
    """How many feeds or pages a cycle has in hand at once (downloading, or waiting for or in a
    worker): every download slot busy while the workers have one each and the next one waiting."""
    return max(2, settings.concurrency + 2 * settings.workers)


def _hold_for_host(state: FeedState, until: datetime | None) -> FeedState:
    if until is None or (state.next_fetch_at is not None and state.next_fetch_at >= until):
        return state
    return replace(state, next_fetch_at=until)


def _needs_download(entry: FeedEntry, stored: KnownArticle | None, settings: Settings) -> bool:
    if stored is None:
        return True
    if stored.entry_hash != entry.entry_hash:
        return True  # the outlet changed the item: fetch it again and keep the old text as a revision
    return (
        stored.extraction_status in TRANSIENT_PAGE_OUTCOMES
        and stored.extraction_attempts < settings.retry_page_attempts
    )


def _fail_if_all_ours(what: str, causes: Sequence[str | None], minimum: int) -> None:
    """Raise CycleFailed when every one of (at least ``minimum``) ``causes`` is the same cause of ours.

    A feed or page that failed is recorded as its site's fault; but when every feed of a cycle failed
    for one reason that is ours (every worker died, every parse raised the same exception in our
    code), recording them would make a green run with nothing in it, and mark healthy feeds failing.
    """
    if len(causes) < minimum or any(c is None for c in causes) or len(set(causes)) != 1:
        return
    raise CycleFailed(
        f"every {what} of the cycle ({len(causes)}) failed for the same reason, which is ours, not the"
        f" sites': {causes[0]}"
    )


async def _poll_feed(
    fetcher: Fetcher,
    pool: WorkerPool,
    job: FeedJob,
    settings: Settings,
    now: datetime,
    faults: dict[str, str | None],
    done_with_host: Callable[[], None] = lambda: None,
) -> tuple[FeedFetch, ParsedFeed | None, bool]:
    """Poll one feed. ``faults`` gets an entry for every feed actually asked: the cause of ours it
    failed for, or None (fetched, or failed at the site). ``done_with_host`` is called once the
    answer is in, before the feed is parsed."""
    state, feed = job.state, job.feed
    base = FeedFetch(feed=feed.name, url=state.url, started_at=now, outcome="ok")
    is_due, skipped = polling.due(state, now, settings)
    if not is_due:
        return replace(base, outcome=skipped or "deferred"), None, False
    held = fetcher.host_wait(state.url)
    if held is not None:
        waiting = replace(
            base, outcome="deferred", retry_after=held, error="host asked to wait (Retry-After)"
        )
        return waiting, None, False
    headers = polling.request_headers(state, settings, now)
    faults[feed.name] = None
    try:
        resp = await fetcher.get(
            state.url,
            headers=headers,
            max_bytes=settings.feed_max_bytes,
            deadline=settings.feed_deadline,
            accept=FEED_ACCEPT,
        )
    except FetchError as exc:
        done_with_host()
        log.info("feed %s: %s: %s", feed.name, exc.outcome, exc)
        if exc.outcome == "blocked" and "not a public address" in str(exc):
            # One feed on a private address may be a hostile redirect; every feed, the operator's
            # registry on a network the guard was not told about.
            faults[feed.name] = GUARD_REFUSED
        failed = replace(base, outcome=exc.outcome, status_code=exc.status_code, error=str(exc)[:1000])
        return failed, None, bool(headers)
    done_with_host()
    fetch = replace(
        base,
        status_code=resp.status_code,
        bytes=len(resp.body),
        duration_ms=resp.elapsed_ms,
        final_url=resp.final_url if resp.permanent_redirect else None,
    )
    status = resp.status_code
    if status == 304:
        return replace(fetch, outcome="not_modified"), None, bool(headers)
    if status == 410:
        return replace(fetch, outcome="gone", error="410 Gone: polling stopped"), None, bool(headers)
    if status in (429, 503):
        return (
            replace(
                fetch,
                outcome="rate_limited",
                retry_after=resp.retry_after(now, fetcher.retry_after_cap),
                error=f"HTTP {status}",
            ),
            None,
            bool(headers),
        )
    if status >= 300:
        return replace(fetch, outcome="http_error", error=f"HTTP {status}"), None, bool(headers)
    fetch = replace(fetch, etag=resp.headers.get("etag"), last_modified=resp.headers.get("last-modified"))
    try:
        parsed = await pool.parse(
            resp.body,
            feed=feed.name,
            url=resp.final_url,
            content_type=resp.headers.get("content-type"),
            language=feed.language,
            now=now,
        )
    except ContentError as exc:
        log.info("feed %s: %s: %s", feed.name, exc.outcome, exc)
        faults[feed.name] = exc.ours
        return replace(fetch, outcome=exc.outcome, error=str(exc)[:1000]), None, bool(headers)
    return replace(fetch, items=len(parsed.entries), error=parsed.bozo), parsed, bool(headers)


async def _fetch_article(
    fetcher: Fetcher,
    pool: WorkerPool,
    entry: FeedEntry,
    attempt: int,
    settings: Settings,
    start_by: float | None = None,
    done_with_host: Callable[[], None] = lambda: None,
) -> tuple[Article, Classification | None] | Deferred:
    """One page, downloaded (``done_with_host`` called once it is in), extracted and classified."""
    page: ExtractedPage | None = None
    content: ArticleContent | None = None
    classification: Classification | None = None
    status, size, download_ms, extract_ms = "feed_only", 0, 0, 0
    error: str | None = "item has no http(s) link"
    if entry.url is not None:
        # (A page whose turn came after the cycle's time was up never gets here: turns.by_host.)
        # The host may have asked to wait while this page waited for its turn.
        if fetcher.host_wait(entry.url) is not None:
            return Deferred("host asked to wait (Retry-After)", reason="host_wait")
        try:
            try:
                # Left encoded: the worker inflates it (spread over the cores; a fifth of the bytes to send).
                resp = await fetcher.get(
                    entry.url,
                    max_bytes=settings.page_max_bytes,
                    deadline=settings.page_deadline,
                    accept=PAGE_ACCEPT,
                    decode=False,
                    start_by=start_by,
                )
            finally:
                done_with_host()
            size, download_ms = len(resp.body), resp.elapsed_ms
            if resp.status_code in (429, 503):
                status, error = "rate_limited", f"HTTP {resp.status_code}"
            elif resp.status_code >= 300:
                status, error = "http_error", f"HTTP {resp.status_code}"
            else:
                started = asyncio.get_running_loop().time()
                result = await pool.extract(
                    resp.body, resp.final_url, resp.headers.get("content-type"), entry, resp.encoding
                )
                extract_ms = int((asyncio.get_running_loop().time() - started) * 1000)
                page, content, classification = result.page, result.content, result.classification
                size = result.size
                if usable(page):
                    status, error = "ok", None
                else:
                    status, error = "feed_only", "no article text found in the page"
        except Deferred as exc:
            return exc
        except FetchError as exc:
            status, error = exc.outcome, str(exc)[:1000]
    article = build_article(
        entry,
        page if status == "ok" else None,
        status,
        error,
        attempt,
        size,
        download_ms,
        extract_ms,
        datetime.now(UTC),
        content if status in ("ok", "feed_only") else None,
    )
    return article, classification


def build_article(
    entry: FeedEntry,
    page: ExtractedPage | None,
    status: str,
    error: str | None,
    attempt: int = 1,
    page_bytes: int = 0,
    download_ms: int = 0,
    extract_ms: int = 0,
    fetched_at: datetime | None = None,
    content: ArticleContent | None = None,
) -> Article:
    """Merge what the page says with what the feed says; the feed fills every gap.

    ``content``: that merge, already made (in the extraction worker, ``article_content``).
    """
    fetched_at = fetched_at or datetime.now(UTC)
    content = content or article_content(entry, page)
    title, text = content.title, content.text
    content_hash = hashlib.sha256(f"{title}\x1f{text}".encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return Article(
        article_id=entry.article_id,
        url=entry.url,
        feed=entry.feed,
        guid=entry.guid,
        title=title,
        summary=entry.summary,
        text=text,
        author=content.author,
        published_at=content.published_at,
        fetched_at=fetched_at,
        language=content.language,
        extraction_status=status,
        extraction_error=error,
        extraction_attempts=attempt,
        entry_hash=entry.entry_hash,
        content_hash=content_hash,
        page_bytes=page_bytes,
        download_ms=download_ms,
        extract_ms=extract_ms,
    )
