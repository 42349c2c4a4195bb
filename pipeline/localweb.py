"""A small web of news sites served on 127.0.0.1, for the tests, ``make demo`` and the benchmark.

``LocalWeb`` is a threaded HTTP server whose routes are canned responses. It speaks enough
HTTP to exercise the pipeline for real: ETag/Last-Modified with 304, gzip, redirects, error
statuses with Retry-After, and slow or endless bodies. ``sample_site()`` builds the routes of
the repository's own sample outlets (``tests/fixtures/web/site.json``): an RSS, an Atom and an
RDF feed whose items link to article pages wrapped in navigation, a "most read" box, comments
and a footer, as real news sites are.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import html
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipeline.settings import REPO_ROOT

SAMPLE_SITE = REPO_ROOT / "tests" / "fixtures" / "web" / "site.json"


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


class LocalWeb:
    """``with LocalWeb(routes) as web: web.url('/feed.xml')``. Routes can be changed while it runs."""

    def __init__(
        self, routes: dict[str, Route] | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, headers) of every request
        self._lock = threading.Lock()
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

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

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> LocalWeb:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for p, _ in self.requests if p == path)

    @staticmethod
    def _serve(handler: BaseHTTPRequestHandler, route: Route) -> None:
        tag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
        modified = email.utils.format_datetime(datetime(2025, 10, 20, 12, 0, tzinfo=UTC), usegmt=True)
        headers = dict(route.headers)
        if route.etag and route.status == 200:
            headers.setdefault("ETag", tag)
            headers.setdefault("Last-Modified", modified)
            if handler.headers.get("If-None-Match") == tag or (
                "If-None-Match" not in handler.headers
                and handler.headers.get("If-Modified-Since") == modified
            ):
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


def _page(outlet: dict, article: dict, others: list[dict]) -> bytes:
    e = html.escape
    paragraphs = "\n".join(f"      <p>{e(p)}</p>" for p in article["paragraphs"])
    most_read = "\n".join(
        f'        <li><a href="/{outlet["slug"]}/{e(o["slug"])}.html">{e(o["title"])}</a></li>'
        for o in others[:5]
    )
    nav = " ".join(f'<a href="/{outlet["slug"]}/seccion/{s}">{s.title()}</a>' for s in outlet["sections"])
    comments = "\n".join(
        f'      <div class="comment"><b>{e(c[0])}</b><p>{e(c[1])}</p></div>'
        for c in article.get("comments", [])
    )
    return f"""<!DOCTYPE html>
<html lang="{outlet["language"]}">
<head>
  <meta charset="utf-8">
  <title>{e(article["title"])} | {e(outlet["name"])}</title>
  <meta property="og:title" content="{e(article["title"])}">
  <meta name="author" content="{e(article.get("author", ""))}">
  <meta property="article:published_time" content="{article["published"]}">
</head>
<body>
  <header class="site-header"><a href="/{outlet["slug"]}/">{e(outlet["name"])}</a>
    <nav class="menu">{nav}</nav>
    <div class="ticker">{e(outlet["ticker"])}</div>
  </header>
  <main>
    <article class="story">
      <h1>{e(article["title"])}</h1>
      <p class="byline">Por {e(article.get("author", outlet["name"]))} | {article["published"][:10]}</p>
{paragraphs}
    </article>
    <aside class="most-read">
      <h2>{e(outlet["most_read_label"])}</h2>
      <ol>
{most_read}
      </ol>
    </aside>
    <section class="comments" id="comments">
      <h3>Comentarios</h3>
{comments}
    </section>
  </main>
  <footer class="site-footer">
    <p>{e(outlet["footer"])}</p>
    <p><a href="/{outlet["slug"]}/privacidad">Política de privacidad</a> | <a href="/{outlet["slug"]}/contacto">Contacto</a></p>
  </footer>
</body>
</html>
""".encode()


def _rfc822(iso: str) -> str:
    return email.utils.format_datetime(datetime.fromisoformat(iso).astimezone(UTC), usegmt=True)


def _feed(outlet: dict, articles: list[dict], base: str) -> tuple[bytes, str]:
    e = html.escape
    kind = outlet["feed_format"]
    link = lambda a: f"{base}/{outlet['slug']}/{a['slug']}.html?utm_source=rss&utm_medium=feed"  # noqa: E731
    if kind == "atom":
        items = "".join(
            f"""  <entry>
    <title>{e(a["title"])}</title>
    <link rel="alternate" href="{e(link(a))}"/>
    <id>tag:{outlet["slug"]},2025:{a["slug"]}</id>
    <updated>{a["published"]}</updated>
    <author><name>{e(a.get("author", ""))}</name></author>
    <summary>{e(a["summary"])}</summary>
  </entry>
"""
            for a in articles
        )
        body = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{outlet["language"]}">
  <title>{e(outlet["name"])}</title>
  <id>{base}/{outlet["slug"]}/</id>
  <updated>{max(a["published"] for a in articles)}</updated>
{items}</feed>
"""
        return body.encode(), "application/atom+xml; charset=utf-8"
    if kind == "rdf":
        items = "".join(
            f"""  <item rdf:about="{e(link(a))}">
    <title>{e(a["title"])}</title>
    <link>{e(link(a))}</link>
    <description>{e(a["summary"])}</description>
    <dc:date>{a["published"]}</dc:date>
    <dc:creator>{e(a.get("author", ""))}</dc:creator>
  </item>
"""
            for a in articles
        )
        body = f"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="{base}/{outlet["slug"]}/">
    <title>{e(outlet["name"])}</title>
    <link>{base}/{outlet["slug"]}/</link>
    <description>{e(outlet["name"])}</description>
    <dc:language>{outlet["language"]}</dc:language>
  </channel>
{items}</rdf:RDF>
"""
        return body.encode(), "application/rdf+xml; charset=utf-8"
    items = "".join(
        f"""    <item>
      <title>{e(a["title"])}</title>
      <link>{e(link(a))}</link>
      <guid isPermaLink="false">{outlet["slug"]}-{a["slug"]}</guid>
      <pubDate>{_rfc822(a["published"])}</pubDate>
      <dc:creator>{e(a.get("author", ""))}</dc:creator>
      <description><![CDATA[<p>{e(a["summary"])}</p>]]></description>
    </item>
"""
        for a in articles
    )
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>{e(outlet["name"])}</title>
    <link>{base}/{outlet["slug"]}/</link>
    <description>{e(outlet["name"])}</description>
    <language>{outlet["language"]}</language>
{items}  </channel>
</rss>
"""
    return body.encode(), "application/rss+xml; charset=utf-8"


def sample_site(base: str, site_file: Path = SAMPLE_SITE, now: datetime | None = None) -> dict[str, Route]:
    """Routes for the sample outlets. Publication dates are shifted so the newest is ``now`` minus an hour."""
    site = json.loads(site_file.read_text(encoding="utf-8"))
    now = now or datetime.now(UTC)
    newest = max(datetime.fromisoformat(a["published"]) for o in site["outlets"] for a in o["articles"])
    shift = (now - timedelta(hours=1)) - newest
    routes: dict[str, Route] = {}
    for outlet in site["outlets"]:
        articles = [
            {**a, "published": (datetime.fromisoformat(a["published"]) + shift).isoformat(timespec="seconds")}
            for a in outlet["articles"]
        ]
        body, ctype = _feed(outlet, articles, base)
        routes[f"/{outlet['slug']}/feed.xml"] = Route(body=body, content_type=ctype)
        for a in articles:
            others = [o for o in articles if o is not a]
            routes[f"/{outlet['slug']}/{a['slug']}.html"] = Route(body=_page(outlet, a, others))
    return routes


def sample_feeds_toml(base: str, site_file: Path = SAMPLE_SITE) -> str:
    """A feeds.toml listing the sample outlets served at ``base``."""
    site = json.loads(site_file.read_text(encoding="utf-8"))
    return "".join(
        f'[[feed]]\nname = "{o["slug"]}"\nurl = "{base}/{o["slug"]}/feed.xml"\nlanguage = "{o["language"]}"\n\n'
        for o in site["outlets"]
    )
