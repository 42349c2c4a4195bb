"""Article page bytes → text and metadata, with trafilatura.

These functions run inside worker processes (see ``pipeline.workers``): trafilatura has no
size cap or time limit of its own and has been seen to take 25 s and 800 MB on one page, so
it runs where a time and memory limit can stop it without stopping the cycle.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

# trafilatura options, shared with the benchmark's "limit" measurement so both do the same work.
# fast=True skips the fallback extractors (F1 0.959 vs 0.953 on the shared corpus, and faster);
# comments are not the article.
EXTRACT_OPTIONS: dict[str, object] = {
    "fast": True,
    "include_comments": False,
    "include_tables": True,
    "with_metadata": True,
    "date_extraction_params": {"extensive_search": False, "original_date": True},
}

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([a-zA-Z0-9_.:-]+)""", re.I)


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    text: str
    title: str | None
    author: str | None
    date: str | None  # ISO date as found in the page
    language: str | None
    charset: str


def _known_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("'\"")).name
    except LookupError:
        return None
    # Browsers read pages labelled latin-1/ascii as windows-1252; so do we.
    return "cp1252" if codec in ("latin_1", "iso8859-1", "ascii") else codec


def detect_charset(body: bytes, content_type: str | None) -> str:
    """The page's charset: BOM, then the HTTP header, then ``<meta>``, then UTF-8 if it decodes.

    A declared charset that cannot decode the bytes is passed over (servers often say utf-8 for
    windows-1252 pages), so the next clue gets its say.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    declared = []
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        declared.append(_known_codec(match.group(1)) if match else None)
    match = _META_CHARSET.search(body[:8192])
    meta = _known_codec(match.group(1).decode("ascii", "ignore")) if match else None
    # A page in UTF-16 would not have an ASCII-readable meta tag: such a tag is wrong.
    declared.append("utf-8" if meta and meta.replace("_", "-").startswith("utf-16") else meta)
    for codec in filter(None, declared):
        try:
            body.decode(codec)
        except UnicodeDecodeError:
            continue
        return codec
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode page bytes with the right charset (trafilatura ignores ``<meta charset>`` on bytes)."""
    charset = detect_charset(body, content_type)
    text = body.decode(charset, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    # NUL characters crash lxml ("XMLSyntaxError") and never belong in HTML text.
    return text.replace("\x00", ""), charset


def extract_page(body: bytes, url: str | None = None, content_type: str | None = None) -> ExtractedPage:
    """Extract the main text and metadata of a page. Raises whatever trafilatura raises."""
    import trafilatura  # imported here: worker processes pay for it, the DAG parser never does

    html, charset = decode_html(body, content_type)
    doc = trafilatura.bare_extraction(html, url=url, **EXTRACT_OPTIONS)
    if doc is None:
        return ExtractedPage("", None, None, None, None, charset)
    text = (getattr(doc, "text", None) or "").strip()
    return ExtractedPage(
        text=text,
        title=(getattr(doc, "title", None) or None),
        author=(getattr(doc, "author", None) or None),
        date=(getattr(doc, "date", None) or None),
        language=(getattr(doc, "language", None) or None),
        charset=charset,
    )


_ES = frozenset("el la los las de del que y en un una por con para se su al es lo como más pero sus".split())
_EN = frozenset("the of and to in a is that for on with as was by at from his her it are be has have".split())
_WORD = re.compile(r"[a-záéíóúñü]+")


def detect_language(text: str) -> str | None:
    """'es' or 'en' by stop-word counts, or None when the text says too little."""
    words = _WORD.findall(text[:4000].lower())
    es = sum(w in _ES for w in words)
    en = sum(w in _EN for w in words)
    if es + en < 5:
        return None
    return "es" if es >= en else "en"
