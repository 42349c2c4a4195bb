"""Whatever a site sends ends as that feed's or page's recorded outcome: property-based tests
(Hypothesis) over URLs, redirect targets, headers and bodies, and a fuzz run of the feed and page
parsers on mutated real files (``../shared/corpus``, when present) and on the repository's own
sample site (always). Every test is bounded by its number of examples, never by the clock.

"Ends as an outcome" means: the function returns, or raises a FetchError whose ``outcome`` is one
of ``OUTCOMES``. Anything else (a ValueError from a port, a UnicodeError from a host) is exactly
the kind of exception that once stopped every cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import ipaddress
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pipeline.collect import batch as cycle
from pipeline.collect import polling
from pipeline.collect.net import (
    RETRY_AFTER_CAP,
    Fetcher,
    _redirect_target,
    host_key,
    parse_retry_after,
    request_url,
)
from pipeline.errors import OUTCOMES, ContentError, FetchError
from pipeline.extract.decoding import decode_body
from pipeline.extract.feeds import parse_feed
from pipeline.extract.workers import WorkerPool, _extract
from pipeline.records import Feed, FeedState
from pipeline.settings import Settings
from pipeline.urls import BadURL, absolute_url, article_key, canonical_url, parse_http_url
from tests.localweb import LocalWeb, Route, sample_site

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def sized(share: float, *more_checks: HealthCheck) -> hsettings:
    """``share`` of the profile's examples (tests/conftest.py: ``ci`` by default, ``deep`` for ten
    times as many): the cheap properties take them all, the ones through a server or a worker fewer."""
    return hsettings(
        max_examples=max(5, round(hsettings.default.max_examples * share)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, *more_checks],
    )


FAST = sized(1)
SLOW = sized(0.15, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large)


def assert_outcome(exc: BaseException) -> None:
    assert isinstance(exc, FetchError), f"{type(exc).__name__}: {exc}"
    assert exc.outcome in OUTCOMES


# ---------------------------------------------------------------- strategies: what sites send

hosts = st.one_of(
    st.sampled_from(
        [
            "rpp.pe",
            "RPP.PE.",
            "elcomercio.pe",
            "127.0.0.1",
            "[::1]",
            "[fe80::1%25eth0]",
            "[::ffff:10.0.0.1]",
            "0177.0.0.1",
            "0x7f.1",
            "2130706433",
            "xn--zz",
            "xn--bcher-kva.example",
            "bücher.example",
            "a..b",
            "exa mple.pe",
            "",
            "[::1",
            "[zz]",
            "a" * 70 + ".pe",
            "user:pass@rpp.pe",
            "@",
            "%00",
        ]
    ),
    st.text(min_size=0, max_size=30),
)
ports = st.one_of(
    st.just(""),
    st.integers(min_value=-100_000, max_value=100_000).map(lambda p: f":{p}"),
    st.sampled_from([":", ":8o", ":0", ":65535", ":65536", ":99999", ":-1", ": 80", ":٣"]),
)
paths = st.one_of(
    st.text(max_size=40).map(lambda t: "/" + t),
    st.sampled_from(["", "/", "/a b", "/%zz", "/%2F%2f", "/ñandú", "/../../etc/passwd", "/\r\nX: y"]),
)
queries = st.one_of(
    st.just(""),
    st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=4).map(
        lambda kv: "?" + "&".join(f"{k}={v}" for k, v in kv)
    ),
    st.sampled_from(["?utm_source=x&b=2&a=1", "?fbclid=1#frag", "?a=%20+b", "?=&&="]),
)
schemes = st.sampled_from(["http", "https", "HTTP", "HtTpS", "ftp", "javascript", "file", "data", ""])
urls = st.one_of(
    st.builds(lambda s, h, p, pa, q: f"{s}://{h}{p}{pa}{q}", schemes, hosts, ports, paths, queries),
    st.text(max_size=80),
)


# ---------------------------------------------------------------- URL canonicalisation


@FAST
@given(urls)
def test_canonical_urls_never_raise_and_are_stable(url):
    canonical = canonical_url(url)
    if canonical is not None:
        assert canonical.startswith(("http://", "https://"))
        assert canonical_url(canonical) == canonical
        key = article_key(canonical, "feed", None, "t", "s")
        assert len(key) == 20
    with contextlib.suppress(BadURL):
        parse_http_url(url)


@FAST
@given(urls, st.one_of(urls, st.text(max_size=40)))
def test_links_resolve_or_are_dropped_never_raise(base, link):
    joined = absolute_url(base, link)
    assert joined is None or isinstance(joined, str)
    if joined is not None:
        canonical_url(joined)


# ---------------------------------------------------------------- redirect targets


@FAST
@given(st.one_of(urls, st.text(max_size=60), paths))
def test_a_redirect_target_is_a_url_or_a_recorded_outcome(location):
    current = "http://127.0.0.1:8080/feed.xml"
    try:
        target = _redirect_target(current, location, 302)
    except Exception as exc:  # noqa: BLE001 - the point: only FetchErrors may come out
        assert_outcome(exc)
        assert exc.outcome in ("blocked", "redirect_error")
        return
    request_url(target)  # what was accepted can be requested
    host_key(target)


@FAST
@given(urls)
def test_host_key_is_total(url):
    assert isinstance(host_key(url), str)


# ---------------------------------------------------------------- headers: Retry-After


def _date_forms(moment: datetime) -> list[str]:
    utc = moment.astimezone(UTC)
    return [
        email.utils.format_datetime(utc, usegmt=True),  # IMF-fixdate
        utc.strftime("%A, %d-%b-%y %H:%M:%S GMT"),  # RFC 850
        utc.strftime("%a %b %d %H:%M:%S %Y"),  # asctime
        moment.isoformat(),  # ISO 8601, any offset
        email.utils.format_datetime(moment),  # numeric offset
    ]


@FAST
@given(
    st.one_of(
        st.text(max_size=40),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.datetimes(
            min_value=datetime(1, 1, 2),
            max_value=datetime(9999, 12, 30),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]),
        ).flatmap(lambda d: st.sampled_from(_date_forms(d))),
    )
)
def test_retry_after_is_ignored_or_within_the_cap(value):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    when = parse_retry_after(value, now)
    assert when is None or now <= when <= now + RETRY_AFTER_CAP


@FAST
@given(st.one_of(st.none(), st.text(max_size=600)))
def test_validators_kept_are_sendable(value):
    kept = polling.validator(value)
    if kept is not None:
        kept.encode("ascii")
        assert "\r" not in kept and "\n" not in kept and len(kept) <= 512


# ---------------------------------------------------------------- headers: Content-Encoding, bodies

encodings = st.one_of(
    st.sampled_from(
        ["", "gzip", "x-gzip", "deflate", "identity", "br", "zstd", "gzip, gzip", "GZIP", " gzip ", ","]
    ),
    st.text(max_size=20),
)
compressed = st.one_of(
    st.binary(max_size=2000),
    st.binary(max_size=2000).map(gzip.compress),
    st.binary(max_size=2000).map(zlib.compress),
    st.tuples(st.binary(min_size=1, max_size=2000), st.integers(0, 100)).map(
        lambda t: gzip.compress(t[0])[: -t[1] or None]
    ),
    st.tuples(st.binary(min_size=1, max_size=500), st.binary(max_size=50)).map(
        lambda t: gzip.compress(t[0])[:12] + t[1]
    ),
)


@FAST
@given(compressed, encodings, st.integers(min_value=1, max_value=5000))
def test_any_content_encoding_decodes_under_the_cap_or_is_an_outcome(raw, encoding, cap):
    try:
        body = decode_body(raw, encoding, cap)
    except Exception as exc:  # noqa: BLE001
        assert_outcome(exc)
        assert exc.outcome in ("too_large", "decode_error")
        return
    assert len(body) <= cap


# ---------------------------------------------------------------- feed bodies and Content-Type

content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/rss+xml",
            "text/html",
            "application/xml; charset=utf-8",
            "text/xml; charset=utf-16",
            "application/atom+xml; charset=nonsense",
            "text/xml; charset=rot13",
            "text/xml; charset=idna",
            "text/xml; charset=",
            'text/xml; charset="utf-8',
            ";;;",
            "application/octet-stream",
        ]
    ),
    st.text(max_size=40),
)
xml_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
dates = st.one_of(
    xml_text,
    st.sampled_from(["Mon, 30 Feb 2025 10:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "0000-00-00", "-1"]),
)


def _item(title: str, link: str, guid: str, date: str) -> str:
    from xml.sax.saxutils import escape

    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<guid>{escape(guid)}</guid><pubDate>{escape(date)}</pubDate></item>"
    )


feeds_xml = st.lists(st.builds(_item, xml_text, st.one_of(urls, xml_text), xml_text, dates), max_size=6).map(
    lambda items: (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{"".join(items)}</channel></rss>'
    )
)
bodies = st.one_of(
    st.binary(max_size=3000),
    feeds_xml.map(lambda x: x.encode("utf-8", "surrogatepass")),
    st.tuples(feeds_xml, st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252"])).map(
        lambda t: t[0].encode(t[1], "replace")
    ),
)


@FAST
@given(bodies, content_types)
def test_any_feed_body_parses_or_is_an_outcome(body, content_type):
    try:
        parsed = parse_feed(body, feed="f", url="http://127.0.0.1:8080/feed.xml", content_type=content_type)
    except Exception as exc:  # noqa: BLE001
        assert_outcome(exc)
        assert isinstance(exc, ContentError) and exc.outcome in ("not_a_feed", "parse_error")
        return
    for entry in parsed.entries:
        assert len(entry.article_id) == 20
        assert entry.url is None or canonical_url(entry.url) == entry.url


# ---------------------------------------------------------------- a real server sending it


def _raw_answer(status: int, headers: list[tuple[bytes, bytes]], body: bytes):
    def handler(h) -> None:
        lines = b"".join(k + b": " + v + b"\r\n" for k, v in headers)
        h.wfile.write(
            b"HTTP/1.1 %d X\r\n" % status + lines + b"Content-Length: %d\r\n\r\n" % len(body) + body
        )
        h.close_connection = True

    return handler


header_values = st.one_of(
    st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b),
    urls.map(lambda u: u.encode("utf-8", "surrogatepass")).filter(
        lambda b: b"\r" not in b and b"\n" not in b
    ),
)


@pytest.fixture(scope="module")
def hostile_server():
    with LocalWeb() as web:
        yield web


@pytest.mark.integration  # a real server answering 150 hostile exchanges: seconds
@SLOW
@given(
    status=st.sampled_from([200, 301, 302, 303, 307, 308, 304, 410, 429, 500, 503]),
    location=header_values,
    retry_after=header_values,
    content_type=header_values,
    content_encoding=st.one_of(st.just(b""), header_values, st.sampled_from([b"gzip", b"deflate", b"br"])),
    body=bodies,
)
def test_a_server_sending_anything_gets_a_response_or_an_outcome(
    hostile_server, status, location, retry_after, content_type, content_encoding, body
):
    headers = [(b"Location", location), (b"Retry-After", retry_after), (b"Content-Type", content_type)]
    if content_encoding:
        headers.append((b"Content-Encoding", content_encoding))
    hostile_server.routes["/h"] = Route(handler=_raw_answer(status, headers, body))
    settings = Settings.from_env(
        env={}, allow_networks=(ipaddress.ip_network("127.0.0.1/32"),), max_redirects=2
    )

    async def go():
        async with Fetcher(settings) as fetcher:
            response = await fetcher.get(hostile_server.url("/h"), max_bytes=1 << 16, deadline=5)
            response.retry_after()
            return response

    try:
        asyncio.run(go())
    except Exception as exc:  # noqa: BLE001
        assert_outcome(exc)


@pytest.fixture(scope="module")
def pool():
    async def make():
        return WorkerPool(Settings.from_env(env={}, workers=1))

    workers = asyncio.run(make())
    yield workers
    workers.close()


@SLOW
@given(
    status=st.sampled_from([200, 301, 304, 410, 429, 503]),
    retry_after=header_values,
    content_type=header_values,
    etag=header_values,
    body=bodies,
)
def test_a_feed_poll_always_ends_as_a_recorded_outcome(
    hostile_server, pool, status, retry_after, content_type, etag, body
):
    """Through the cycle's own feed poll, worker parse and politeness policy."""
    headers = [(b"Retry-After", retry_after), (b"Content-Type", content_type), (b"ETag", etag)]
    hostile_server.routes["/f"] = Route(handler=_raw_answer(status, headers, body))
    settings = Settings.from_env(
        env={}, allow_networks=(ipaddress.ip_network("127.0.0.1/32"),), parse_timeout=10
    )
    url = hostile_server.url("/f")
    job = cycle.FeedJob(Feed("f", url), FeedState("f", url, etag='"x"'))
    now = datetime.now(UTC)

    async def go():
        async with Fetcher(settings) as fetcher:
            return await cycle._poll_feed(fetcher, pool, job, settings, now, {})

    fetch, _parsed, sent = asyncio.run(go())
    assert fetch.outcome in OUTCOMES
    state = polling.next_state(job.state, fetch, sent, settings, now)
    assert state.next_fetch_at is None or state.next_fetch_at <= now + RETRY_AFTER_CAP
    polling.request_headers(state, settings, now + timedelta(hours=1))
    if state.etag:
        state.etag.encode("ascii")


# ---------------------------------------------------------------- mutated real files


def _mutate(data: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, value) mutations: flip a byte, cut, insert, duplicate a slice."""
    out = bytearray(data)
    for kind, position, value in ops:
        if not out:
            out = bytearray(b"<")
        at = position % len(out)
        if kind == 0:
            out[at] ^= value % 255 + 1
        elif kind == 1:
            del out[at:]
        elif kind == 2:
            out[at:at] = bytes([value % 256]) * (value % 7 + 1)
        elif kind == 3:
            out[at:at] = out[at : at + value % 4096]
        else:
            out[at:at] = b"<!ENTITY" if value % 2 else b"]]><![CDATA["
    return bytes(out)


mutations = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 10**9), st.integers(0, 10**6)), min_size=1, max_size=12
)


def _sample_files() -> tuple[list[bytes], list[bytes]]:
    """The repository's own sample feeds and pages (always here)."""
    routes = sample_site("http://127.0.0.1:8080")
    feeds = [r.body for path, r in sorted(routes.items()) if path.endswith(".xml")]
    pages = [r.body for path, r in sorted(routes.items()) if path.endswith(".html")][:6]
    return feeds, pages


SAMPLE_FEEDS, SAMPLE_PAGES = _sample_files()


def _corpus(kind: str) -> list[Path]:
    folder = CORPUS / kind
    if not folder.is_dir():
        pytest.skip(
            f"{folder} is absent: the corpus fuzz runs only beside ../shared (the sample-site fuzz always runs)"
        )
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _check_feed(body: bytes) -> None:
    try:
        parse_feed(body, feed="f", url="https://example.org/feed")
    except Exception as exc:  # noqa: BLE001
        assert_outcome(exc)


def _check_page(body: bytes, encoding: str = "") -> None:
    try:
        _extract(body, encoding, 5 << 20, "https://example.org/a", "text/html", None, None)
    except Exception as exc:  # noqa: BLE001
        assert_outcome(exc)


@SLOW
@given(st.sampled_from(SAMPLE_FEEDS), mutations)
def test_mutated_sample_feeds_parse_or_are_outcomes(feed, ops):
    _check_feed(_mutate(feed, ops))


@sized(0.1)
@given(st.sampled_from(SAMPLE_PAGES), mutations)
def test_mutated_sample_pages_extract_or_are_outcomes(page, ops):
    _check_page(_mutate(page, ops))


@sized(0.1)
@given(st.sampled_from(SAMPLE_PAGES), mutations)
def test_mutated_gzip_of_sample_pages_decodes_or_is_an_outcome(page, ops):
    _check_page(_mutate(gzip.compress(page), ops), "gzip")


@pytest.mark.corpus
def test_mutated_corpus_feeds_parse_or_are_outcomes():
    files = _corpus("feeds") + [p for p in _corpus("feedparser-cases")]

    @SLOW
    @given(st.sampled_from(files), mutations)
    def run(path, ops):
        _check_feed(_mutate(path.read_bytes(), ops))

    run()


@pytest.mark.corpus
def test_mutated_corpus_pages_extract_or_are_outcomes():
    files = _corpus("pages")

    @sized(0.1)
    @given(st.sampled_from(files), mutations, st.booleans())
    def run(path, ops, still_compressed):
        raw = path.read_bytes()
        if still_compressed:  # the page as a server would send it, Content-Encoding: gzip
            _check_page(_mutate(raw, ops), "gzip")
        else:
            _check_page(_mutate(gzip.decompress(raw), ops))

    run()


def test_the_strategies_reach_the_cases_that_once_stopped_a_cycle():
    # Not left to chance: the examples the issue reported are in the search space and handled.
    for location in ["http://127.0.0.1:99999/x", "http://127.0.0.1:-1/x"]:
        with pytest.raises(FetchError) as caught:
            _redirect_target("http://127.0.0.1:8080/a", location, 301)
        assert caught.value.outcome == "redirect_error"
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", datetime(2026, 1, 1, tzinfo=UTC)) == datetime(
        2026, 1, 8, tzinfo=UTC
    )
