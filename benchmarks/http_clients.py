"""What one conditional GET costs in CPU, client by client, in one run.

    .venv/bin/python -m benchmarks.http_clients [--requests 20000] [--repeat 1]

``--requests`` conditional GETs (each answered 304 by ``benchmarks.scaleweb``) over 32 loopback
hosts, 32 in flight and 2 per host (the pipeline's defaults), by each candidate in a process of its
own, one after the other against the same servers. Prints, per candidate, the CPU seconds of the
requests alone (``time.process_time`` around them, after imports and set-up), wall seconds, the
answers by status and the process's peak RSS, then the load average.

Candidates: ``httpx`` (one AsyncClient, as ``benchmarks.httpx_alone``), ``httpcore`` (httpx's own
connection pool used directly, skipping the Client's layers), ``aiohttp`` (when installed),
``floor`` (a bare keep-alive asyncio Protocol parsed by httptools, no guard, no timeouts: what
the event loop and a C parser cost alone), ``vigia`` (``pipeline.collect.net.Fetcher``, everything
included: guard, slots, deadlines, caps),
each on asyncio's default loop and on uvloop (``+uvloop``).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.corpus import REPO

LAST_MODIFIED = "Mon, 20 Oct 2025 12:00:00 GMT"
HOSTS = 32
CANDIDATES = ("httpx", "httpcore", "aiohttp", "floor", "vigia")


def _limits(pairs, per_host):  # type: ignore[no-untyped-def]
    hosts: dict[str, asyncio.Semaphore] = {}
    return lambda url: hosts.setdefault(urlsplit(url).netloc, asyncio.Semaphore(per_host))


def _headers(etag: str) -> dict[str, str]:
    return {"If-None-Match": etag, "If-Modified-Since": LAST_MODIFIED} if etag else {}


async def run_httpx(pairs, concurrency, per_host):  # type: ignore[no-untyped-def]
    import httpx

    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    overall, host = asyncio.Semaphore(concurrency), _limits(pairs, per_host)
    async with httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) as client:

        async def one(url: str, etag: str) -> int:
            async with host(url), overall:
                response = await client.get(url, headers=_headers(etag))
                await response.aread()
                return response.status_code

        t0 = time.process_time()
        statuses = await asyncio.gather(*(one(u, e) for u, e in pairs))
        return time.process_time() - t0, statuses


async def run_httpcore(pairs, concurrency, per_host):  # type: ignore[no-untyped-def]
    import httpcore

    overall, host = asyncio.Semaphore(concurrency), _limits(pairs, per_host)
    async with httpcore.AsyncConnectionPool(
        max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2
    ) as pool:

        async def one(url: str, etag: str) -> int:
            async with host(url), overall:
                headers = [
                    (b"Host", urlsplit(url).netloc.encode()),
                    *[(k.encode(), v.encode()) for k, v in _headers(etag).items()],
                ]
                async with pool.stream("GET", url, headers=headers) as response:
                    async for _ in response.aiter_stream():
                        pass
                    return response.status

        t0 = time.process_time()
        statuses = await asyncio.gather(*(one(u, e) for u, e in pairs))
        return time.process_time() - t0, statuses


async def run_aiohttp(pairs, concurrency, per_host):  # type: ignore[no-untyped-def]
    import aiohttp

    overall, host = asyncio.Semaphore(concurrency), _limits(pairs, per_host)
    connector = aiohttp.TCPConnector(limit=concurrency * 2, limit_per_host=per_host * 2, keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False) as session:

        async def one(url: str, etag: str) -> int:
            async with (
                host(url),
                overall,
                session.get(url, headers=_headers(etag), allow_redirects=False) as response,
            ):
                await response.read()
                return response.status

        t0 = time.process_time()
        statuses = await asyncio.gather(*(one(u, e) for u, e in pairs))
        return time.process_time() - t0, statuses


class _Wire(asyncio.Protocol):
    """A bare HTTP/1.1 keep-alive connection parsed by httptools: the floor, no safety at all."""

    def __init__(self) -> None:
        import httptools

        self.parser = httptools.HttpResponseParser(self)
        self.done: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(self.parser.get_status_code())

    def on_body(self, body: bytes) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(exc or ConnectionError("closed"))


async def run_floor(pairs, concurrency, per_host):  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    overall, host = asyncio.Semaphore(concurrency), _limits(pairs, per_host)
    idle: dict[str, list[_Wire]] = {}

    async def one(url: str, etag: str) -> int:
        parts = urlsplit(url)
        async with host(url), overall:
            pool = idle.setdefault(parts.netloc, [])
            if pool:
                wire = pool.pop()
            else:
                _, wire = await loop.create_connection(_Wire, parts.hostname, parts.port)
            wire.done = loop.create_future()
            head = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in _headers(etag).items())
            assert wire.transport is not None
            wire.transport.write((head + "\r\n").encode())
            status = await wire.done
            pool.append(wire)
            return status

    t0 = time.process_time()
    statuses = await asyncio.gather(*(one(u, e) for u, e in pairs))
    cpu = time.process_time() - t0
    for wires in idle.values():
        for wire in wires:
            if wire.transport is not None:
                wire.transport.close()
    return cpu, statuses


async def run_vigia(pairs, concurrency, per_host):  # type: ignore[no-untyped-def]
    from pipeline.collect.net import Fetcher
    from pipeline.settings import Settings

    settings = Settings.from_env(
        env={},
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        concurrency=concurrency,
        per_host_concurrency=per_host,
    )
    async with Fetcher(settings) as fetcher:

        async def one(url: str, etag: str) -> int:
            response = await fetcher.get(url, headers=_headers(etag), max_bytes=10_000_000, deadline=30.0)
            return response.status_code

        t0 = time.process_time()
        statuses = await asyncio.gather(*(one(u, e) for u, e in pairs))
        return time.process_time() - t0, statuses


def candidate(name: str, listing: Path, concurrency: int, per_host: int) -> dict:
    base, _, loop = name.partition("+")
    pairs = [tuple(line.split("\t", 1)) for line in listing.read_text(encoding="utf-8").splitlines()]
    runner = globals()[f"run_{base}"]
    factory = None
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    wall = time.perf_counter()
    with asyncio.Runner(loop_factory=factory) as r:
        cpu, statuses = r.run(runner(pairs, concurrency, per_host))
    return {
        "candidate": name,
        "requests": len(pairs),
        "cpu_s": cpu,
        "wall_s": time.perf_counter() - wall,
        "cpu_ms_per_request": cpu * 1000 / len(pairs),
        "statuses": {str(k): v for k, v in Counter(statuses).items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _available(name: str) -> bool:
    base = name.partition("+")[0]
    module = {
        "vigia": "pipeline",
        "httpx": "httpx",
        "httpcore": "httpcore",
        "aiohttp": "aiohttp",
        "floor": "httptools",
    }[base]
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.http_clients", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--per-host", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated candidates (default: all)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--candidate", help=argparse.SUPPRESS)
    parser.add_argument("--listing", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.candidate:
        print(json.dumps(candidate(args.candidate, args.listing, args.concurrency, args.per_host)))
        return 0

    from benchmarks.scaleweb import ScaleWeb, _Feeds

    names = [f"{c}{suffix}" for c in CANDIDATES for suffix in ("", "+uvloop")]
    if args.only:
        names = [n for n in args.only.split(",") if n]
    names = [n for n in names if _available(n)]
    with (
        tempfile.TemporaryDirectory(prefix="vigia-clients-") as tmp,
        ScaleWeb(args.requests, HOSTS, 2) as web,
    ):
        web.start()
        web.mode("304")
        feeds = _Feeds({"feeds": args.requests, "hosts": web.hosts})
        listing = Path(tmp) / "conditional-gets.tsv"
        listing.write_text(
            "".join(f"{url}\t{feeds.feed(i)[0].decode()}\n" for i, url in enumerate(web.urls())),
            encoding="utf-8",
        )
        rows = []
        for _ in range(args.repeat):
            for name in names:
                cmd = [
                    sys.executable,
                    "-m",
                    "benchmarks.http_clients",
                    "--candidate",
                    name,
                    "--listing",
                    str(listing),
                ]
                cmd += ["--concurrency", str(args.concurrency), "--per-host", str(args.per_host)]
                env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_")}
                done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
                if done.returncode:
                    print(f"{name}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                    continue
                row = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(
                    f"{name:<18} {row['cpu_ms_per_request']:.3f} ms CPU a request, "
                    f"{row['wall_s']:.1f} s wall, "
                    f"peak {row['peak_rss_mb']:.0f} MB, {row['statuses']}; load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
