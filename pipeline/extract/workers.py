"""A pool of worker processes for the CPU-bound, hostile-input work: parsing feeds, extracting pages.

Each task has a time limit (the worker is killed and replaced when it passes it), each worker
has an address-space limit (a page that would take gigabytes raises MemoryError instead), and
workers are replaced after ``worker_max_tasks`` tasks so slow leaks never accumulate. A worker
that dies takes only its own task with it.

A page is also classified where it was extracted: the classifier is pure Python, so in the main
process it would run on one core after the downloads, while here it shares every core with
extraction. The model is built (in a thread) when the pool starts and reaches each worker once,
as a file the worker reads when it first needs it, so a cycle in which every feed answers 304
never builds it. That pays from about a hundred pages (``CLASSIFY_IN_WORKERS_FROM``); a pool given
fewer leaves them to the load, which classifies any article that arrives without a classification
(pages that failed, feed-only items, backfills).

Every task reports the CPU time it used, per stage, in ``WorkerPool.cpu`` (for ``make bench``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import pickle
import resource
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import pebble

from pipeline import leftovers
from pipeline.errors import ContentError, FetchError, WorkerError
from pipeline.extract.decoding import decode_body
from pipeline.extract.feeds import ParsedFeed, parse_feed
from pipeline.extract.pages import ArticleContent, ExtractedPage, article_content, extract_page, usable
from pipeline.records import Classification, FeedEntry
from pipeline.settings import LOG_FORMAT, Settings

log = logging.getLogger(__name__)


def _start_worker(megabytes: int) -> None:
    # A worker comes from the fork server, not from its parent: without a handler of its own, its
    # warnings (a model cache it cannot write) would reach stderr bare, without level or source.
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    # Load what parsing needs before the limit: feedparser creates its expat reader lazily, and
    # mapping a shared library under a tight address-space limit fails ("No parsers found").
    import xml.sax.expatreader  # noqa: F401

    import trafilatura  # noqa: F401  (and pay for trafilatura's import once per worker, not on its first page)

    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


# How often a task's caller checks that the pool is still running while it waits for the result.
POOL_CHECK_SECONDS = 1.0
# Classifying where pages are extracted pays only on many pages: each worker first reads the places
# lexicon and builds the matcher (0.2 s of CPU), while the load classifies a page in about 2 ms with
# the one matcher of its process (and builds it anyway for the feed-only items). A pool given fewer
# pages than this leaves them to the load: the same model, so the same scores.
CLASSIFY_IN_WORKERS_FROM = 100
# The cause of ours given to a task whose worker died or passed its memory limit: one cause, because
# a worker short of memory fails either way (MemoryError, or killed as it allocates).
WORKER_LOST = "the worker died or passed its memory limit (VIGIA_WORKER_MEMORY_MB)"


@dataclass(frozen=True, slots=True)
class PageResult:
    page: ExtractedPage
    size: int  # decoded bytes
    # The article's content as it will be stored (the page's text, or the feed's summary when the
    # page had none), merged in the worker; None without a feed entry.
    content: ArticleContent | None
    # Its classification; None when the pool has no classifier or classifying failed.
    classification: Classification | None


class WorkerPool:
    """``async with WorkerPool(settings) as pool: await pool.parse(...); await pool.extract(...)``.

    ``classifier``: called (once, and only when a page is first extracted) for the model that
    classifies pages in the workers; None leaves classification to the load, as a pool expecting
    few pages does (``expect_pages``).
    """

    def __init__(self, settings: Settings, classifier: Callable[[], Any] | None = None) -> None:
        self.settings = settings
        self._pool: pebble.ProcessPool | None = None
        self._classifier = classifier
        self._model_job: concurrent.futures.Future[str | None] | None = None
        self._model_thread: concurrent.futures.ThreadPoolExecutor | None = None
        self.cpu: dict[str, float] = {"parse": 0.0, "extract": 0.0, "classify": 0.0}  # seconds, in workers
        # Per task run, by kind: the cause of ours it failed for, else None (it succeeded, or its
        # input was to blame). The cycle fails when every task of a kind failed for one such cause.
        self.faults: dict[str, list[str | None]] = {"parse": [], "extract": []}

    def _ensure(self) -> pebble.ProcessPool:
        # Started on first use: a cycle where every feed answers 304 never starts a worker.
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            # The fork server imports this module and trafilatura once (a name that does not import is
            # skipped without a word: hence __name__); every worker forked from it shares those pages.
            context.set_forkserver_preload([__name__, "trafilatura"])
            self._pool = pebble.ProcessPool(
                max_workers=max(1, self.settings.workers),
                max_tasks=self.settings.worker_max_tasks,
                initializer=_start_worker,
                initargs=(self.settings.worker_memory_mb,),
                # forkserver: workers never inherit the threads or sockets of the parent (Airflow, httpx).
                context=context,
            )
            # Feeds changed: pages will most likely follow. The model (a second or more to build) is
            # made meanwhile, in a thread, while the feeds download and parse, not when pages wait for it.
            self._prepare_model()
        return self._pool

    async def __aenter__(self) -> WorkerPool:
        return self

    def expect_pages(self, pages: int) -> None:
        """How many pages this pool is about to extract: below ``CLASSIFY_IN_WORKERS_FROM``, they
        are extracted without being classified, and the load classifies them. The count is known only
        once the feeds are parsed, and the model is prepared from the pool's start to be ready by
        then: a small cycle leaves that one unused (35 ms of CPU from a warm cache, measured)."""
        if pages < CLASSIFY_IN_WORKERS_FROM:
            self._classifier = None

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers and remove the model file."""
        self._stop_pool()
        if self._model_thread is not None:
            self._model_thread.shutdown(wait=True, cancel_futures=True)
            self._model_thread = None
        if self._model_job is not None and self._model_job.done() and not self._model_job.cancelled():
            path = self._model_job.result()
            if path:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        self._model_job = None

    def _stop_pool(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join(timeout=10)
            self._pool = None

    def _prepare_model(self) -> None:
        if self._classifier is not None and self._model_job is None:
            self._model_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="vigia-model")
            self._model_job = self._model_thread.submit(self._write_model, self._classifier)

    @staticmethod
    def _write_model(classifier: Callable[[], Any]) -> str | None:
        """Build the model and pickle it to a file for the workers; None (logged) when it cannot be had."""
        try:
            model = classifier()
        except Exception as exc:  # a busy or broken database: the load classifies instead
            log.warning(
                "no classifier for the workers (%s: %s): the load classifies", type(exc).__name__, exc
            )
            return None
        leftovers.sweep_model_files()  # those of killed runs
        fd, path = leftovers.new_model_file()  # mode 0600; removed by close()
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # a full disk: the load classifies
            leftovers.remove_quietly(path)
            log.warning(
                "no classifier for the workers (%s: %s): the load classifies", type(exc).__name__, exc
            )
            return None
        except BaseException:
            leftovers.remove_quietly(path)
            raise
        return path

    async def _model(self) -> str | None:
        """The file holding the pickled classifier; None without one."""
        if self._classifier is None:
            return None
        self._prepare_model()
        assert self._model_job is not None
        return await asyncio.wrap_future(self._model_job)

    async def _run(self, fn: Any, args: tuple, timeout: float, failure_outcome: str, what: str) -> Any:
        kind = "parse" if failure_outcome == "parse_error" else "extract"
        try:
            result = await self._run_once(fn, args, timeout, failure_outcome, what)
        except FetchError as exc:
            self.faults[kind].append(exc.ours)
            raise
        self.faults[kind].append(None)
        return result

    async def _run_once(
        self, fn: Any, args: tuple, timeout: float, failure_outcome: str, what: str, again: bool = False
    ) -> Any:
        """Run ``fn`` in a worker. A failure of the input (time limit, a worker killed by it, its
        memory limit) is a ContentError recorded for that feed or page; a pool that cannot start is
        WorkerError, our fault, and stops the cycle."""
        pool = self._ensure()
        try:
            future = pool.schedule(fn, args=args, timeout=timeout)
        except RuntimeError:
            # The pool broke (its manager thread failed): start a fresh one rather than fail every page.
            log.warning("worker pool failed; starting a new one")
            self._stop_pool()
            pool = self._ensure()
            try:
                future = pool.schedule(fn, args=args, timeout=timeout)
            except RuntimeError as exc:
                # pebble raises a bare BrokenProcessPool when a worker cannot be started: say why.
                cause = exc.__cause__ or exc
                raise WorkerError(
                    f"the worker pool cannot run {what}: {type(cause).__name__}: {cause}"
                ) from exc
        try:
            return await self._result(pool, future, what)
        except concurrent.futures.TimeoutError as exc:
            raise ContentError(f"{what} passed its {timeout:g} s time limit", failure_outcome) from exc
        except pebble.ProcessExpired as exc:
            # Killed while working on this input (a crash in a C library, the kernel's OOM killer):
            # recorded for it; when it happens to every feed of a cycle, the cause is ours (see cycle.py).
            raise ContentError(f"{what}: worker died ({exc})", failure_outcome, ours=WORKER_LOST) from exc
        except MemoryError as exc:
            raise ContentError(
                f"{what} passed the {self.settings.worker_memory_mb} MB memory limit",
                failure_outcome,
                ours=WORKER_LOST,
            ) from exc
        except FetchError:  # ContentError, and TooLarge or ConnectFailed from decoding a page
            raise
        except BrokenProcessPool as exc:
            # pebble gives up on the pool ("All workers expired") when a worker dies before the pool
            # has seen it take a task: a page that kills its worker at once (a crash in a C library),
            # or workers that cannot start. Every task in hand then gets this: each is tried once
            # more on a fresh pool, and one that breaks that one too is recorded as a worker lost (a
            # cycle in which every feed or page ends so fails, as ours: see collect/batch.py).
            if self._pool is pool:
                self._stop_pool()
            if not again:
                return await self._run_once(fn, args, timeout, failure_outcome, what, again=True)
            if not await self._workers_start():
                raise WorkerError(f"the worker pool broke during {what}: {exc}") from exc
            raise ContentError(f"{what}: worker died ({exc})", failure_outcome, ours=WORKER_LOST) from exc
        except Exception as exc:
            # The worker functions below turn every failure of the input into a ContentError, so what
            # arrives here broke on our side (pickling, the pool's own machinery).
            raise WorkerError(f"{what} failed in the worker pool: {type(exc).__name__}: {exc}"[:500]) from exc

    async def _workers_start(self) -> bool:
        """Whether a fresh pool's worker can run a task that does nothing (so an input that broke
        two pools was to blame, not the workers)."""
        pool = self._ensure()
        try:
            await self._result(
                pool, pool.schedule(_nothing, timeout=self.settings.parse_timeout), "a test task"
            )
        except (
            WorkerError,
            BrokenProcessPool,
            pebble.ProcessExpired,
            concurrent.futures.TimeoutError,
            RuntimeError,
        ):
            if self._pool is pool:
                self._stop_pool()
            return False
        return True

    @staticmethod
    async def _result(pool: pebble.ProcessPool, future: concurrent.futures.Future, what: str) -> Any:
        """The task's result; WorkerError if the pool stops meanwhile.

        pebble's manager threads end when every worker died without a task in hand ("All workers
        expired"); a task queued at that moment is never answered, nor timed out (the time limit is
        enforced by those threads), so the pool's state is checked while waiting.
        """
        waiting = asyncio.wrap_future(future)
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=POOL_CHECK_SECONDS)
            if done:
                return waiting.result()
            if not pool.active:
                future.cancel()
                raise WorkerError(
                    f"the worker pool stopped during {what}: its workers died (could they start?)"
                )

    async def parse(self, body: bytes, **kwargs: Any) -> ParsedFeed:
        parsed, cpu = await self._run(
            _parse, (body, kwargs), self.settings.parse_timeout, "parse_error", "feed parsing"
        )
        self.cpu["parse"] += cpu
        return parsed

    async def extract(
        self,
        body: bytes,
        url: str | None,
        content_type: str | None,
        entry: FeedEntry | None = None,
        encoding: str = "",
    ) -> PageResult:
        """Decode (``encoding``: its Content-Encoding) and extract a page; given the feed ``entry``
        it belongs to, also merge and classify the article. Decoding passes the page cap: TooLarge."""
        model = await self._model() if entry is not None else None
        result, extract_cpu, classify_cpu = await self._run(
            _extract,
            (body, encoding, self.settings.page_max_bytes, url, content_type, entry, model),
            self.settings.extract_timeout,
            "extract_error",
            "extraction",
        )
        self.cpu["extract"] += extract_cpu
        self.cpu["classify"] += classify_cpu
        return result


# What runs inside a worker. Any exception is turned into a ContentError there, because an
# exception that cannot be pickled back (some lxml and trafilatura ones) would break the pool.


_LOADED: tuple[str, Any] | None = None  # (model file, model) in this worker


def _nothing() -> None:
    return None


def _parse(body: bytes, kwargs: dict[str, Any]) -> tuple[ParsedFeed, float]:
    started = time.process_time()
    try:
        return parse_feed(body, **kwargs), time.process_time() - started
    except (ContentError, MemoryError):
        raise
    except Exception as exc:
        # parse_feed turns feedparser's own failures into ContentError: what escapes it was raised by
        # our code on this feed. Recorded for the feed; when every feed fails so, the cycle fails.
        name = type(exc).__name__
        raise ContentError(
            f"feed parsing failed: {name}: {exc}"[:500], "parse_error", ours=f"our parsing code raised {name}"
        ) from None


def _extract(
    body: bytes,
    encoding: str,
    max_bytes: int,
    url: str | None,
    content_type: str | None,
    entry: FeedEntry | None,
    model_file: str | None,
) -> tuple[PageResult, float, float]:
    started = time.process_time()
    try:
        body = decode_body(body, encoding, max_bytes)  # TooLarge / ConnectFailed: recorded as for a download
    except (FetchError, MemoryError):
        raise
    except Exception as exc:  # a decompressor's own error on a hostile body
        raise ContentError(f"decoding failed: {type(exc).__name__}: {exc}"[:500], "extract_error") from None
    try:
        # The feed's date wins over the page's: look for one only when the feed has none.
        page = extract_page(body, url, content_type, want_date=entry is None or entry.published_at is None)
        content = article_content(entry, page if usable(page) else None) if entry is not None else None
    except MemoryError:
        raise
    except Exception as exc:
        raise ContentError(f"extraction failed: {type(exc).__name__}: {exc}"[:500], "extract_error") from None
    extracted = time.process_time()
    classification = None
    if content is not None and model_file is not None:
        try:
            classification = _load_model(model_file).classify(
                content.title, content.text, content.language, entry.url if entry is not None else url
            )
        except MemoryError:
            raise
        except Exception as exc:  # the load classifies the article again, and reports what fails there
            log.warning("classifying %s in a worker failed: %s: %s", url, type(exc).__name__, exc)
    classifying = time.process_time() - extracted if model_file is not None else 0.0
    return PageResult(page, len(body), content, classification), extracted - started, classifying


def _load_model(path: str) -> Any:
    global _LOADED
    if _LOADED is None or _LOADED[0] != path:
        with open(path, "rb") as fh:  # written by our own main process (mkstemp, mode 0600)
            _LOADED = (path, pickle.load(fh))
    return _LOADED[1]
