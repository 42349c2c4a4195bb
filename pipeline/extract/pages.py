"""Article page bytes → text and metadata, with trafilatura.

These functions run inside worker processes (see ``pipeline.workers``): trafilatura has no
size cap or time limit of its own and has been seen to take 25 s and 800 MB on one page, so
it runs where a time and memory limit can stop it without stopping the cycle.

Speed (measured on the shared corpus, ``make bench``): trafilatura's own metadata pass costs
about a third of an extraction (author search, categories, tags, licence, site name), and we keep
only a page's title, author and, when the feed has none, its date. So the text comes from
trafilatura with ``with_metadata=False`` and those three fields from the page's ``<head>``, its
JSON-LD and its ``<h1>``s, read with trafilatura's own metadata functions on a small document
built from just those parts.
"""

from __future__ import annotations

import codecs
import functools
import html as html_lib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from pipeline.extract.feeds import primary_language
from pipeline.records import FeedEntry

log = logging.getLogger(__name__)

# trafilatura options, shared with the benchmark's "limit" measurement so both do the same work.
# fast=True skips the fallback extractors (F1 0.959 vs 0.953 on the shared corpus, and faster);
# comments are not the article. Metadata is read apart (see page_metadata).
EXTRACT_OPTIONS: dict[str, Any] = {
    "fast": True,
    "include_comments": False,
    "include_tables": True,
}
# Extracted text shorter than this is a cookie wall or a video page, not an article.
MIN_TEXT_CHARS = 80

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([a-zA-Z0-9_.:-]+)""", re.I)

# What page_metadata reads: the head (up to where the body starts), JSON-LD blocks and <h1>s.
_HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.I)
_HEAD_SCAN = 512 * 1024  # a head longer than this is not read to its end
_JSON_LD = re.compile(r"""<script[^>]+application/ld\+json[^>]*>.*?</script\s*>""", re.I | re.S)
_H1 = re.compile(r"<h1[\s>].*?</h1\s*>", re.I | re.S)
_MAX_BLOCKS = 8  # JSON-LD blocks or <h1>s copied; more is not an article page's structure
_MAX_FIELD = 1_000


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    text: str
    title: str | None
    author: str | None
    date: str | None  # ISO date as found in the page
    language: str | None
    charset: str


@dataclass(frozen=True, slots=True)
class ArticleContent:
    """What an article row holds, merged from the page and the feed (the feed fills every gap)."""

    title: str
    text: str
    author: str | None
    published_at: datetime | None
    language: str | None


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
    meta_tag = _META_CHARSET.search(body[:8192])
    meta = _known_codec(meta_tag.group(1).decode("ascii", "ignore")) if meta_tag else None
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


@functools.cache
def _extractor() -> Any:
    """trafilatura's options object for EXTRACT_OPTIONS, built once per process.

    ``bare_extraction(**EXTRACT_OPTIONS)`` builds one on every call, reading its configuration
    file's values each time: about a millisecond a page.
    """
    from trafilatura.settings import Extractor

    return Extractor(
        output_format="python",
        fast=EXTRACT_OPTIONS["fast"],
        comments=EXTRACT_OPTIONS["include_comments"],
        tables=EXTRACT_OPTIONS["include_tables"],
    )


@functools.cache
def plain_element_lookup() -> None:
    """Have trafilatura's HTML parser give every element lxml's plain ``HtmlElement``, chosen in C.

    lxml.html's own lookup calls a Python method each time lxml wraps a node (about 1,750 times a
    page here) only to give ``<form>``, ``<input>``, ``<select>``, ``<textarea>`` and ``<label>``
    classes with form-handling properties, which trafilatura and htmldate never use. Measured on the
    181 shared corpus pages: 11.8 → 10.5 ms a page for ``extract_page``, identical output on all.
    Set once per process, on the parser object trafilatura parses every page with.
    """
    from lxml import etree
    from lxml import html as lxml_html

    try:
        from trafilatura.utils import HTML_PARSER
    except ImportError:  # a trafilatura that keeps its parser elsewhere: slower, the same text
        log.info("trafilatura.utils.HTML_PARSER is gone: pages parse with lxml.html's own lookup")
        return
    HTML_PARSER.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=lxml_html.HtmlElement,
            comment=lxml_html.HtmlComment,
            pi=lxml_html.HtmlProcessingInstruction,
            entity=lxml_html.HtmlEntity,
        )
    )


def extract_text(html: str, url: str | None = None) -> str:
    """The main text of a decoded page: ``bare_extraction(html, url=url, **EXTRACT_OPTIONS).text``."""
    import trafilatura  # imported here: worker processes pay for it, the DAG parser never does

    plain_element_lookup()
    options = _extractor()
    options.url = options.source = url  # per page; a worker extracts one page at a time
    doc = trafilatura.bare_extraction(html, options=options)
    return (getattr(doc, "text", None) or "").strip() if doc is not None else ""


def page_metadata(
    html: str, url: str | None = None, want_date: bool = True
) -> tuple[str | None, str | None, str | None]:
    """(title, author, date) as trafilatura's metadata pass finds them in the head, JSON-LD and <h1>s.

    The full pass also searches the whole body for bylines, categories, tags and a licence,
    which costs a third of an extraction for fields we do not keep.
    """
    from trafilatura import metadata
    from trafilatura.utils import load_html

    plain_element_lookup()
    end = _HEAD_END.search(html, 0, _HEAD_SCAN)
    head = html[: end.start()] if end else html[: 64 * 1024]
    blocks = _JSON_LD.findall(html)[:_MAX_BLOCKS]
    headings = _H1.findall(html)[: _MAX_BLOCKS + 1]  # one too many keeps "a single <h1>" decidable
    tree = load_html(f"{head}</head><body>{''.join(blocks)}{''.join(headings)}</body></html>")
    if tree is None:
        return None, None, None
    doc = metadata.examine_meta(tree)
    if doc.author and " " not in doc.author:
        doc.author = None  # trafilatura's rule: a one-word "author" is a site or a handle
    try:
        doc = metadata.extract_meta_json(tree, doc)
    except Exception as exc:  # trafilatura guards this call the same way (bugs in its JSON-LD code)
        log.debug("JSON-LD metadata of %s: %s", url, exc)
    title = doc.title or metadata.extract_title(tree)
    found_date = None
    if want_date:
        from htmldate import find_date

        today = datetime.now(UTC).strftime("%Y-%m-%d")
        found_date = find_date(tree, extensive_search=False, original_date=True, url=url, max_date=today)
    return _clean(title), _clean(doc.author), found_date


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    text = " ".join(html_lib.unescape(value).split())
    return text[:_MAX_FIELD] or None


def extract_page(
    body: bytes, url: str | None = None, content_type: str | None = None, want_date: bool = True
) -> ExtractedPage:
    """Extract the main text and metadata of a page. Raises whatever trafilatura raises.

    ``want_date=False`` skips looking for a date (the feed gave one, and the feed's wins).
    """
    html, charset = decode_html(body, content_type)
    text = extract_text(html, url)
    if not text:
        return ExtractedPage("", None, None, None, None, charset)
    title, author, found_date = page_metadata(html, url, want_date)
    return ExtractedPage(text, title, author, found_date, language=None, charset=charset)


def article_content(entry: FeedEntry, page: ExtractedPage | None) -> ArticleContent:
    """Merge what the page says (``None``: no usable page) with what the feed says."""
    if page is not None:
        text = page.text
        return ArticleContent(
            title=(page.title or "").strip() or entry.title,
            text=text,
            author=page.author or entry.author,
            # The feed's timestamp has the time of day; a page's date usually has only the day.
            published_at=entry.published_at or _page_date(page.date),
            language=primary_language(page.language) or entry.language or detect_language(text),
        )
    return ArticleContent(
        title=entry.title,
        text=entry.summary,
        author=entry.author,
        published_at=entry.published_at,
        language=entry.language or detect_language(f"{entry.title} {entry.summary}"),
    )


def usable(page: ExtractedPage) -> bool:
    """Whether a page's text is an article (else the feed's title and summary stand in for it)."""
    return len(page.text) >= MIN_TEXT_CHARS


def _page_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    when = datetime.combine(day, time(12, 0), tzinfo=UTC)  # midday: the day survives any time zone shift
    return when if when <= datetime.now(UTC) else None


_ES = frozenset(
    [
        "el",
        "la",
        "los",
        "las",
        "de",
        "del",
        "que",
        "y",
        "en",
        "un",
        "una",
        "por",
        "con",
        "para",
        "se",
        "su",
        "al",
        "es",
        "lo",
        "como",
        "más",
        "pero",
        "sus",
    ]
)
_EN = frozenset(
    [
        "the",
        "of",
        "and",
        "to",
        "in",
        "a",
        "is",
        "that",
        "for",
        "on",
        "with",
        "as",
        "was",
        "by",
        "at",
        "from",
        "his",
        "her",
        "it",
        "are",
        "be",
        "has",
        "have",
    ]
)
_WORD = re.compile(r"[a-záéíóúñü]+")


def detect_language(text: str) -> str | None:
    """'es' or 'en' by stop-word counts, or None when the text says too little."""
    words = _WORD.findall(text[:4000].lower())
    es = sum(w in _ES for w in words)
    en = sum(w in _EN for w in words)
    if es + en < 5:
        return None
    return "es" if es >= en else "en"
