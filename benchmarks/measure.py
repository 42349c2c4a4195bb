"""What the benchmark measures with: memory and CPU of a process tree, and extraction F1.

Memory is the sum of the resident set sizes (RSS) of this process and all its descendants (the
fork server and the extraction workers), sampled every 100 ms; pages shared between a worker and
the fork server it was forked from are counted in both, so the sum overstates, never understates.
CPU is read per process from /proc: a process that ends between two samples loses at most the
last 100 ms of its CPU from the figures.

F1 is the measure of the Zyte/ScrapingHub article-extraction benchmark, whose 181 pages and
reference texts are the shared corpus's (trafilatura reports its 0.958 with it): texts are split
into ``\\w+`` tokens and compared as bags of 4-token shingles; precision and recall are computed
per page and averaged over pages (a long page weighs no more than a short one), and F1 is the
harmonic mean of the two averages.
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import psutil

_TOKEN = re.compile(r"\w+")
SHINGLE = 4


def _tree(root: int, exclude: set[int]) -> list[int]:
    """``root`` and its descendants (not those in ``exclude``, nor theirs), from /proc's children
    lists: reading every process's status to build the tree each sample cost more than the rest."""
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        if pid in exclude:
            continue
        found.append(pid)
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                    pending.extend(int(child) for child in fh.read().split())
            except OSError:
                continue
    return found


class TreeMonitor:
    """``with TreeMonitor(exclude={server_pid}) as tree: ...; tree.peak_rss, tree.cpu()``."""

    def __init__(self, exclude: Iterable[int] = (), interval: float = 0.1) -> None:
        self.exclude = set(exclude)
        self.interval = interval
        self.peak_rss = 0
        self._cpu: dict[int, float] = {}  # pid -> last CPU seconds seen
        self._procs: dict[int, psutil.Process] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-monitor", daemon=True)
        self._phase_peak = 0

    def _sample(self) -> None:
        rss = 0
        with self._lock:
            for pid in _tree(os.getpid(), self.exclude):
                proc = self._procs.get(pid)
                if proc is None:
                    try:
                        proc = self._procs[pid] = psutil.Process(pid)  # one handle per process, kept
                    except psutil.Error:
                        continue
                try:
                    with proc.oneshot():
                        rss += proc.memory_info().rss
                        times = proc.cpu_times()
                except psutil.Error:
                    continue
                self._cpu[proc.pid] = times.user + times.system
            self.peak_rss = max(self.peak_rss, rss)
            self._phase_peak = max(self._phase_peak, rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def cpu(self) -> dict[int, float]:
        """CPU seconds so far of every process of the tree seen, by pid (a fresh sample first)."""
        self._sample()
        with self._lock:
            return dict(self._cpu)

    def phase_peak(self) -> int:
        """The peak RSS since the last call (or the start), then starts a new phase."""
        self._sample()
        with self._lock:
            peak, self._phase_peak = self._phase_peak, 0
        return peak

    def __enter__(self) -> TreeMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Stage:
    """Wall time, this process's CPU and the whole tree's CPU over a block of code."""

    def __init__(self, tree: TreeMonitor) -> None:
        self.tree = tree
        self.wall = self.main_cpu = self.tree_cpu = 0.0
        self.peak_rss = 0

    def __enter__(self) -> Stage:
        self.tree.phase_peak()
        self._tree0 = self.tree.cpu()
        self._main0 = time.process_time()
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.main_cpu = time.process_time() - self._main0
        after = self.tree.cpu()
        self.tree_cpu = sum(cpu - self._tree0.get(pid, 0.0) for pid, cpu in after.items())
        self.peak_rss = self.tree.phase_peak()


@contextlib.contextmanager
def timed(targets: Iterable[tuple[Any, str]], sink: dict[str, float]) -> Iterator[dict[str, float]]:
    """Add the wall time of every call to ``module.name`` to ``sink[name]`` while inside the block.

    For splitting a stage into its steps (the load: articles, classification, stories, search index)
    without changing the pipeline: the pipeline calls these through their modules' attributes.
    """
    originals = []
    for module, name in targets:
        original = getattr(module, name)
        originals.append((module, name, original))

        def wrapper(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                sink[_name] = sink.get(_name, 0.0) + time.perf_counter() - started

        setattr(module, name, wrapper)
    try:
        yield sink
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if len(tokens) < SHINGLE:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


def f1(pairs: Iterable[tuple[str, str]]) -> dict[str, float]:
    """Precision, recall and F1 of (reference, extracted) text pairs, one pair per page."""
    precisions, recalls = [], []
    for reference, extracted in pairs:
        truth, found = _shingles(reference), _shingles(extracted)
        tp = sum((truth & found).values())
        fp = sum((found - truth).values())
        fn = sum((truth - found).values())
        total = tp + fp + fn
        if total == 0:
            continue
        if tp + fp > 0:
            precisions.append(1.0 if fp == fn == 0 else tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(1.0 if fp == fn == 0 else tp / (tp + fn))
    precision = statistics.mean(precisions) if precisions else 0.0
    recall = statistics.mean(recalls) if recalls else 0.0
    score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": round(score, 4), "precision": round(precision, 4), "recall": round(recall, 4)}
