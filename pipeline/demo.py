"""``python -m pipeline demo``: the sample outlets served on 127.0.0.1, for a cycle without the internet.

The outlets (``pipeline/data/sample_site.json``) are four small Peruvian news sites: an RSS, an Atom
and an RDF feed whose items link to article pages wrapped in navigation, a "most read" box,
comments and a footer, as real news sites are. ``SampleWeb`` serves them from a thread of the
calling process, with ETag and Last-Modified (and 304 to a conditional GET). The test suite serves
the same pages through its own server (``tests/localweb.py``), which adds redirects, errors and
slow bodies.
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

SAMPLE_SITE = Path(__file__).resolve().parent / "data" / "sample_site.json"
# What every sample page says it was last modified (its validator, with its ETag).
LAST_MODIFIED = email.utils.format_datetime(datetime(2025, 10, 20, 12, 0, tzinfo=UTC), usegmt=True)


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


def not_modified(handler: BaseHTTPRequestHandler, tag: str) -> bool:
    """Whether the request's validators match this page's (If-None-Match wins over If-Modified-Since)."""
    if "If-None-Match" in handler.headers:
        return handler.headers.get("If-None-Match") == tag
    return handler.headers.get("If-Modified-Since") == LAST_MODIFIED


class LoopbackHandler(BaseHTTPRequestHandler):
    """What the demo's and the tests' handlers share: HTTP/1.1 with kept-alive connections, quiet."""

    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes. With Nagle's algorithm the body waited for the
    # client's delayed ACK of the headers, 40 ms a response on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass


class LoopbackServer:
    """A threaded HTTP server on a loopback address, served while inside ``with``: the life cycle
    the demo's web, the tests' web (tests/localweb.py) and the report test's recording proxy share."""

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        # Stopping waits for the serving loop's next look at its stop flag: at the default half
        # second, every test's web and every Ctrl-C of the demo waited that long for nothing.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class SampleWeb(LoopbackServer):
    """``with SampleWeb() as web: web.url('/diario-sur/feed.xml')``: the sample outlets on 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1", now: datetime | None = None) -> None:
        web = self

        class Handler(LoopbackHandler):
            def do_GET(self) -> None:  # noqa: N802
                page = web.pages.get(self.path) or web.pages.get(self.path.split("?", 1)[0])
                if page is None:
                    self.send_response(404)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", "9")
                    self.end_headers()
                    self.wfile.write(b"not found")
                    return
                tag = etag(page.body)
                if not_modified(self, tag):
                    self.send_response(304)
                    self.send_header("ETag", tag)
                    self.send_header("Last-Modified", LAST_MODIFIED)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                self.send_header("ETag", tag)
                self.send_header("Last-Modified", LAST_MODIFIED)
                self.end_headers()
                self.wfile.write(page.body)

        super().__init__(host, 0, Handler)
        self.pages = sample_pages(self.base, now=now)


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


def sample_pages(base: str, site_file: Path = SAMPLE_SITE, now: datetime | None = None) -> dict[str, Page]:
    """Path → page of the sample outlets served at ``base``. Publication dates are shifted so the newest
    is ``now`` minus an hour."""
    site = json.loads(site_file.read_text(encoding="utf-8"))
    now = now or datetime.now(UTC)
    newest = max(datetime.fromisoformat(a["published"]) for o in site["outlets"] for a in o["articles"])
    shift = (now - timedelta(hours=1)) - newest
    pages: dict[str, Page] = {}
    for outlet in site["outlets"]:
        articles = [
            {**a, "published": (datetime.fromisoformat(a["published"]) + shift).isoformat(timespec="seconds")}
            for a in outlet["articles"]
        ]
        body, ctype = _feed(outlet, articles, base)
        pages[f"/{outlet['slug']}/feed.xml"] = Page(body, ctype)
        for a in articles:
            others = [o for o in articles if o is not a]
            pages[f"/{outlet['slug']}/{a['slug']}.html"] = Page(_page(outlet, a, others))
    return pages


def sample_feeds_toml(base: str, site_file: Path = SAMPLE_SITE) -> str:
    """A feeds.toml listing the sample outlets served at ``base``."""
    site = json.loads(site_file.read_text(encoding="utf-8"))
    return "".join(
        f'[[feed]]\nname = "{o["slug"]}"\nurl = "{base}/{o["slug"]}/feed.xml"\nlanguage = "{o["language"]}"\n\n'
        for o in site["outlets"]
    )
