"""The two yardsticks the pipeline is measured against, on the same pages in the same run.

**The limit**: trafilatura alone, with the pipeline's options (``pipeline.extract.EXTRACT_OPTIONS``),
over exactly the pages the pipeline downloaded, on every core (a process pool), with nothing
else to do: each worker holds every page already decoded, receives page numbers and returns the
text. Its pool is started and warmed before the clock starts. No pipeline can extract faster
than this with the same extractor and options; ``end to end / limit`` is how close it comes.

**The cron script**: the same work the way a hand-written script does it, one thing at a time
in one process: ``feedparser.parse(url)`` (feedparser downloading each feed itself, default
options), then for each new item ``trafilatura.fetch_url`` and ``trafilatura.extract`` (the
pipeline's options, so both extract the same text), the classifier, and ``executemany`` into
DuckDB, a feed at a time. trafilatura 2.3 refuses to download from loopback addresses (its SSRF
protection), so the script uses trafilatura's own documented switch for intranets,
``SSRF_PROTECTION = off`` in a copy of its configuration: the download is still trafilatura's.
"""

from __future__ import annotations

import ipaddress
import multiprocessing
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.extract.pages import EXTRACT_OPTIONS

_PAGES: list[str] = []  # in a limit worker: every page, decoded


def _limit_init(pages: list[str]) -> None:
    global _PAGES
    _PAGES = pages
    import trafilatura  # noqa: F401  (imported before the clock starts)


def _limit_extract(task: tuple[int, bool, bool]) -> tuple[int, str | None, float]:
    import trafilatura

    index, keep, with_metadata = task
    started = time.process_time()
    doc = trafilatura.bare_extraction(_PAGES[index], with_metadata=with_metadata, **EXTRACT_OPTIONS)
    text = (doc.text or "").strip() if doc is not None else ""
    return index, text if keep else None, time.process_time() - started


def extraction_limit(
    pages: Sequence[str], order: Sequence[int], workers: int, with_metadata: bool = False
) -> dict[str, Any]:
    """Extract ``pages[i]`` for every ``i`` in ``order`` on ``workers`` processes; rate and texts.

    ``with_metadata``: trafilatura also finds the title, author and date, as the pipeline does
    (by a cheaper pass of its own): the limit of trafilatura doing the pipeline's whole job."""
    context = multiprocessing.get_context("forkserver")
    seen: set[int] = set()
    tasks = []
    for index in order:
        tasks.append((index, index not in seen, with_metadata))  # each page's text once, for F1
        seen.add(index)
    with context.Pool(workers, initializer=_limit_init, initargs=(list(pages),)) as pool:
        warm = [(i % len(pages), False, with_metadata) for i in range(workers * 4)]
        pool.map(_limit_extract, warm, chunksize=1)
        started = time.perf_counter()
        results = pool.map(_limit_extract, tasks, chunksize=4)
        wall = time.perf_counter() - started
    texts = {index: text for index, text, _ in results if text is not None}
    cpu = sum(seconds for _, _, seconds in results)
    return {
        "pages": len(tasks),
        "workers": workers,
        "wall_s": round(wall, 3),
        "pages_per_s": round(len(tasks) / wall, 2) if wall else 0.0,
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_page": round(1000 * cpu / len(tasks), 2) if tasks else 0.0,
        "texts": texts,
    }


def _is_loopback(url: str) -> bool:
    try:
        return ipaddress.ip_address(urlsplit(url).hostname or "").is_loopback
    except ValueError:
        return False


def cron_script(feed_urls: Sequence[str], db_path: Path, model: Any) -> dict[str, Any]:
    """The hand-written way, timed by step. Downloads only from loopback addresses."""
    import duckdb
    import feedparser
    import trafilatura
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "SSRF_PROTECTION", "off")  # trafilatura's switch for intranet use
    steps = dict.fromkeys(("feeds", "fetch", "extract", "classify", "insert"), 0.0)
    counts = {"feeds": 0, "entries": 0, "fetched": 0, "extracted": 0, "rows": 0, "skipped_nonlocal": 0}
    db_path.unlink(missing_ok=True)
    con = duckdb.connect(str(db_path))
    con.execute(
        "create table articles (url varchar primary key, feed varchar, title varchar, text varchar,"
        " published varchar, score double, relevant boolean, topics varchar[])"
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    seen: set[str] = set()
    for number, feed_url in enumerate(feed_urls):
        mark = time.perf_counter()
        parsed = feedparser.parse(feed_url)
        steps["feeds"] += time.perf_counter() - mark
        counts["feeds"] += 1
        rows = []
        for entry in parsed.entries:
            counts["entries"] += 1
            link = entry.get("link")
            if not link or link in seen:
                continue
            seen.add(link)
            if not _is_loopback(link):
                counts["skipped_nonlocal"] += 1
                continue
            if con.execute("select 1 from articles where url = ?", [link]).fetchone():
                continue
            mark = time.perf_counter()
            downloaded = trafilatura.fetch_url(link, config=config)
            steps["fetch"] += time.perf_counter() - mark
            text = None
            if downloaded:
                counts["fetched"] += 1
                mark = time.perf_counter()
                text = trafilatura.extract(downloaded, url=link, **EXTRACT_OPTIONS)
                steps["extract"] += time.perf_counter() - mark
                counts["extracted"] += bool(text)
            title = entry.get("title", "")
            mark = time.perf_counter()
            verdict = model.classify(title, text or entry.get("summary", ""))
            steps["classify"] += time.perf_counter() - mark
            rows.append(
                (
                    link,
                    f"f{number:03d}",
                    title,
                    text,
                    entry.get("published"),
                    verdict.score,
                    verdict.is_relevant,
                    list(verdict.topics),
                )
            )
        if rows:
            mark = time.perf_counter()
            con.executemany("insert into articles values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            steps["insert"] += time.perf_counter() - mark
            counts["rows"] += len(rows)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    con.close()
    return {
        **counts,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "articles_per_s": round(counts["extracted"] / wall, 2) if wall else 0.0,
        "step_s": {k: round(v, 3) for k, v in steps.items()},
        "insert_rows_per_s": round(counts["rows"] / steps["insert"], 1) if steps["insert"] else None,
        "pid": os.getpid(),
    }
