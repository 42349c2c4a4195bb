"""The benchmark's web: feeds and pages served on several loopback hosts by a separate process.

``tests/localweb.py`` (one thread per request, in the caller's process) is right for tests; a
benchmark needs a server that costs little and runs apart, so its work is neither counted as the
pipeline's nor holds the pipeline's interpreter lock. This one is a single asyncio process with
every response prepared in advance (plain and gzip), HTTP/1.1 keep-alive, and ETag /
Last-Modified answered with 304. Each host is its own address and port (127.0.0.2, 127.0.0.3,
...): the pipeline's per-host politeness limit treats them as different sites, as the 200 real
feeds are.

    with CorpusServer(hosts=16) as web:      # binds the sockets, so the URLs are known
        served = corpus.serve(corpus, web.hosts)
        web.start(served, workdir)            # the server process starts here
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from benchmarks.corpus import REPO, Served, page_index

LAST_MODIFIED = "Mon, 20 Oct 2025 12:00:00 GMT"
MAX_HEAD = 64 * 1024


class CorpusServer:
    def __init__(self, hosts: int = 16, latency_ms: float = 0.0) -> None:
        self.latency_ms = latency_ms
        self._sockets = []
        for i in range(hosts):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((f"127.0.0.{2 + i}", 0))
            sock.listen(256)
            self._sockets.append(sock)
        self.hosts = [f"http://{s.getsockname()[0]}:{s.getsockname()[1]}" for s in self._sockets]
        self.process: subprocess.Popen[str] | None = None

    def start(self, served: Served, workdir: Path) -> None:
        """Write the served corpus under ``workdir`` and start the server process on the bound sockets."""
        (workdir / "feeds").mkdir(parents=True, exist_ok=True)
        (workdir / "pages").mkdir(parents=True, exist_ok=True)
        for i, body in enumerate(served.feed_bodies):
            (workdir / "feeds" / f"{i}").write_bytes(body)
        for i, page in enumerate(served.pages):
            (workdir / "pages" / f"{i}").write_bytes(page.body)
        manifest = {
            "feeds": len(served.feed_bodies),
            "pages": len(served.pages),
            "latency_ms": self.latency_ms,
        }
        (workdir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        fds = [s.fileno() for s in self._sockets]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.server", str(workdir), ",".join(map(str, fds))],
            pass_fds=fds,
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "ready" once every response is prepared
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"benchmark server did not start (said {line!r})")
        for sock in self._sockets:
            sock.close()  # the server process has its own copies

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stats(self) -> dict[str, int]:
        """Requests answered so far, by kind (feeds, pages, not_modified, other)."""
        with urllib.request.urlopen(self.hosts[0] + "/_stats", timeout=10) as resp:
            return json.loads(resp.read())

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

    def __enter__(self) -> CorpusServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- the server process


class _Resource:
    """One feed or page: its 200 responses (plain, gzip) and its validators."""

    def __init__(self, body: bytes, content_type: str) -> None:
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        common = f"Content-Type: {content_type}\r\nETag: {self.etag}\r\nLast-Modified: {LAST_MODIFIED}\r\n"
        self.plain = _response(200, common, body)
        self.gzip = _response(
            200,
            common + "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n",
            gzip.compress(body, compresslevel=6),
        )
        self.not_modified = (
            f"HTTP/1.1 304 Not Modified\r\nETag: {self.etag}\r\nLast-Modified: {LAST_MODIFIED}\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()

    def answer(self, headers: dict[str, str]) -> tuple[bytes, bool]:
        """(response, whether it is a 304)."""
        if headers.get("if-none-match") == self.etag or (
            "if-none-match" not in headers and headers.get("if-modified-since") == LAST_MODIFIED
        ):
            return self.not_modified, True
        return (self.gzip if "gzip" in headers.get("accept-encoding", "") else self.plain), False


def _response(status: int, headers: str, body: bytes) -> bytes:
    reason = {200: "OK", 404: "Not Found"}[status]
    return f"HTTP/1.1 {status} {reason}\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body


def _content_type(page: bytes) -> str:
    try:
        page.decode("utf-8")
    except UnicodeDecodeError:
        return "text/html"
    return "text/html; charset=utf-8"


async def _serve(directory: Path, fds: list[int]) -> None:
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    feeds = [
        _Resource((directory / "feeds" / f"{i}").read_bytes(), "application/xml")
        for i in range(manifest["feeds"])
    ]
    page_bodies = [(directory / "pages" / f"{i}").read_bytes() for i in range(manifest["pages"])]
    pages = [_Resource(body, _content_type(body)) for body in page_bodies]
    latency = manifest["latency_ms"] / 1000
    counts = {"feeds": 0, "pages": 0, "not_modified": 0, "other": 0}
    missing = _response(404, "Content-Type: text/plain\r\n", b"not found")

    def route(path: str, headers: dict[str, str]) -> bytes:
        if path == "/_stats":
            return _response(200, "Content-Type: application/json\r\n", json.dumps(counts).encode())
        if path.startswith("/f/"):
            index = path[3:]
            if not index.isdigit() or int(index) >= len(feeds):
                counts["other"] += 1
                return missing
            response, not_modified = feeds[int(index)].answer(headers)
            counts["feeds" if not not_modified else "not_modified"] += 1
            return response
        if path in ("/robots.txt", "/favicon.ico"):
            counts["other"] += 1
            return missing
        counts["pages"] += 1
        return pages[page_index(path, len(pages))].answer(headers)[0]

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
                response = route(target, headers)
                if latency:
                    await asyncio.sleep(latency)
                if method == "HEAD":
                    response = response.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                writer.write(response)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        except asyncio.CancelledError:  # shutting down with the connection still open (keep-alive)
            pass
        finally:
            writer.close()

    servers = [
        await asyncio.start_server(handle, sock=socket.socket(fileno=fd), limit=MAX_HEAD, backlog=256)
        for fd in fds
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for server in servers:
        server.close()


def main() -> None:
    directory, fds = Path(sys.argv[1]), [int(fd) for fd in sys.argv[2].split(",")]
    asyncio.run(_serve(directory, fds))


if __name__ == "__main__":
    main()
