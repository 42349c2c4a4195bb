"""The HTTP client's own cost: the same conditional GETs as a Vigía cycle, with nothing else.

    .venv/bin/python -m benchmarks.httpx_alone FILE [--concurrency 32] [--per-host 2]

``FILE`` holds one ``URL<TAB>ETag`` a line (the scale benchmark writes it from the feed states a
cycle stored). Every URL is asked once with ``If-None-Match`` (and ``If-Modified-Since``),
through one ``httpx.AsyncClient`` with the pipeline's connection pool (``VIGIA_CONCURRENCY`` × 2
connections, all kept alive), at most ``--concurrency`` requests in flight and ``--per-host`` per
host, the pipeline's defaults; each body is read to the end. Prints one JSON line: wall and CPU
seconds of the requests alone (after the imports), and the answers by status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx

LAST_MODIFIED = "Mon, 20 Oct 2025 12:00:00 GMT"


async def fetch_all(pairs: list[tuple[str, str]], concurrency: int, per_host: int) -> Counter[int]:
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    overall = asyncio.Semaphore(concurrency)
    hosts: dict[str, asyncio.Semaphore] = {}
    async with httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) as client:

        async def one(url: str, etag: str) -> int:
            host = hosts.setdefault(urlsplit(url).netloc, asyncio.Semaphore(per_host))
            async with host, overall:
                headers = {"If-None-Match": etag, "If-Modified-Since": LAST_MODIFIED} if etag else {}
                response = await client.get(url, headers=headers)
                await response.aread()
                return response.status_code

        return Counter(await asyncio.gather(*(one(url, etag) for url, etag in pairs)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.httpx_alone", description=__doc__.splitlines()[0]
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--per-host", type=int, default=2)
    args = parser.parse_args(argv)
    pairs = []
    for line in args.file.read_text(encoding="utf-8").splitlines():
        url, _, etag = line.partition("\t")
        pairs.append((url, etag))
    cpu, wall = time.process_time(), time.perf_counter()
    statuses = asyncio.run(fetch_all(pairs, args.concurrency, args.per_host))
    print(
        json.dumps(
            {
                "requests": len(pairs),
                "wall_s": time.perf_counter() - wall,
                "cpu_s": time.process_time() - cpu,
                "statuses": {str(k): v for k, v in statuses.items()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
