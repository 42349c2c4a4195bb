"""Classification speed on one core: articles per second, for ~2,000- and ~8,000-character texts.

    .venv/bin/python benchmarks/bench_classify.py [--seconds 5]

The texts are built by joining the project's written examples (relevant and not, Spanish and English)
until they reach the target length, so the lexicons see realistic vocabulary. Only classification is
timed: building the base model happens once, before, and is reported apart. The texts carry no
language, so every one goes through language identification, as an article of unknown language does.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

from pipeline.classify.training import load_examples
from pipeline.classify.versions import base_model


def articles(length: int, count: int) -> list[tuple[str, str, str | None]]:
    examples = load_examples()
    pool = itertools.cycle(examples)
    out = []
    for _ in range(count):
        first = next(pool)
        parts = [first.text]
        while sum(len(p) + 1 for p in parts) < length:
            parts.append(next(pool).text)
        out.append((first.title, " ".join(parts)[:length], None))
    return out


def rates(items: list[tuple[str, str, str | None]], seconds: float) -> tuple[float, float, float]:
    """(median, best, CPU) articles per second over rounds of classifying every item once.

    The median is the wall-clock figure; the best shows what the code does when the machine is
    quiet; CPU is articles per second of this process's CPU time (the median round), which is what
    one core delivers whatever else the shared 2-core machine is running.
    """
    model = base_model()
    per_round, per_cpu = [], []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(per_round) < 3:
        began, began_cpu = time.perf_counter(), time.process_time()
        model.classify_many(items)
        per_round.append(len(items) / (time.perf_counter() - began))
        per_cpu.append(len(items) / max(time.process_time() - began_cpu, 1e-9))
    return statistics.median(per_round), max(per_round), statistics.median(per_cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time spent on each text length")
    args = parser.parse_args()
    start = time.perf_counter()
    model = base_model()
    print(f"base model {model.version} built in {time.perf_counter() - start:.2f} s")
    for length in (2_000, 8_000):
        items = articles(length, 500)
        model.classify_many(items[:50])  # warm the per-token lexicon cache, as a running pipeline has
        median, best, cpu = rates(items, args.seconds)
        print(
            f"{length:>6} characters: {median:7.0f} articles/s median, {best:7.0f} best (one core),"
            f" {cpu:7.0f} per CPU-second"
        )


if __name__ == "__main__":
    main()
