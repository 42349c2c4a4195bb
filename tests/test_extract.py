"""Page bytes → article text: charset decoding, and the body without the page's furniture."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pipeline.extract.pages import (
    decode_html,
    detect_charset,
    detect_language,
    extract_page,
    plain_element_lookup,
)
from tests.localweb import SAMPLE_SITE, sample_site

SHARED_PAGES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "pages"

PAGE = (
    "<html><head>{meta}<title>Año</title></head><body><p>Señor Ñandú camina por la acera.</p></body></html>"
)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (PAGE.format(meta="").encode("utf-8"), "text/html; charset=utf-8", "utf-8"),
        (PAGE.format(meta="").encode("cp1252"), "text/html; charset=ISO-8859-1", "cp1252"),
        (PAGE.format(meta='<meta charset="windows-1252">').encode("cp1252"), "text/html", "cp1252"),
        (
            PAGE.format(
                meta='<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
            ).encode("latin-1"),
            None,
            "cp1252",
        ),
        (b"\xef\xbb\xbf" + PAGE.format(meta="").encode("utf-8"), "text/html; charset=iso-8859-1", "utf-8"),
        (PAGE.format(meta="").encode("utf-16"), None, "utf-16-le"),
        (PAGE.format(meta="").encode("cp1252"), None, "cp1252"),  # undeclared and not UTF-8
        (PAGE.format(meta="").encode("utf-8"), "text/html; charset=bogus", "utf-8"),
    ],
)
def test_charset_from_bom_header_meta_or_content(body, content_type, expected):
    assert detect_charset(body, content_type) == expected
    text, _ = decode_html(body, content_type)
    assert "Señor Ñandú" in text


def test_nul_characters_are_removed():
    text, _ = decode_html(b"<p>a\x00b</p>", None)
    assert text == "<p>ab</p>"


def test_sample_pages_keep_the_article_and_drop_navigation_most_read_comments_and_footer():
    site = json.loads(SAMPLE_SITE.read_text(encoding="utf-8"))
    routes = sample_site("http://127.0.0.1:1")
    for outlet in site["outlets"]:
        for article in outlet["articles"]:
            page = extract_page(routes[f"/{outlet['slug']}/{article['slug']}.html"].body)
            for paragraph in article["paragraphs"]:
                assert paragraph in page.text
            others = [a["title"] for a in outlet["articles"] if a is not article]
            assert not any(title in page.text for title in others), "most-read box leaked"
            assert outlet["footer"] not in page.text
            assert outlet["ticker"] not in page.text
            assert all(c[1] not in page.text for c in article.get("comments", []))
            assert page.title == article["title"]


def test_language_detection():
    assert detect_language("La policía detuvo a los extorsionadores de la banda en el distrito") == "es"
    assert detect_language("The police arrested the gang members in the district of the capital") == "en"
    assert detect_language("Lima 2025") is None


FORM_PAGE = b"""<html><head><title>Paro de transportistas en Lima</title>
<meta name="author" content="Rosa Quispe"></head><body>
<form action="/buscar"><label for="q">Buscar</label><input id="q" name="q" value="extorsi\xc3\xb3n">
<select name="s"><option>Lima</option></select><textarea name="t">Comente</textarea></form>
<article><h1>Paro de transportistas en Lima</h1>
<p>Los transportistas de Lima y Callao anunciaron un paro contra la extorsi\xc3\xb3n y el sicariato
que sufren las empresas de buses desde hace meses, seg\xc3\xban sus gremios.</p>
<p>La polic\xc3\xada desplegar\xc3\xa1 patrullajes en los paraderos m\xc3\xa1s afectados del norte de la ciudad.</p>
<form><input type="submit" value="Suscribirse"></form></article></body></html>"""


def _stock_and_plain(bodies: list[bytes]) -> tuple[list, list]:
    """Every page extracted with lxml.html's own element lookup, then with the plain one."""
    from lxml import html as lxml_html
    from trafilatura.utils import HTML_PARSER

    plain_element_lookup()
    HTML_PARSER.set_element_class_lookup(lxml_html.HtmlElementClassLookup())
    try:
        stock = [extract_page(body, "https://diario.example/a") for body in bodies]
    finally:
        plain_element_lookup.cache_clear()
        plain_element_lookup()
    return stock, [extract_page(body, "https://diario.example/a") for body in bodies]


def test_plain_element_lookup_gives_the_same_extraction():
    site = json.loads(SAMPLE_SITE.read_text(encoding="utf-8"))
    routes = sample_site("http://127.0.0.1:1")
    bodies = [FORM_PAGE] + [
        routes[f"/{outlet['slug']}/{article['slug']}.html"].body
        for outlet in site["outlets"]
        for article in outlet["articles"]
    ]
    stock, plain = _stock_and_plain(bodies)
    assert plain == stock
    assert "paro contra la extorsión" in plain[0].text
    assert plain[0].author == "Rosa Quispe"


@pytest.mark.corpus
@pytest.mark.skipif(not SHARED_PAGES.exists(), reason="../shared/corpus is not present")
def test_plain_element_lookup_gives_the_same_extraction_on_every_corpus_page():
    bodies = [gzip.decompress(path.read_bytes()) for path in sorted(SHARED_PAGES.glob("*.html.gz"))]
    stock, plain = _stock_and_plain(bodies)
    assert len(plain) > 100
    assert plain == stock
