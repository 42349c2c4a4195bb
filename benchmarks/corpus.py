"""The material ``make bench`` serves: real feeds whose links point at real article pages.

``../shared/corpus`` (beside the repository) holds 200 real feeds, 181 real article pages and
each page's reference text. Every absolute URL in a feed is rewritten to a local one on one of
the benchmark's loopback hosts (``/a/<n>``), the same original URL always to the same local URL,
so an article announced by two feeds is one article, as on the real web. The server answers any
path that is not a feed with a page: ``/a/<n>`` with page ``n`` modulo the number of pages, and
any other path (a relative link, resolved against its feed) with a page chosen by a hash of it.

Without ``../shared`` a corpus of the same shape is generated (``generated``): RSS feeds of
Spanish security news and pages of realistic size (scripts, styles, navigation, a most-read
box, comments, a footer around the article), with the article as reference text.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import random
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "corpus"

# Absolute URLs as they appear in feed XML (escaped or in CDATA); `]` ends a CDATA section.
_URL = re.compile(rb"""https?://[^\s"'<>\]\[\\`{}|^]+""")


@dataclass(frozen=True)
class Feed:
    name: str
    body: bytes


@dataclass(frozen=True)
class Page:
    name: str  # the ground truth's key
    body: bytes


@dataclass
class Corpus:
    source: str  # "shared" or "generated"
    feeds: list[Feed]
    pages: list[Page]
    truth: dict[str, str]  # page name -> reference article text

    def limit_feeds(self, count: int | None) -> Corpus:
        """A smaller corpus: ``count`` feeds spread over the whole list (their sizes vary a lot)."""
        if count is None or count >= len(self.feeds):
            return self
        step = len(self.feeds) / count
        chosen = [self.feeds[int(i * step)] for i in range(count)]
        return Corpus(self.source, chosen, self.pages, self.truth)


def load(directory: Path = SHARED) -> Corpus:
    """The shared corpus, or a generated one when the directory is absent."""
    feeds_dir, pages_dir = directory / "feeds", directory / "pages"
    if not feeds_dir.is_dir() or not pages_dir.is_dir():
        return generate()
    feeds = [Feed(p.name, p.read_bytes()) for p in sorted(feeds_dir.iterdir()) if p.is_file()]
    pages = [
        Page(p.name.removesuffix(".html.gz"), gzip.decompress(p.read_bytes()))
        for p in sorted(pages_dir.glob("*.html.gz"))
    ]
    raw = json.loads((directory / "pages-ground-truth.json").read_text(encoding="utf-8"))
    truth = {name: value.get("articleBody") or "" for name, value in raw.items()}
    return Corpus("shared", feeds, pages, truth)


# ---------------------------------------------------------------- serving: local URLs


@dataclass
class Served:
    """The corpus as served at ``hosts``: feed ``i`` at ``feed_urls[i]``, its links on the same host."""

    hosts: list[str]
    feed_urls: list[str]
    feed_bodies: list[bytes]
    pages: list[Page]
    links: dict[bytes, str] = field(default_factory=dict)  # original URL -> local URL


def serve(corpus: Corpus, hosts: list[str]) -> Served:
    """Rewrite every absolute URL of every feed to a local one (feed ``i`` on host ``i % len(hosts)``)."""
    served = Served(hosts, [], [], corpus.pages)
    for i, feed in enumerate(corpus.feeds):
        host = hosts[i % len(hosts)]

        def local(match: re.Match[bytes], host: str = host) -> bytes:
            original = match.group(0)
            url = served.links.get(original)
            if url is None:
                url = served.links[original] = f"{host}/a/{len(served.links)}"
            return url.encode()

        served.feed_bodies.append(_URL.sub(local, feed.body))
        served.feed_urls.append(f"{host}/f/{i}")
    return served


def page_index(path: str, pages: int) -> int:
    """Which page the server returns for a path (shared with the server, so the harness knows too)."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    if path.startswith("/a/") and path[3:].isdigit():
        return int(path[3:]) % pages
    return zlib.crc32(path.encode("utf-8", "surrogateescape")) % pages


def feeds_toml(served: Served) -> str:
    return "".join(
        f'[[feed]]\nname = "f{i:03d}"\nurl = "{url}"\n\n' for i, url in enumerate(served.feed_urls)
    )


# ---------------------------------------------------------------- a generated corpus

_VOCABULARY = (
    "policía fiscalía banda criminal extorsión sicariato transportistas paro distrito vecinos operativo "
    "detenidos comisaría juez prisión preventiva investigación denuncia víctima herido hospital ministro "
    "interior gobierno estado emergencia prórroga días región alcalde mercado empresa trabajadores mina "
    "minería ilegal Pataz Trujillo Lima Callao Piura Chiclayo Arequipa Cusco Puno Tumbes Huancayo "
    "Iquitos droga cocaína narcotráfico organización cabecilla capturan desarticulan armas municiones "
    "vehículo motocicleta disparos balacera asalto robo agencia bancaria cámaras seguridad patrullaje "
    "serenazgo Congreso ley penas reforma seguridad ciudadana encuesta lluvias carretera turismo feria"
)
_WORDS = _VOCABULARY.split()
_FILLER = "function(){var a=window.dataLayer||[];a.push({event:'pageview',ts:Date.now()});}"


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(9, 22))]
    return " ".join(words).capitalize() + "."


def _article(rng: random.Random) -> tuple[str, list[str]]:
    title = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 11))).capitalize()
    count = rng.randint(5, 10)
    paragraphs = [" ".join(_sentence(rng) for _ in range(rng.randint(3, 6))) for _ in range(count)]
    return title, paragraphs


def _page_html(rng: random.Random, title: str, paragraphs: list[str], outlet: str) -> bytes:
    e = html.escape
    nav = " ".join(f'<a href="/seccion/{w}">{e(w.title())}</a>' for w in rng.sample(_WORDS, 40))
    most_read = "".join(f'<li><a href="/nota/{i}">{e(_sentence(rng))}</a></li>' for i in range(8))
    comments = "".join(
        f'<div class="comment"><b>Lector {i}</b><p>{e(_sentence(rng))}</p></div>' for i in range(6)
    )
    body = "\n".join(f"<p>{e(p)}</p>" for p in paragraphs)
    script = "<script>" + ";".join(_FILLER for _ in range(rng.randint(300, 700))) + "</script>"
    rules = "".join(f".c{i}{{margin:{i}px;color:#{i:06x}}}" for i in range(rng.randint(600, 1400)))
    style = f"<style>{rules}</style>"
    return f"""<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8"><title>{e(title)} | {e(outlet)}</title>
<meta property="og:title" content="{e(title)}">{style}{script}</head>
<body><header><a href="/">{e(outlet)}</a><nav class="menu">{nav}</nav></header>
<main><article><h1>{e(title)}</h1>
{body}
</article><aside class="most-read"><h2>Lo más leído</h2><ol>{most_read}</ol></aside>
<section class="comments"><h3>Comentarios</h3>{comments}</section></main>
<footer><p>{e(outlet)} · Todos los derechos reservados</p></footer>{script}</body></html>""".encode()


def generate(feeds: int = 200, items: int = 30, pages: int = 181, seed: int = 7) -> Corpus:
    """A corpus of the shared one's shape: ``feeds`` RSS feeds of ``items`` items, ``pages`` pages."""
    rng = random.Random(seed)
    page_list, truth = [], {}
    for i in range(pages):
        title, paragraphs = _article(rng)
        name = hashlib.sha256(f"page-{seed}-{i}".encode()).hexdigest()[:16]
        page_list.append(Page(name, _page_html(rng, title, paragraphs, f"Diario {i % 17}")))
        truth[name] = "\n".join(paragraphs)
    newest = datetime(2025, 10, 20, 12, 0, tzinfo=UTC)
    feed_list = []
    for f in range(feeds):
        entries = []
        for n in range(items):
            title = _sentence(rng)[:-1]
            when = format_datetime(newest - timedelta(minutes=37 * (f + n * feeds)), usegmt=True)
            entries.append(
                f"<item><title>{html.escape(title)}</title>"
                f"<link>https://diario{f}.example/nota/{f}-{n}</link>"
                f'<guid isPermaLink="false">d{f}-{n}</guid><pubDate>{when}</pubDate>'
                f"<description>{html.escape(_sentence(rng))}</description></item>"
            )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Diario {f}</title><link>https://diario{f}.example/</link><language>es-PE</language>"
            + "".join(entries)
            + "</channel></rss>"
        ).encode()
        feed_list.append(Feed(f"generated-{f:03d}", body))
    return Corpus("generated", feed_list, page_list, truth)
