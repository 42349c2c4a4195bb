"""Every entry keeps its page: the stored URL is the entry's own link as a feed reader resolves it.

The alternate link first (made absolute against ``xml:base`` and the feed's address), then a guid
or id that is a page's address; an id that is not a URL (``tag:``, ``urn:uuid:``, ``yt:video:``,
"nota-4") is kept as the guid and never hides the link. One fixture per form in
``tests/fixtures/feeds/``, and every entry of the real corpus in ``../shared/corpus``.
"""

from __future__ import annotations

import io
import warnings
from datetime import UTC, datetime
from urllib.parse import urljoin

import feedparser
import pytest

from pipeline.errors import ContentError
from pipeline.extract.feeds import parse_feed
from pipeline.urls import canonical_url
from tests.conftest import REPO
from tests.test_feeds import unbuffered

FIXTURES = REPO / "tests" / "fixtures" / "feeds"
CORPUS = REPO.parent / "shared" / "corpus"
NOW = datetime(2025, 10, 21, tzinfo=UTC)

# fixture → (the feed's address, [(stored URL, guid) of each entry, in order])
EXPECTED: dict[str, tuple[str, list[tuple[str | None, str | None]]]] = {
    "atom_tag_ids.xml": (
        "https://cronica.example/feeds/posts/default",
        [
            (
                "https://cronica.example/2025/10/extorsionadores.html",
                "tag:blogger.com,1999:blog-4711.post-1001",
            ),
            ("https://cronica.example/2025/10/sicarios.html", "tag:cronica.example,2025:sicarios"),
            ("https://cronica.example/2025/10/penal.html", "tag:cronica.example,2025:penal"),
        ],
    ),
    "atom_urn_ids.xml": (
        "https://boletin.example/atom.xml",
        [
            ("https://boletin.example/notas/emergencia", "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"),
            (None, "urn:uuid:2225c695-cfb8-4ebb-aaaa-80da344efa6b"),
            ("https://boletin.example/notas/operativo", "https://boletin.example/notas/operativo"),
        ],
    ),
    "youtube.xml": (
        "https://www.youtube.com/feeds/videos.xml?channel_id=UC0000000000000000000000",
        [("https://www.youtube.com/watch?v=AbCdEfGhIjK", "yt:video:AbCdEfGhIjK")],
    ),
    "rdf_about.xml": (
        "https://agencia.example/rss.rdf",
        [
            ("https://agencia.example/n/1?ref=rss", "https://agencia.example/n/1"),
            ("https://agencia.example/n/2", "https://agencia.example/n/2"),
        ],
    ),
    "rss_guids.xml": (
        "https://diario.example/feed/",
        [
            ("https://diario.example/nota/1", "https://diario.example/nota/1"),
            ("https://diario.example/nota/2", "https://diario.example/nota/2"),
            ("https://diario.example/?p=3", "https://diario.example/?p=3"),
            ("https://diario.example/nota/4", "nota-4"),
            ("https://diario.example/nota/5", "nota-5"),
            (None, "nota-6"),
            ("https://diario.example/nota/7", "d1e2f3"),
        ],
    ),
    "relative_links.xml": (
        "https://revista.example/feed.atom",
        [
            ("https://revista.example/blog/2025/10/uno.html", "tag:revista.example,2025:1"),
            ("https://revista.example/archivo/dos.html", "tag:revista.example,2025:2"),
            ("https://otra.example/notas/tres.html", "tag:revista.example,2025:3"),
        ],
    ),
    "rss_relative.xml": (
        "https://portal.example/rss/portada.xml",
        [
            ("https://portal.example/policiales/nota-1.html", "p-1"),
            ("https://portal.example/rss/nota-2.html", None),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_form_of_entry_keeps_its_page(name):
    url, expected = EXPECTED[name]
    parsed = parse_feed((FIXTURES / name).read_bytes(), feed="f", url=url, now=NOW)
    assert [(e.url, e.guid) for e in parsed.entries] == expected


def test_every_fixture_is_checked():
    assert sorted(p.name for p in FIXTURES.glob("*.xml")) == sorted(EXPECTED)


def test_entries_with_a_page_are_keyed_by_it_and_those_without_by_their_guid():
    url, _ = EXPECTED["atom_urn_ids.xml"]
    first, no_link, _ = parse_feed((FIXTURES / "atom_urn_ids.xml").read_bytes(), feed="f", url=url).entries
    again = parse_feed(
        (FIXTURES / "atom_urn_ids.xml").read_bytes().replace(b"Sin enlace", b"Otro titulo"), feed="f", url=url
    ).entries
    assert first.article_id == again[0].article_id  # the page's address, not the title
    assert no_link.url is None and no_link.guid and no_link.article_id != again[1].article_id


# ---------------------------------------------------------------- the real corpus


def reader_pages(entries: list) -> list[str | None]:
    """What a plain feedparser-based reader takes as each entry's page: feedparser's ``link`` (its
    default options) made absolute against the feed's address, unless it is only a guid that is not
    a URL ("nota-6", which feedparser copies into ``link``)."""
    pages: list[str | None] = []
    for entry in entries:
        link = (entry.get("link") or "").strip()
        guid = (entry.get("id") or "").strip()
        if not link or (link == guid and not link.lower().startswith(("http://", "https://"))):
            pages.append(None)
            continue
        pages.append(canonical_url(urljoin(CORPUS_FEED_URL, link)))
    return pages


CORPUS_FEED_URL = "https://example.org/news/feed"


@pytest.mark.corpus
def test_every_entry_of_the_real_corpus_is_read_as_feedparser_reads_it_and_keeps_its_page(monkeypatch):
    """Each file of the real corpus, parsed once each way (feedparser alone, ours, ours with Python's
    stock expat reader): as many entries as feedparser finds, the same entries with the buffered
    reader as without it, every linked entry stored with the page a plain feedparser reader finds
    (none is lost), and an id that is not a URL kept as the guid."""
    if not CORPUS.exists():
        pytest.skip(f"the shared corpus is not at {CORPUS}: the real feeds are not checked")
    files = sorted(
        p for kind in ("feeds", "feedparser-cases") for p in (CORPUS / kind).rglob("*") if p.is_file()
    )
    entries = linked = opaque_ids = refused = 0
    lost: list[tuple[str, str]] = []
    for path in files:
        body = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Without rewriting the entries' HTML (two thirds of feedparser's time here): those options
            # touch only content, never which entries there are or their ids and links.
            plain = feedparser.parse(
                io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False
            ).entries
        try:
            parsed = parse_feed(body, feed="f", url=CORPUS_FEED_URL, now=NOW)
        except ContentError as exc:
            # Only a body feedparser finds no entry in is refused, and the stock reader refuses it alike.
            assert exc.outcome == "not_a_feed" and not plain, path
            with pytest.raises(ContentError) as again:
                unbuffered(monkeypatch, body, feed="f", url=CORPUS_FEED_URL, now=NOW)
            assert again.value.outcome == exc.outcome, path
            refused += 1
            continue
        assert parsed == unbuffered(monkeypatch, body, feed="f", url=CORPUS_FEED_URL, now=NOW), path
        ours = parsed.entries
        assert len(ours) == len(plain), path
        for entry, raw, page in zip(ours, plain, reader_pages(plain), strict=True):
            entries += 1
            guid = (raw.get("id") or "").strip()
            if guid and not guid.lower().startswith(("http://", "https://")):
                assert entry.guid == guid[:1000], path
                opaque_ids += 1
            if page is None:
                continue
            linked += 1
            if entry.url != page:
                lost.append((str(path.relative_to(CORPUS)), page))
    assert len(files) > 200 and refused < len(files) // 10
    assert entries > 6000 and linked > 5000 and opaque_ids > 300
    assert not lost, f"{len(lost)} of {linked} linked entries stored without their page: {lost[:5]}"
