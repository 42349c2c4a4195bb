"""The freshness benchmark's web: news sites on loopback hosts whose feeds publish on a clock.

Every feed lists its newest items, each linking to an article page on the feed's host. A feed
has a few old items (published hours before the start) and new ones, each published at its own
offset from the moment the clock starts (``ClockWeb.start_clock``): a hot feed every minute or
so, a quiet one rarely. Before its time an item is in no feed and its page answers 404. Feeds
answer conditional GETs with 304 while nothing new was published (ETag and Last-Modified change
with each new item). Each host answers after its own delay (``latency_ms``), as remote sites do.

One asyncio process, apart from the harness, so its work is neither the pipeline's nor the
harness's; its CPU is reported on its own. The articles come from ``benchmarks.newsgen``.

    with ClockWeb(hosts=4, latency_ms=[30, 60, 100, 150]) as web:   # binds the sockets
        web.start(plan, workdir)                                    # the server process starts
        t0 = web.start_clock()                                      # new items from now on
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache
from html import escape
from pathlib import Path

from benchmarks.corpus import REPO
from benchmarks.newsgen import page, story

FEED_ITEMS = 20  # the newest items a feed lists, as most outlets' feeds do
MAX_HEAD = 64 * 1024


@dataclass
class FeedPlan:
    index: int
    host: int  # which of the web's hosts serves it
    kind: str  # "hot" or "quiet"
    old: int  # items published before the start, one every 20 minutes back from it
    offsets: list[float] = field(default_factory=list)  # seconds after the clock's start, one per new item


def item_path(feed: int, number: int) -> str:
    return f"/n/{feed}/{number}"


class ClockWeb:
    def __init__(self, hosts: int = 4, latency_ms: list[float] | None = None) -> None:
        self.latency_ms = list(latency_ms or [0.0] * hosts)
        self._sockets = []
        for i in range(hosts):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((f"127.0.0.{2 + i}", 0))
            sock.listen(256)
            self._sockets.append(sock)
        self.hosts = [f"http://{s.getsockname()[0]}:{s.getsockname()[1]}" for s in self._sockets]
        self.process: subprocess.Popen[str] | None = None
        self.started_at = 0.0  # when the old items were dated from (the server's start)

    def feed_url(self, plan: FeedPlan) -> str:
        return f"{self.hosts[plan.host]}/feed/{plan.index}.xml"

    def item_url(self, plan: FeedPlan, number: int) -> str:
        return self.hosts[plan.host] + item_path(plan.index, number)

    def start(self, feeds: list[FeedPlan], workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        manifest = {"hosts": self.hosts, "latency_ms": self.latency_ms, "feeds": [asdict(f) for f in feeds]}
        (workdir / "clockweb.json").write_text(json.dumps(manifest), encoding="utf-8")
        fds = [s.fileno() for s in self._sockets]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.clockweb", str(workdir), ",".join(map(str, fds))],
            pass_fds=fds,
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if not line or line[0] != "ready":
            self.stop()
            raise RuntimeError(f"clock web did not start (said {line!r})")
        self.started_at = float(line[1])
        for sock in self._sockets:
            sock.close()  # the server process has its own copies

    def start_clock(self) -> float:
        """Start publishing the new items; returns the clock's start (epoch seconds)."""
        return float(self._get("/_clock/start")["t0"])

    def stats(self) -> dict[str, int]:
        return self._get("/_stats")

    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(self.hosts[0] + path, timeout=30) as resp:
            return json.loads(resp.read())

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        for sock in self._sockets:
            sock.close()

    def __enter__(self) -> ClockWeb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- the server process


def _http_date(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(int(epoch), UTC), usegmt=True)


def _response(status: str, headers: str, body: bytes = b"") -> bytes:
    return f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body


class _Site:
    """What the server knows: every feed's items and when each is published."""

    def __init__(self, manifest: dict, started: float) -> None:
        self.hosts = manifest["hosts"]
        self.feeds = [FeedPlan(**f) for f in manifest["feeds"]]
        self.started = started
        self.t0: float | None = None
        self.counts = {"feeds": 0, "not_modified": 0, "pages": 0, "not_found": 0}

    def published(self, feed: FeedPlan, now: float) -> list[tuple[int, float]]:
        """(number, publication time) of the feed's items published by ``now``, oldest first."""
        items = [(n, self.started - (feed.old - n) * 1200.0) for n in range(feed.old)]
        if self.t0 is not None:
            items += [(feed.old + j, self.t0 + o) for j, o in enumerate(feed.offsets) if self.t0 + o <= now]
        return items

    def feed_response(self, feed: FeedPlan, headers: dict[str, str], now: float) -> bytes:
        items = self.published(feed, now)
        newest = items[-1][1] if items else self.started
        etag = f'"{feed.index}-{len(items)}"'
        modified = _http_date(newest)
        common = f"ETag: {etag}\r\nLast-Modified: {modified}\r\n"
        if headers.get("if-none-match") == etag or (
            "if-none-match" not in headers and headers.get("if-modified-since") == modified
        ):
            self.counts["not_modified"] += 1
            return _response("304 Not Modified", common)
        self.counts["feeds"] += 1
        return _response(
            "200 OK", "Content-Type: application/rss+xml; charset=utf-8\r\n" + common, self.rss(feed, items)
        )

    def rss(self, feed: FeedPlan, items: list[tuple[int, float]]) -> bytes:
        host = self.hosts[feed.host]
        entries = []
        for number, when in reversed(items[-FEED_ITEMS:]):
            item = story(feed.index, number)
            entries.append(
                f"<item><title>{escape(item.title)}</title><link>{host}{item_path(feed.index, number)}</link>"
                f'<guid isPermaLink="false">clock-{feed.index}-{number}</guid>'
                f"<pubDate>{_http_date(when)}</pubDate>"
                f"<description>{escape(item.summary)}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Diario {feed.index}</title><link>{host}/</link><language>es-PE</language>"
            + "".join(entries)
            + "</channel></rss>"
        ).encode()

    def route(self, path: str, headers: dict[str, str]) -> bytes:
        now = time.time()
        if path == "/_stats":
            return _response("200 OK", "Content-Type: application/json\r\n", json.dumps(self.counts).encode())
        if path == "/_clock/start":
            self.t0 = self.t0 or now
            return _response(
                "200 OK", "Content-Type: application/json\r\n", json.dumps({"t0": self.t0}).encode()
            )
        parts = path.split("?", 1)[0].strip("/").split("/")
        if len(parts) == 2 and parts[0] == "feed" and parts[1].removesuffix(".xml").isdigit():
            index = int(parts[1].removesuffix(".xml"))
            if index < len(self.feeds):
                return self.feed_response(self.feeds[index], headers, now)
        if len(parts) == 3 and parts[0] == "n" and parts[1].isdigit() and parts[2].isdigit():
            index, number = int(parts[1]), int(parts[2])
            if index < len(self.feeds) and any(
                n == number for n, _ in self.published(self.feeds[index], now)
            ):
                self.counts["pages"] += 1
                return _page_response(index, number)
        self.counts["not_found"] += 1
        return _response("404 Not Found", "Content-Type: text/plain\r\n", b"not found")


@lru_cache(maxsize=4096)
def _page_response(feed: int, number: int) -> bytes:
    body = page(story(feed, number), f"Diario {feed}")
    return _response("200 OK", "Content-Type: text/html; charset=utf-8\r\n", body)


async def _serve(directory: Path, fds: list[int]) -> None:
    manifest = json.loads((directory / "clockweb.json").read_text(encoding="utf-8"))
    site = _Site(manifest, time.time())

    def handler(delay: float):
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    method, target = lines[0].split(" ", 2)[:2]
                    headers = {}
                    for line in lines[1:]:
                        name, _, value = line.partition(":")
                        if value:
                            headers[name.strip().lower()] = value.strip()
                    if delay and not target.startswith("/_"):
                        await asyncio.sleep(delay)
                    response = site.route(target, headers)
                    if method == "HEAD":
                        response = response.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                    writer.write(response)
                    await writer.drain()
                    if headers.get("connection", "").lower() == "close":
                        break
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
                pass
            except asyncio.CancelledError:
                pass
            finally:
                writer.close()

        return handle

    servers = [
        await asyncio.start_server(
            handler(manifest["latency_ms"][i] / 1000),
            sock=socket.socket(fileno=fd),
            limit=MAX_HEAD,
            backlog=256,
        )
        for i, fd in enumerate(fds)
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", site.started, flush=True)
    await stop.wait()
    for server in servers:
        server.close()


def main() -> None:
    directory, fds = Path(sys.argv[1]), [int(fd) for fd in sys.argv[2].split(",")]
    asyncio.run(_serve(directory, fds))


if __name__ == "__main__":
    main()
