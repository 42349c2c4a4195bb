"""The scale benchmark's web: N small feeds over many loopback hosts, served as cheaply as we can.

Feed ``i`` is on host ``i % hosts`` (127.0.0.2, 127.0.0.3, ...; each its own address and port,
so the pipeline's per-host politeness sees different sites) at ``/f/<i>``: a small RSS feed of
two items whose links go to one of ``PAGES_PER_HOST`` article pages of its host, so a first
cycle downloads a few thousand pages, not one per feed. Every response is prepared on first use
and kept (headers and body as one bytes object), and the server speaks HTTP/1.1 with keep-alive
through asyncio's protocol interface (no streams), so a request costs it a few tens of
microseconds. The hosts are split over several processes, whose CPU the harness reports apart.

Two ways of being unchanged (``/_mode/304`` and ``/_mode/200``, sent to each process): answer a
conditional GET whose ETag matches with 304, or ignore the validators and answer 200 with the
same body (a server without conditional GET). Each process counts requests, by kind, and the
most connections it had open at once, on one host and over all (the client's politeness limit
and its overall concurrency, as the server saw them).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import socket
import subprocess
import sys
import urllib.request

from benchmarks.corpus import REPO
from benchmarks.newsgen import page, story

PAGES_PER_HOST = 50
LAST_MODIFIED = "Mon, 20 Oct 2025 12:00:00 GMT"


def feed_url(base: str, index: int) -> str:
    return f"{base}/f/{index}"


class ScaleWeb:
    """``with ScaleWeb(feeds=100_000, hosts=32, processes=2) as web: web.hosts, web.mode("304")``."""

    def __init__(self, feeds: int, hosts: int = 32, processes: int = 2) -> None:
        self.feeds = feeds
        self._sockets = []
        for i in range(hosts):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((f"127.0.0.{2 + i}", 0))
            sock.listen(1024)
            self._sockets.append(sock)
        self.hosts = [f"http://{s.getsockname()[0]}:{s.getsockname()[1]}" for s in self._sockets]
        self.processes: list[subprocess.Popen[str]] = []
        self._share = [list(range(p, hosts, processes)) for p in range(max(1, min(processes, hosts)))]

    def urls(self) -> list[str]:
        return [feed_url(self.hosts[i % len(self.hosts)], i) for i in range(self.feeds)]

    def start(self) -> None:
        for hosts in self._share:
            fds = [self._sockets[h].fileno() for h in hosts]
            config = {"feeds": self.feeds, "hosts": self.hosts, "mine": hosts}
            proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.scaleweb", json.dumps(config), ",".join(map(str, fds))],
                pass_fds=fds,
                cwd=REPO,
                stdout=subprocess.PIPE,
                text=True,
            )
            self.processes.append(proc)
        for proc in self.processes:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                self.stop()
                raise RuntimeError("scale web did not start")
        for sock in self._sockets:
            sock.close()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def _each(self, path: str) -> list[dict]:
        out = []
        for hosts in self._share:
            with urllib.request.urlopen(self.hosts[hosts[0]] + path, timeout=30) as resp:
                out.append(json.loads(resp.read()))
        return out

    def mode(self, unchanged: str) -> None:
        """How an unchanged feed answers from now on: "304" or "200" (validators ignored)."""
        self._each(f"/_mode/{unchanged}")

    def stats(self) -> dict[str, int]:
        """Requests by kind over all processes; the most connections open at once on one host, and
        to one process (``peak_open_host``, ``peak_open_process``), since the last call."""
        total: dict[str, int] = {}
        for counts in self._each("/_stats"):
            for key, value in counts.items():
                total[key] = (
                    max(total.get(key, 0), value) if key.startswith("peak") else total.get(key, 0) + value
                )
        return total

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        for sock in self._sockets:
            sock.close()

    def __enter__(self) -> ScaleWeb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- the server process


def _response(status: str, headers: str, body: bytes = b"") -> bytes:
    return f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body


class _Feeds:
    def __init__(self, config: dict) -> None:
        self.count = config["feeds"]
        self.hosts = config["hosts"]
        self.unchanged = "304"
        self.cache: dict[int, tuple[bytes, bytes, bytes]] = {}  # feed -> (etag, 200, 304)
        self.pages: dict[tuple[int, int], bytes] = {}
        self.counts = {"feeds": 0, "not_modified": 0, "pages": 0, "other": 0, "connections": 0}
        self.open: dict[int, int] = {}  # connections open, by host
        self.peak_host = self.peak_process = self.total_open = 0

    def feed(self, index: int) -> tuple[bytes, bytes, bytes]:
        found = self.cache.get(index)
        if found is None:
            host = self.hosts[index % len(self.hosts)]
            items = []
            for k in range(2):
                number = (index * 2 + k) % PAGES_PER_HOST
                item = story(index % len(self.hosts), number, seed=7)
                items.append(
                    f"<item><title>{_xml(item.title)}</title><link>{host}/a/{number}</link>"
                    f'<guid isPermaLink="false">s{index}-{k}</guid>'
                    f"<pubDate>{LAST_MODIFIED}</pubDate></item>"
                )
            body = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Feed {index}</title><link>{host}/</link>{''.join(items)}</channel></rss>"
            ).encode()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            common = f"ETag: {etag}\r\nLast-Modified: {LAST_MODIFIED}\r\n"
            found = (
                etag.encode(),
                _response("200 OK", "Content-Type: application/rss+xml\r\n" + common, body),
                _response("304 Not Modified", common),
            )
            self.cache[index] = found
        return found

    def page(self, host: int, number: int) -> bytes:
        found = self.pages.get((host, number))
        if found is None:
            body = page(story(host, number, seed=7), f"Diario {host}")
            found = self.pages[(host, number)] = _response(
                "200 OK", "Content-Type: text/html; charset=utf-8\r\n", body
            )
        return found

    def answer(self, host: int, head: bytes) -> bytes:
        line_end = head.find(b"\r\n")
        parts = head[:line_end].split(b" ")
        path = parts[1] if len(parts) > 1 else b"/"
        if path.startswith(b"/f/") and path[3:].isdigit():
            index = int(path[3:])
            if index < self.count:
                etag, full, not_modified = self.feed(index)
                if self.unchanged == "304" and etag in _header(head, b"if-none-match"):
                    self.counts["not_modified"] += 1
                    return not_modified
                self.counts["feeds"] += 1
                return full
        if path.startswith(b"/a/") and path[3:].isdigit():
            self.counts["pages"] += 1
            return self.page(host, int(path[3:]) % PAGES_PER_HOST)
        if path == b"/_stats":
            stats = {**self.counts, "peak_open_host": self.peak_host, "peak_open_process": self.peak_process}
            self.peak_host, self.peak_process = max(self.open.values(), default=0), self.total_open
            return _response("200 OK", "Content-Type: application/json\r\n", json.dumps(stats).encode())
        if path.startswith(b"/_mode/"):
            self.unchanged = path[7:].decode()
            return _response("200 OK", "Content-Type: application/json\r\n", b"{}")
        self.counts["other"] += 1
        return _response("404 Not Found", "Content-Type: text/plain\r\n", b"not found")


def _header(head: bytes, name: bytes) -> bytes:
    start = head.lower().find(b"\r\n" + name + b":")
    if start < 0:
        return b"\x00"
    end = head.find(b"\r\n", start + 2)
    end = len(head) if end < 0 else end
    return head[start + len(name) + 3 : end].strip()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Connection(asyncio.Protocol):
    def __init__(self, feeds: _Feeds, host: int) -> None:
        self.feeds, self.host = feeds, host
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport
        feeds = self.feeds
        feeds.open[self.host] = feeds.open.get(self.host, 0) + 1
        feeds.total_open += 1
        feeds.peak_host = max(feeds.peak_host, feeds.open[self.host])
        feeds.peak_process = max(feeds.peak_process, feeds.total_open)
        feeds.counts["connections"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.feeds.open[self.host] -= 1
        self.feeds.total_open -= 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        feeds = self.feeds
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            assert self.transport is not None
            self.transport.write(feeds.answer(self.host, head))
        if len(self.buffer) > 65536:
            assert self.transport is not None
            self.transport.close()


async def _serve(config: dict, fds: list[int]) -> None:
    feeds = _Feeds(config)
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_server(
            lambda host=host: _Connection(feeds, host), sock=socket.socket(fileno=fd), backlog=1024
        )
        for host, fd in zip(config["mine"], fds, strict=True)
    ]
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for server in servers:
        server.close()


def main() -> None:
    config, fds = json.loads(sys.argv[1]), [int(fd) for fd in sys.argv[2].split(",")]
    asyncio.run(_serve(config, fds))


if __name__ == "__main__":
    main()
