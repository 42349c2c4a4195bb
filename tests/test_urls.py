"""Canonical URLs decide what counts as "the same article": two spellings, one key."""

import pytest

from pipeline.urls import article_key, canonical_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "HTTPS://RPP.pe:443/politica/nota?utm_source=tw&utm_medium=x#comentarios",
            "https://rpp.pe/politica/nota",
        ),
        ("https://rpp.pe/politica/nota?fbclid=IwAR0abc&id=7", "https://rpp.pe/politica/nota?id=7"),
        ("https://rpp.pe/a?b=2&a=1", "https://rpp.pe/a?a=1&b=2"),
        ("http://Example.PE:80", "http://example.pe/"),
        ("http://example.pe:8080/x", "http://example.pe:8080/x"),
        ("https://user:pw@example.pe/x", "https://example.pe/x"),
        ("https://elcomercio.pe/lima/a%c3%b1o/", "https://elcomercio.pe/lima/a%C3%B1o/"),
        ("https://elcomercio.pe/lima/año/", "https://elcomercio.pe/lima/a%C3%B1o/"),
        ("https://example.pe./x", "https://example.pe/x"),
        ("https://münchen.example/x", "https://xn--mnchen-3ya.example/x"),
        ("http://[::1]:80/x", "http://[::1]/x"),
    ],
)
def test_canonical_forms(given, expected):
    assert canonical_url(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "ftp://example.pe/x",
        "mailto:a@b.pe",
        "/relative",
        "http://:80/",
    ],
)
def test_only_absolute_http_urls_have_a_canonical_form(bad):
    assert canonical_url(bad) is None


def test_article_keys_are_deterministic_and_fall_back_without_a_link():
    url = canonical_url("https://rpp.pe/x?utm_campaign=y")
    assert article_key(url, "rpp", "g1", "T", "S") == article_key("https://rpp.pe/x", "other", None, "", "")
    assert article_key(None, "rpp", "g1", "T", "S") == article_key(None, "rpp", "g1", "T", "other text")
    assert article_key(None, "rpp", "g1", "T", "S") != article_key(None, "rpp", "g1", "T2", "S")
    assert article_key(None, "rpp", None, "T", "S") == article_key(None, "rpp", None, "T", "S")
    assert article_key(None, "rpp", None, "T", "S") != article_key(None, "rpp", None, "T2", "S")
    assert len(article_key(url, "rpp", None, "", "")) == 20
