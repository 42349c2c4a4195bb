"""A pool of worker processes for the CPU-bound, hostile-input work: parsing feeds, extracting pages.

Each task has a time limit (the worker is killed and replaced when it passes it), each worker
has an address-space limit (a page that would take gigabytes raises MemoryError instead), and
workers are replaced after ``worker_max_tasks`` tasks so slow leaks never accumulate. A worker
that dies takes only its own task with it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import resource
from typing import Any

import pebble

from pipeline.errors import ContentError
from pipeline.extract import ExtractedPage, extract_page
from pipeline.feeds import ParsedFeed, parse_feed
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def _limit_memory(megabytes: int) -> None:
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # Pay for trafilatura's import once per worker, not on its first page.
    import trafilatura  # noqa: F401


class WorkerPool:
    """``async with WorkerPool(settings) as pool: await pool.parse(...); await pool.extract(...)``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: pebble.ProcessPool | None = None

    def _ensure(self) -> pebble.ProcessPool:
        # Started on first use: a cycle where every feed answers 304 never starts a worker.
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            # The fork server imports trafilatura once; every worker forked from it shares those pages.
            context.set_forkserver_preload(["pipeline.workers", "trafilatura"])
            self._pool = pebble.ProcessPool(
                max_workers=max(1, self.settings.workers),
                max_tasks=self.settings.worker_max_tasks,
                initializer=_limit_memory,
                initargs=(self.settings.worker_memory_mb,),
                # forkserver: workers never inherit the threads or sockets of the parent (Airflow, httpx).
                context=context,
            )
        return self._pool

    async def __aenter__(self) -> WorkerPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join(timeout=10)
            self._pool = None

    async def _run(self, fn: Any, args: tuple, timeout: float, failure_outcome: str, what: str) -> Any:
        try:
            future = self._ensure().schedule(fn, args=args, timeout=timeout)
        except RuntimeError:
            # The pool broke (its manager thread failed): start a fresh one rather than fail every page.
            log.warning("worker pool failed; starting a new one")
            self.close()
            future = self._ensure().schedule(fn, args=args, timeout=timeout)
        try:
            return await asyncio.wrap_future(future)
        except concurrent.futures.TimeoutError as exc:
            raise ContentError(f"{what} passed its {timeout:g} s time limit", failure_outcome) from exc
        except pebble.ProcessExpired as exc:
            raise ContentError(f"{what}: worker died ({exc})", failure_outcome) from exc
        except MemoryError as exc:
            raise ContentError(
                f"{what} passed the {self.settings.worker_memory_mb} MB memory limit", failure_outcome
            ) from exc
        except ContentError:
            raise
        except Exception as exc:  # trafilatura/lxml raise ValueError, XMLSyntaxError, ... on bad pages
            raise ContentError(f"{what} failed: {type(exc).__name__}: {exc}"[:500], failure_outcome) from exc

    async def parse(self, body: bytes, **kwargs: Any) -> ParsedFeed:
        return await self._run(
            _parse, (body, kwargs), self.settings.parse_timeout, "parse_error", "feed parsing"
        )

    async def extract(self, body: bytes, url: str | None, content_type: str | None) -> ExtractedPage:
        return await self._run(
            _extract, (body, url, content_type), self.settings.extract_timeout, "extract_error", "extraction"
        )


# What runs inside a worker. Any exception is turned into a ContentError there, because an
# exception that cannot be pickled back (some lxml and trafilatura ones) would break the pool.


def _parse(body: bytes, kwargs: dict[str, Any]) -> ParsedFeed:
    try:
        return parse_feed(body, **kwargs)
    except (ContentError, MemoryError):
        raise
    except Exception as exc:
        raise ContentError(f"feed parsing failed: {type(exc).__name__}: {exc}"[:500], "parse_error") from None


def _extract(body: bytes, url: str | None, content_type: str | None) -> ExtractedPage:
    try:
        return extract_page(body, url, content_type)
    except MemoryError:
        raise
    except Exception as exc:
        raise ContentError(f"extraction failed: {type(exc).__name__}: {exc}"[:500], "extract_error") from None
