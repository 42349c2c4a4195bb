"""A small web of news sites served on 127.0.0.1, for the tests.

``LocalWeb`` is a threaded HTTP server whose routes are canned responses. It speaks enough
HTTP to exercise the pipeline for real: ETag/Last-Modified with 304, gzip, redirects, error
statuses with Retry-After, and slow or endless bodies. ``sample_site()`` gives the routes of
the sample outlets ``make demo`` serves (``pipeline/demo.py``, ``pipeline/data/sample_site.json``).
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from pipeline.demo import (
    LAST_MODIFIED,
    SAMPLE_SITE,
    LoopbackHandler,
    LoopbackServer,
    etag,
    not_modified,
    sample_feeds_toml,
    sample_pages,
)

__all__ = ["SAMPLE_SITE", "LocalWeb", "Route", "sample_feeds_toml", "sample_site"]


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True  # answer If-None-Match / If-Modified-Since with 304
    gzip: bool = False
    drip_seconds: float = 0.0  # send the body one byte at a time, this long apart
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None  # full control


class LocalWeb(LoopbackServer):
    """``with LocalWeb(routes) as web: web.url('/feed.xml')``. Routes can be changed while it runs."""

    def __init__(
        self, routes: dict[str, Route] | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, headers) of every request
        self._lock = threading.Lock()
        web = self

        class Handler(LoopbackHandler):
            def do_GET(self) -> None:  # noqa: N802
                with web._lock:
                    web.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = web.routes.get(self.path) or web.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    self._send(404, b"not found", "text/plain", {})
                    return
                if route.handler is not None:
                    route.handler(self)
                    return
                web._serve(self, route)

            def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        super().__init__(host, port, Handler)

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for p, _ in self.requests if p == path)

    @staticmethod
    def _serve(handler: BaseHTTPRequestHandler, route: Route) -> None:
        tag = etag(route.body)
        headers = dict(route.headers)
        if route.etag and route.status == 200:
            headers.setdefault("ETag", tag)
            headers.setdefault("Last-Modified", LAST_MODIFIED)
            if not_modified(handler, tag):
                handler.send_response(304)
                for k, v in headers.items():
                    handler.send_header(k, v)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        handler.send_response(route.status)
        handler.send_header("Content-Type", route.content_type)
        handler.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            handler.send_header(k, v)
        handler.end_headers()
        try:
            if route.drip_seconds:
                for i in range(len(body)):
                    handler.wfile.write(body[i : i + 1])
                    handler.wfile.flush()
                    time.sleep(route.drip_seconds)
            else:
                handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


# ---------------------------------------------------------------- the sample outlets


def sample_site(base: str, site_file: Path = SAMPLE_SITE, now: datetime | None = None) -> dict[str, Route]:
    """Routes for the sample outlets (``pipeline.demo``). Publication dates are shifted so the newest
    is ``now`` minus an hour."""
    return {
        path: Route(body=page.body, content_type=page.content_type)
        for path, page in sample_pages(base, site_file, now).items()
    }
