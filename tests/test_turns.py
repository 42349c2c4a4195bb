"""Hosts take turns (pipeline/collect/turns.py): what is alive grows with the concurrency, not with
the registry, and a busy host never holds up the others. Orders and counts, never timings."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from pipeline.collect import turns
from pipeline.collect.batch import collect_batch
from pipeline.extract import workers
from pipeline.records import Feed, FeedJob, FeedState
from tests.conftest import make_settings
from tests.localweb import LocalWeb, Route

# ---------------------------------------------------------------- the scheduler alone


class Record:
    """What the work saw: items under way at once, over all and per host, and the order they started."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.per_host: dict[str, int] = defaultdict(int)
        self.most_per_host = 0
        self.started: list[tuple[str, int]] = []
        self.tasks_seen = 0

    def start(self, item: tuple[str, int]) -> None:
        self.started.append(item)
        self.now += 1
        self.per_host[item[0]] += 1
        self.most = max(self.most, self.now)
        self.most_per_host = max(self.most_per_host, self.per_host[item[0]])
        self.tasks_seen = max(self.tasks_seen, len(asyncio.all_tasks()))

    def end(self, item: tuple[str, int]) -> None:
        self.now -= 1
        self.per_host[item[0]] -= 1


def test_thousands_of_items_run_with_a_fixed_number_of_tasks_within_every_limit():
    items = [(f"h{i % 7}", i) for i in range(5_000)]
    record = Record()

    async def work(item, release):
        record.start(item)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        record.end(item)
        release()
        await asyncio.sleep(0)  # after its host: parsing, say
        return item[1] * 2

    results = asyncio.run(turns.by_host(items, lambda x: x[0], work, tasks=12, limit=8, per_host=2))
    assert results == [i * 2 for i in range(5_000)]  # every item once, in the items' order
    assert record.most <= 8 and record.most_per_host <= 2
    assert record.most == 8  # the limit is used, not just respected
    assert record.tasks_seen <= 12 + 1  # the workers and the main task: not one task an item


def test_hosts_take_turns_in_the_order_of_their_first_item_and_keep_their_own_order():
    items = [("a", 0), ("a", 1), ("a", 2), ("b", 3), ("b", 4), ("c", 5)]
    record = Record()

    async def work(item, release):
        record.start(item)
        record.end(item)
        return None

    asyncio.run(turns.by_host(items, lambda x: x[0], work, tasks=1, limit=1, per_host=1))
    assert [i for _, i in record.started] == [0, 3, 5, 1, 4, 2]


def test_a_host_whose_slots_are_busy_never_holds_up_another_hosts_items():
    # The slow host's items come first and never finish until every other item has: a worker waiting
    # on the slow host (head-of-line blocking) would never let them, and the run would not end.
    async def go():
        others_done = asyncio.Event()
        items = [("slow", i) for i in range(10)] + [(f"h{i % 3}", 10 + i) for i in range(30)]
        left = 30

        async def work(item, release):
            nonlocal left
            if item[0] == "slow":
                await others_done.wait()
                return "late"
            left -= 1
            if not left:
                others_done.set()
            await asyncio.sleep(0)
            return "on time"

        return await asyncio.wait_for(
            turns.by_host(items, lambda x: x[0], work, tasks=4, limit=4, per_host=2), timeout=60
        )

    results = asyncio.run(go())
    assert results == ["late"] * 10 + ["on time"] * 30


def test_a_slot_released_early_lets_the_next_item_of_that_host_start_while_the_first_is_in_hand():
    async def go():
        parsing = asyncio.Event()
        order = []

        async def work(item, release):
            order.append(("start", item))
            if item == 0:
                release()  # downloaded: the host is free while the body waits to be parsed
                await parsing.wait()
            else:
                parsing.set()
            order.append(("end", item))

        await turns.by_host([0, 1], lambda x: "h", work, tasks=2, limit=2, per_host=1)
        return order

    assert asyncio.run(go()) == [("start", 0), ("start", 1), ("end", 1), ("end", 0)]


def test_items_not_started_when_the_time_is_up_get_their_late_result_and_no_work():
    async def go():
        asked = []

        async def work(item, release):
            asked.append(item)
            return "done"

        past = asyncio.get_running_loop().time() - 1
        return asked, await turns.by_host(
            [1, 2, 3], lambda x: "h", work, tasks=2, limit=2, per_host=1, start_by=past, late=lambda x: "late"
        )

    asked, results = asyncio.run(go())
    assert asked == [] and results == ["late"] * 3


def test_items_waiting_for_a_busy_host_are_late_when_the_time_is_up_while_others_finish():
    async def go():
        loop = asyncio.get_running_loop()
        start_by = loop.time() + 0.2
        hold = asyncio.Event()

        async def work(item, release):
            if item == 0:
                await hold.wait()  # holds the host's only slot past the time
            return "done"

        run = asyncio.create_task(
            turns.by_host(
                [0, 1, 2],
                lambda x: "h",
                work,
                tasks=3,
                limit=3,
                per_host=1,
                start_by=start_by,
                late=lambda x: "late",
            )
        )
        while loop.time() < start_by + 0.05:
            await asyncio.sleep(0.05)
        hold.set()
        return await run

    assert asyncio.run(go()) == ["done", "late", "late"]


def test_a_failure_stops_the_other_workers_and_is_raised_as_it_is():
    async def go():
        cancelled = []

        async def work(item, release):
            if item == 3:
                raise KeyError("ours")
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(item)
                raise

        with pytest.raises(KeyError):
            await turns.by_host(list(range(6)), lambda x: f"h{x}", work, tasks=6, limit=6, per_host=1)
        return cancelled

    assert sorted(asyncio.run(go())) == [0, 1, 2, 4, 5]


# ---------------------------------------------------------------- a cycle's polling, on loopback


class Host(LocalWeb):
    """A feed host answering 304 to every feed (no body to parse), counting requests under way."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.gate = gate
        self.under_way = 0
        self.most_under_way = 0
        self.served = 0
        self.answered_before_gate = 0
        self.routes["/f"] = Route(handler=self._answer)

    def _answer(self, h) -> None:
        with self._lock:
            self.under_way += 1
            self.most_under_way = max(self.most_under_way, self.under_way)
        if self.gate is not None and not self.gate.wait(60):
            raise AssertionError("the gate never opened")
        h.send_response(304)
        h.send_header("Content-Length", "0")
        h.end_headers()
        with self._lock:
            self.under_way -= 1
            self.served += 1


def _jobs(hosts: list[Host], per_host: int) -> list[FeedJob]:
    jobs = []
    for host in hosts:  # grouped by host, as an outlet's feeds are listed together
        for i in range(per_host):
            url = host.url(f"/f?n={i}")
            name = f"{host.base}/{i}"
            jobs.append(FeedJob(Feed(name, url), FeedState(name, url)))
    return jobs


def _collect(settings, jobs, sample=None):
    async def go():
        async def sampler():
            while True:
                if sample is not None:
                    sample()
                await asyncio.sleep(0.002)

        watching = asyncio.create_task(sampler())
        try:
            return await collect_batch(jobs, settings, known=lambda ids: {}, now=datetime.now(UTC))
        finally:
            watching.cancel()

    return asyncio.run(go())


class NoPool:
    """In place of pebble's ProcessPool: starting a worker pool fails the test."""

    def __init__(self, *args, **kwargs) -> None:
        raise AssertionError("a worker pool was started")


def test_two_thousand_feeds_are_polled_by_a_few_dozen_tasks_and_no_worker_process(tmp_path, monkeypatch):
    monkeypatch.setattr(workers.pebble, "ProcessPool", NoPool)  # an all-304 cycle parses nothing
    settings = make_settings(tmp_path, "", concurrency=8, per_host_concurrency=2, workers=2)
    hosts = [Host() for _ in range(4)]
    seen = []
    for host in hosts:
        host.__enter__()
    try:
        batch = _collect(settings, _jobs(hosts, 500), sample=lambda: seen.append(len(asyncio.all_tasks())))
    finally:
        for host in hosts:
            host.__exit__(None, None, None)
    assert [f.outcome for f in batch.fetches] == ["not_modified"] * 2_000
    assert sum(h.served for h in hosts) == 2_000
    assert seen, "the sampler never ran while the feeds were polled"
    # 8 + 2 × 2 pollers, each with at most one task of anyio's while it connects, the sampler and the
    # main task: one task a feed would be 2,000.
    assert max(seen) <= 2 * 12 + 2
    assert max(h.most_under_way for h in hosts) <= 2  # politeness, as the hosts saw it
    assert batch.cpu.get("parse", 0.0) == 0.0


def test_a_host_that_answers_nothing_yet_does_not_stop_the_other_hosts_feeds(tmp_path):
    # The held host's feeds come first in the registry, more of them than the cycle has slots; it
    # answers only once every feed of the other hosts has been answered. A poller waiting on it while
    # the others have free slots would hold the cycle until the gate's safety timeout fails it.
    settings = make_settings(tmp_path, "", concurrency=4, per_host_concurrency=2, workers=1)
    gate = threading.Event()
    held = Host(gate)
    others = [Host() for _ in range(3)]
    total_others = 3 * 40

    def count_and_open(host):
        original = host._answer

        def answer(h):
            original(h)
            with held._lock:
                if sum(o.served for o in others) == total_others:
                    gate.set()

        host.routes["/f"] = Route(handler=answer)

    for host in others:
        count_and_open(host)
    for host in [held, *others]:
        host.__enter__()
    try:
        batch = _collect(settings, _jobs([held], 10) + _jobs(others, 40))
    finally:
        for host in [held, *others]:
            host.__exit__(None, None, None)
    assert len(batch.fetches) == 10 + total_others
    assert {f.outcome for f in batch.fetches} == {"not_modified"}
    assert held.served == 10 and held.most_under_way <= 2
