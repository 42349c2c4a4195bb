"""Work spread over hosts by a fixed set of tasks: what is alive grows with the concurrency, not the work.

    results = await by_host(items, host_of, work, tasks=34, limit=32, per_host=2, start_by=..., late=...)

A cycle polls up to 100,000 feeds, yet at most ``concurrency`` requests run at once and
``per_host_concurrency`` a host. One coroutine a feed (``asyncio.gather`` over every feed) kept
100,000 tasks alive at once, each with its frames, its request and its place in a semaphore's queue
(681 MB at 100,000 unchanged feeds); here ``tasks`` workers take the items from per-host queues, so
what is alive is a few dozen coroutines and the results.

* **No head-of-line blocking.** A worker never waits on a host whose slots are all busy (a slow host,
  many items of one host) while another host has a free slot and items queued: it takes from that
  one. It waits only when no queued item could start now.
* **Turns.** Hosts take turns, one item each, in the order of their first item; a host's items keep
  their order. A host whose slots are busy loses its turn, and gets the next free one when a slot
  frees.
* **Slots for the network only.** ``work(item, release)`` calls ``release()`` once it is done with
  the host (its download ended, before parsing or extracting in a worker process), so a host is not
  idle while its body waits for a worker; the slot is released anyway when ``work`` returns.
  ``limit`` bounds the items holding a slot over every host (the HTTP client's overall limit), and
  ``tasks`` (larger) the items in hand, holding a slot or not: a body waiting for a worker process
  counts, so memory stays bounded while the downloads keep going.
* **Time.** Items still queued when the event loop's clock reaches ``start_by`` are never given to
  ``work``: ``late(item)`` gives their result (the cycle's time was up before they could start).

These limits mirror the HTTP client's own (``pipeline.collect.net``: per-host and overall
semaphores, which stay, for a redirect to another host): an item given to ``work`` finds its slot free.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def by_host(
    items: Sequence[T],
    host_of: Callable[[T], str],
    work: Callable[[T, Callable[[], None]], Awaitable[R]],
    *,
    tasks: int,
    limit: int,
    per_host: int,
    start_by: float | None = None,
    late: Callable[[T], R] | None = None,
) -> list[R]:
    """``work(item, release)`` for every item, host by host in turns; the results in the items' order.

    An exception from ``work`` stops the others (cancelled) and is raised. ``late`` is required with
    ``start_by``.
    """
    if start_by is not None and late is None:
        raise ValueError("start_by needs late")
    turns: _Turns[T, R] = _Turns(items, host_of, work, limit, per_host, start_by, late)
    return await turns.run(max(1, tasks))


class _Turns(Generic[T, R]):
    def __init__(
        self,
        items: Sequence[T],
        host_of: Callable[[T], str],
        work: Callable[[T, Callable[[], None]], Awaitable[R]],
        limit: int,
        per_host: int,
        start_by: float | None,
        late: Callable[[T], R] | None,
    ) -> None:
        self._items = items
        self._work = work
        self._limit = max(1, limit)
        self._per_host = max(1, per_host)
        self._start_by = start_by
        self._late = late
        self._results: list[R | None] = [None] * len(items)
        # Per host, the indexes of its items still queued; hosts in the order of their first item.
        self._queues: dict[str, deque[int]] = {}
        for index, item in enumerate(items):
            queue = self._queues.get(key := host_of(item))
            if queue is None:
                queue = self._queues[key] = deque()
            queue.append(index)
        self._queued = len(items)
        self._busy: dict[str, int] = dict.fromkeys(self._queues, 0)  # slots in use, per host
        self._running = 0  # slots in use, over every host
        # Hosts with items queued and a free slot, in turn order; each at most once.
        self._ready: deque[str] = deque(self._queues)
        self._is_ready: set[str] = set(self._queues)
        self._waiters: deque[asyncio.Future[None]] = deque()  # workers waiting for a slot to free

    async def run(self, tasks: int) -> list[R]:
        workers = [asyncio.create_task(self._worker()) for _ in range(min(tasks, len(self._items)))]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        return self._results  # type: ignore[return-value]  # every index was filled

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queued:
            if self._start_by is not None and loop.time() >= self._start_by:
                self._give_up()
                return
            taken = self._take()
            if taken is None:
                await self._wait()
                continue
            await self._run_one(*taken)

    async def _run_one(self, index: int, host: str) -> None:
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._release(host)

        try:
            self._results[index] = await self._work(self._items[index], release)
        finally:
            release()

    def _take(self) -> tuple[int, str] | None:
        """The next item whose host has a free slot, in turns; None when no queued item can start now."""
        if self._running >= self._limit or not self._ready:
            return None
        host = self._ready.popleft()
        queue = self._queues[host]
        index = queue.popleft()
        self._queued -= 1
        self._busy[host] += 1
        self._running += 1
        if queue and self._busy[host] < self._per_host:
            self._ready.append(host)  # its next item waits for the other hosts' turns
        else:
            self._is_ready.discard(host)
        if not self._queued:
            self._wake(all_of_them=True)  # nothing left to take: the waiting workers end
        return index, host

    def _release(self, host: str) -> None:
        self._busy[host] -= 1
        self._running -= 1
        if self._queues[host] and host not in self._is_ready:
            self._ready.append(host)
            self._is_ready.add(host)
        self._wake()

    def _wake(self, all_of_them: bool = False) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not all_of_them:
                    return

    async def _wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout_at(self._start_by):
                await waiter
        except TimeoutError:
            self._give_up()
        except BaseException:
            # Cancelled after a wake-up was handed to it: hand it on, or a slot would go unused.
            if waiter.done() and not waiter.cancelled():
                self._wake()
            raise

    def _give_up(self) -> None:
        """The time is up: every item still queued gets its ``late`` result, never its work."""
        assert self._late is not None
        for queue in self._queues.values():
            while queue:
                index = queue.popleft()
                self._results[index] = self._late(self._items[index])
        self._queued = 0
        self._ready.clear()
        self._is_ready.clear()
        self._wake(all_of_them=True)
