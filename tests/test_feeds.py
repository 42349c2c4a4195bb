"""Feed bytes → entries: formats, hostile and broken feeds, keys and dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.errors import ContentError
from pipeline.extract.feeds import html_to_text, parse_feed

NOW = datetime(2025, 10, 20, 12, 0, tzinfo=UTC)


def rss(items: str, extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>{extra}
<rss version="2.0"><channel><title>T</title><link>https://diario.example/</link><language>es-PE</language>
{items}</channel></rss>""".encode()


def parse(body: bytes, **kw):
    kw.setdefault("feed", "diario")
    kw.setdefault("url", "https://diario.example/rss")
    kw.setdefault("now", NOW)
    return parse_feed(body, **kw)


def test_rss_items_become_entries_with_canonical_urls():
    body = rss("""
<item><title>Extorsión &amp; cupos</title><link>https://Diario.example/a?utm_source=rss#x</link>
 <guid>a1</guid><pubDate>Mon, 20 Oct 2025 07:30:00 -0500</pubDate>
 <description>&lt;p&gt;Un &lt;b&gt;bus&lt;/b&gt; atacado&lt;/p&gt;</description><author>Ana</author></item>
<item><title>Relativo</title><link>/b</link><guid>b1</guid></item>""")
    parsed = parse(body)
    first, second = parsed.entries
    assert parsed.version == "rss20" and parsed.language == "es"
    assert first.url == "https://diario.example/a" and first.title == "Extorsión & cupos"
    assert first.summary == "Un bus atacado"
    assert first.published_at == datetime(2025, 10, 20, 12, 30, tzinfo=UTC)
    assert first.language == "es"
    assert second.url == "https://diario.example/b"  # relative links resolve against the feed URL


def test_atom_and_rdf():
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
<entry><title>Uno</title><link href="https://a.example/1"/><id>tag:a,1</id><updated>2025-10-19T10:00:00Z</updated></entry></feed>"""
    rdf = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://r.example/"><title>R</title></channel>
<item rdf:about="https://r.example/1"><title>Uno</title><link>https://r.example/1</link></item></rdf:RDF>"""
    assert [e.url for e in parse(atom).entries] == ["https://a.example/1"]
    assert [e.url for e in parse(rdf).entries] == ["https://r.example/1"]


@pytest.mark.parametrize("content_type", [None, "text/html; charset=utf-8", "application/rss+xml"])
def test_an_html_page_is_not_a_feed_whatever_its_content_type(content_type):
    page = b"<!DOCTYPE html><html><head><title>Inicio</title></head><body><p>Hola</p></body></html>"
    with pytest.raises(ContentError) as err:
        parse(page, content_type=content_type)
    assert err.value.outcome == "not_a_feed"


def test_a_bozo_feed_keeps_its_good_entries():
    body = rss(
        "<item><title>Uno&nbsp;dos</title><link>https://d.example/1</link></item>"
        "<item><title>Tres</title><link>https://d.example/2</link></item>"
    )
    parsed = parse(body)
    assert len(parsed.entries) == 2 and parsed.bozo


def test_items_without_guid_or_link_get_deterministic_keys():
    body = rss(
        "<item><title>Sin enlace</title><description>Texto</description></item>"
        "<item><title>Solo guid</title><guid>g-7</guid></item>"
        "<item><title>Mal enlace</title><link>javascript:alert(1)</link></item>"
    )
    first = parse(body).entries
    again = parse(body).entries
    assert [e.article_id for e in first] == [e.article_id for e in again]
    assert len({e.article_id for e in first}) == 3
    assert all(e.url is None for e in first)


def test_duplicate_guids_and_links_keep_every_entry_with_one_key():
    body = rss(
        "<item><title>A</title><link>https://d.example/1</link><guid>same</guid></item>"
        "<item><title>A</title><link>https://d.example/1?utm_medium=x</link><guid>same</guid></item>"
    )
    entries = parse(body).entries
    assert len(entries) == 2  # as many as feedparser finds; the cycle stores the key once
    assert entries[0].article_id == entries[1].article_id


@pytest.mark.parametrize(
    "date",
    [
        "Mon, 30 Feb 2025 10:00:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Sat, 01 Jan 2030 00:00:00 GMT",
        "not a date",
        "Thu, 01 Jan 1970 00:00:00 GMT",
    ],
)
def test_impossible_future_or_absurd_dates_are_dropped(date):
    body = rss(f"<item><title>X</title><link>https://d.example/x</link><pubDate>{date}</pubDate></item>")
    (entry,) = parse(body).entries
    assert entry.published_at is None


def _laughs(separator: str = " ", depth: int = 10, quote: str = '"') -> str:
    laughs = "".join(f"<!ENTITY l{i} {quote}{'&l%d;' % (i - 1) * 10}{quote}>" for i in range(1, depth))
    return f"""<?xml version="1.0"?>{separator}<!DOCTYPE rss [<!ENTITY l0 "ha">{laughs}]>
<rss version="2.0"><channel><title>&l{depth - 1};</title><item><title>x &l{depth - 1};</title></item></channel></rss>"""


@pytest.mark.parametrize(
    "body",
    [
        _laughs().encode(),  # the DOCTYPE not at a line start: slips past feedparser's own stripping
        _laughs("\n").encode(),
        _laughs("\n", depth=4, quote="'").encode(),  # shallow, single quotes: still nested
        _laughs("\n").replace('version="1.0"', 'version="1.0" encoding="utf-16"').encode("utf-16"),
        _laughs("\n").replace('version="1.0"', 'version="1.0" encoding="utf-16"').encode("utf-16-be"),
        # parameter entities built of each other
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY % a "xx"><!ENTITY % b "%a;%a;%a;">]>'
        b'<rss version="2.0"><channel><title>t</title></channel></rss>',
        # quadratic blow-up: one 50 KB entity referenced 5,000 times, nothing nested
        (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "{"A" * 50_000}">]><rss version="2.0"><channel>'
            f"<title>t</title><item><title>{'&a;' * 5_000}</title></item></channel></rss>"
        ).encode(),
    ],
)
def test_entity_expansion_attacks_are_parse_errors(body):
    with pytest.raises(ContentError) as caught:
        parse(body)
    assert caught.value.outcome == "parse_error" and "entity" in str(caught.value)


def test_external_entities_are_harmless_and_a_plain_entity_is_fine():
    xxe = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&x;</title><item><title>a &x;</title><link>https://d.example/1</link></item></channel></rss>"""
    parsed = parse(xxe)
    assert "root:" not in parsed.title and all("root:" not in e.title for e in parsed.entries)
    # An entity made of character references is how some feeds spell &nbsp;: not an attack.
    nbsp = b"""<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY nbsp "&#160;">]>
<rss version="2.0"><channel><title>t</title><item><title>a&nbsp;b</title><link>https://d.example/1</link></item></channel></rss>"""
    assert len(parse(nbsp).entries) == 1


def test_html_to_text_strips_scripts_tags_and_controls():
    assert html_to_text("<script>alert(1)</script><p>Hola&nbsp;<b>mundo</b>\x07</p>") == "Hola mundo"


def unbuffered(monkeypatch, body: bytes, **kw):
    """The same parse with Python's stock expat reader (ours taken off feedparser's list)."""
    import feedparser.api

    monkeypatch.setattr(feedparser.api, "PREFERRED_XML_PARSERS", ["drv_libxml2"])
    try:
        return parse(body, **kw)
    finally:
        monkeypatch.undo()


def test_feedparser_reads_through_the_buffered_reader_and_gets_the_same_entries(monkeypatch):
    import pipeline.extract.feeds

    made = []
    original = pipeline.extract.feeds.create_parser
    monkeypatch.setattr(pipeline.extract.feeds, "create_parser", lambda: made.append(1) or original())
    # Escaped HTML full of entity and character references: expat's many small text pieces.
    html = (
        "&lt;p&gt;Extorsi&amp;oacute;n &amp;amp; sicariato en &lt;b&gt;Trujillo&lt;/b&gt;&#8230;&lt;/p&gt;"
        * 40
    )
    items = "".join(
        f"<item><title>Nota {i} &amp; m&#225;s</title><link>https://diario.example/n/{i}</link>"
        f"<description>{html}</description><pubDate>Mon, 20 Oct 2025 0{i}:00:00 -0500</pubDate></item>"
        for i in range(5)
    )
    body = rss(items)
    buffered = parse(body)
    assert made, "feedparser did not use the buffered reader"
    assert buffered == unbuffered(monkeypatch, body)
    assert buffered.entries[0].title == "Nota 0 & más"
    assert buffered.entries[0].summary.startswith("Extorsión & sicariato en Trujillo …")
