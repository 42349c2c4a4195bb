"""The HTTP layer: network guard, caps, deadlines, redirects. Servers run on 127.0.0.1 only;
other address ranges are checked by calling the guard function on the address."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import socket
import ssl
import time
import zlib

import pytest

from pipeline.collect import net
from pipeline.collect.net import RETRY_AFTER_CAP, Fetcher, address_allowed, parse_retry_after
from pipeline.errors import (
    Blocked,
    ConnectFailed,
    DecodeFailed,
    Deferred,
    FetchError,
    FetchTimeout,
    RedirectError,
    TooLarge,
)
from pipeline.extract import decoding
from pipeline.settings import Settings
from tests.localweb import LocalWeb, Route

LOOPBACK_ONLY = (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.0.0.2",
        "::1",
        "0.0.0.0",
        "::",  # loopback, unspecified
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "fc00::1",
        "fd12:3456::1",  # private
        "169.254.169.254",
        "fe80::1",
        "fe80::1%eth0",  # link-local, cloud metadata
        "100.64.0.1",
        "100.127.255.254",  # carrier-grade NAT
        "224.0.0.1",
        "239.255.255.250",
        "ff02::1",
        "ff0e::1",  # multicast
        "240.0.0.1",
        "255.255.255.255",
        "192.0.0.8",
        "198.18.0.1",
        "192.0.2.1",
        "2001:db8::1",  # reserved, doc
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",  # IPv4-mapped
        "2002:a00:1::1",
        "2002:7f00:1::1",  # 6to4 around private/loopback
        "64:ff9b::a00:1",
        "64:ff9b::7f00:1",  # NAT64 around private/loopback
        "not an address",
    ],
)
def test_guard_refuses_non_public_addresses(address):
    assert not address_allowed(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "200.48.225.130", "2606:4700:4700::1111", "64:ff9b::808:808"])
def test_guard_allows_public_addresses(address):
    assert address_allowed(address)


def test_allow_list_opens_exactly_the_listed_networks():
    allow = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.1.0.0/16"))
    assert address_allowed("127.0.0.1", allow)
    assert address_allowed("10.1.2.3", allow)
    assert not address_allowed("127.0.0.2", allow)
    assert not address_allowed("10.2.0.1", allow)
    assert not address_allowed("::1", allow)


def settings(**kw) -> Settings:
    values = dict(allow_networks=LOOPBACK_ONLY, max_redirects=3)
    values.update(kw)
    return Settings.from_env(env={}, **values)


def fetch(
    url: str, s: Settings | None = None, max_bytes: int = 1 << 20, deadline: float = 10.0, headers=None
):
    async def go():
        async with Fetcher(s or settings()) as f:
            return await f.get(url, max_bytes=max_bytes, deadline=deadline, headers=headers)

    return asyncio.run(go())


@pytest.fixture
def web():
    with LocalWeb() as w:
        yield w


def test_loopback_is_refused_by_default(web):
    web.routes["/"] = Route(body=b"secret")
    with pytest.raises(Blocked):
        fetch(web.url("/"), Settings.from_env(env={}))
    port = web.base.rsplit(":", 1)[1]
    with pytest.raises(Blocked):  # a name that resolves inward is refused on its address, not its name
        fetch(f"http://localhost:{port}/", Settings.from_env(env={}))
    assert web.requests == []


def test_plain_get_with_validators_and_304(web):
    web.routes["/feed"] = Route(body=b"<rss/>", content_type="application/rss+xml")
    first = fetch(web.url("/feed"))
    assert first.status_code == 200 and first.body == b"<rss/>"
    etag = first.headers["etag"]
    again = fetch(web.url("/feed"), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.body == b""
    assert "vigia" in web.requests[0][1]["user-agent"].lower()


def test_gzip_is_decoded(web):
    web.routes["/z"] = Route(body=b"hola " * 1000, gzip=True)
    assert fetch(web.url("/z")).body == b"hola " * 1000


def test_gzip_bomb_stops_at_the_cap(web, monkeypatch):
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)  # 64 MiB of zeros in ~64 KB
    web.routes["/bomb"] = Route(handler=lambda h: _raw(h, bomb, {"Content-Encoding": "gzip"}))
    inflated = []
    real_feed = decoding.Decoder.feed

    def counting_feed(self, data, budget):
        out = real_feed(self, data, budget)
        inflated.append(len(out))
        return out

    monkeypatch.setattr(decoding.Decoder, "feed", counting_feed)
    with pytest.raises(TooLarge):
        fetch(web.url("/bomb"), max_bytes=1 << 20)
    assert 0 < sum(inflated) <= (1 << 20) + 1  # never more than the cap (and the byte that passes it)


def test_deflate_with_and_without_zlib_header(web):
    body = b"texto " * 500
    web.routes["/d1"] = Route(handler=lambda h: _raw(h, zlib.compress(body), {"Content-Encoding": "deflate"}))
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_body = raw.compress(body) + raw.flush()
    web.routes["/d2"] = Route(handler=lambda h: _raw(h, raw_body, {"Content-Encoding": "deflate"}))
    assert fetch(web.url("/d1")).body == body
    assert fetch(web.url("/d2")).body == body


def test_declared_length_over_the_cap_is_refused_before_reading(web):
    web.routes["/big"] = Route(body=b"x" * 5000)
    with pytest.raises(TooLarge):
        fetch(web.url("/big"), max_bytes=1000)


@pytest.mark.timeout(20)  # the whole drip takes 30 s: without the deadline this fails
def test_slow_drip_is_cut_off_by_the_overall_deadline(web):
    web.routes["/drip"] = Route(body=b"x" * 100, drip_seconds=0.3)
    with pytest.raises(FetchTimeout):
        fetch(web.url("/drip"), deadline=1.0)


def test_redirects_permanent_or_not(web):
    web.routes["/a"] = Route(status=301, headers={"Location": "/b"}, etag=False)
    web.routes["/b"] = Route(status=308, headers={"Location": "/c"}, etag=False)
    web.routes["/c"] = Route(body=b"ok")
    web.routes["/t"] = Route(status=302, headers={"Location": "/c"}, etag=False)
    web.routes["/mixed"] = Route(status=301, headers={"Location": "/t"}, etag=False)
    r = fetch(web.url("/a"))
    assert (r.body, r.final_url, r.permanent_redirect) == (b"ok", web.url("/c"), True)
    assert fetch(web.url("/t")).permanent_redirect is False
    assert fetch(web.url("/mixed")).permanent_redirect is False
    assert fetch(web.url("/c")).permanent_redirect is False


def test_redirect_loops_and_chains_too_long_are_refused(web):
    web.routes["/loop1"] = Route(status=302, headers={"Location": "/loop2"}, etag=False)
    web.routes["/loop2"] = Route(status=302, headers={"Location": "/loop1"}, etag=False)
    for i in range(10):
        web.routes[f"/hop{i}"] = Route(status=302, headers={"Location": f"/hop{i + 1}"}, etag=False)
    with pytest.raises(RedirectError, match="loop"):
        fetch(web.url("/loop1"))
    with pytest.raises(RedirectError, match="more than 3"):
        fetch(web.url("/hop0"))


def test_redirects_inward_or_to_other_schemes_are_refused(web):
    port = web.base.rsplit(":", 1)[1]
    # 127.0.0.2 stands in for "an address outside the allowed networks": it is loopback, never left.
    web.routes["/inward"] = Route(status=301, headers={"Location": f"http://127.0.0.2:{port}/x"}, etag=False)
    web.routes["/file"] = Route(status=302, headers={"Location": "file:///etc/passwd"}, etag=False)
    with pytest.raises(Blocked):
        fetch(web.url("/inward"))
    with pytest.raises(Blocked, match="scheme"):
        fetch(web.url("/file"))


def test_retry_after_is_remembered_per_host(web):
    web.routes["/busy"] = Route(status=429, headers={"Retry-After": "120"}, etag=False)

    async def go():
        async with Fetcher(settings()) as f:
            r = await f.get(web.url("/busy"), max_bytes=1000, deadline=5)
            return r, f.host_wait(web.url("/other"))

    response, wait = asyncio.run(go())
    assert response.status_code == 429
    assert wait is not None and wait.timestamp() - time.time() > 100


def test_parse_retry_after_forms():
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is not None  # a past date means "now"


def _raw(handler, body: bytes, headers: dict[str, str]) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(body)))
    for k, v in headers.items():
        handler.send_header(k, v)
    handler.end_headers()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        handler.wfile.write(body)


# ---------------------------------------------------------------- whatever a server sends (issue 16)


def _raw_redirect(location: bytes, status: int = 302):
    """A handler answering a redirect whose Location is these exact bytes (not only latin-1 text)."""

    def handler(h) -> None:
        h.wfile.write(
            b"HTTP/1.1 %d Found\r\nLocation: " % status + location + b"\r\nContent-Length: 0\r\n\r\n"
        )

    return handler


@pytest.mark.parametrize(
    "location",
    [
        b"http://127.0.0.1:99999/x",  # the redirect that stopped every cycle
        b"http://127.0.0.1:-1/x",
        b"http://127.0.0.1:0/x",
        b"http://127.0.0.1:65536/x",
        b"http://127.0.0.1:8o/x",
        b"http://[::1/x",
        b"http://[zz]/x",
        b"http://exa mple.pe/x",
        b"http://\xc3\xa9\xcc\x81xn--/x",  # a host no IDNA codec accepts
        b"http://xn--zz/x",
        b"http://" + b"a" * 300 + b".pe/x",
        b"http://:80/x",
        b"http://a.pe/" + b"x" * 9000,
    ],
)
def test_a_redirect_to_an_unusable_url_is_a_redirect_error(web, location):
    web.routes["/r"] = Route(handler=_raw_redirect(location))
    with pytest.raises(RedirectError) as caught:
        fetch(web.url("/r"))
    assert caught.value.outcome == "redirect_error"
    assert caught.value.status_code in (302, None)  # None: httpx refused the Location before we saw it


@pytest.mark.parametrize(
    "host", ["0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "2130706433", "127.1", "017700000001"]
)
def test_numeric_hosts_in_non_standard_forms_are_blocked_even_when_their_address_is_allowed(web, host):
    # 127.0.0.1/32 is allowed here: these forms are refused for what they are, not where they lead.
    port = web.base.rsplit(":", 1)[1]
    web.routes["/ok"] = Route(body=b"fine")
    web.routes["/r"] = Route(status=302, headers={"Location": f"http://{host}:{port}/ok"}, etag=False)
    with pytest.raises(Blocked, match="non-standard form"):
        fetch(web.url("/r"))
    with pytest.raises(Blocked, match="non-standard form"):
        fetch(f"http://{host}:{port}/ok")
    assert web.hits("/ok") == 0


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("br", b"\x1b\x00"),
        ("zstd", b"(\xb5/\xfd"),
        ("gzip, gzip", gzip.compress(gzip.compress(b"x", mtime=0), mtime=0)),
        ("gzip", b"not gzip at all"),
        ("gzip", gzip.compress(bytes(range(256)) * 40, mtime=0)[:-100]),  # truncated: the stream never ends
        ("deflate", b"\x00\x01\x02garbage"),
    ],
)
def test_bad_content_encodings_are_decode_errors(web, encoding, body):
    web.routes["/z"] = Route(handler=lambda h: _raw(h, body, {"Content-Encoding": encoding}))
    with pytest.raises(DecodeFailed) as caught:
        fetch(web.url("/z"))
    assert caught.value.outcome == "decode_error"


@pytest.mark.parametrize("length", ["²", "1" * 5000, "-5", "1e3", " 12", "0x10"])
def test_odd_content_lengths_never_raise_anything_but_a_fetch_error(web, length):
    def handler(h) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: " + length.encode() + b"\r\n\r\nbody")
        h.close_connection = True

    web.routes["/l"] = Route(handler=handler)
    try:
        response = fetch(web.url("/l"), max_bytes=100)
    except FetchError as failure:
        assert failure.outcome and str(failure)  # a recorded outcome, with its reason
    else:  # read to the close: never more than was sent
        assert b"body".startswith(response.body)


def test_waiting_for_a_slot_of_the_host_does_not_count_against_the_deadline(web):
    # One slot per host, 4 pages of 0.6 s each, a 1 s deadline: the last waits 1.8 s for its slot,
    # yet each request, once under way, takes 0.6 s and succeeds.
    for i in range(4):
        web.routes[f"/slow{i}"] = Route(handler=lambda h: (time.sleep(0.6), _raw(h, b"ok", {})))

    async def go():
        async with Fetcher(settings(per_host_concurrency=1)) as f:
            return await asyncio.gather(
                *(f.get(web.url(f"/slow{i}"), max_bytes=100, deadline=1.0) for i in range(4))
            )

    assert [r.body for r in asyncio.run(go())] == [b"ok"] * 4


def test_a_request_that_cannot_start_before_start_by_is_deferred_having_asked_nothing(web):
    web.routes["/slow"] = Route(handler=lambda h: (time.sleep(0.5), _raw(h, b"ok", {})))

    async def go():
        async with Fetcher(settings(per_host_concurrency=1)) as f:
            start_by = asyncio.get_running_loop().time() + 0.2
            return await asyncio.gather(
                *(f.get(web.url("/slow"), max_bytes=100, deadline=5, start_by=start_by) for _ in range(3)),
                return_exceptions=True,
            )

    results = asyncio.run(go())
    assert results[0].body == b"ok"
    assert all(isinstance(r, Deferred) and r.outcome == "deferred" for r in results[1:])
    assert web.hits("/slow") == 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120),
        ("120.5", 120.5),
        ("0", 0),
        ("99999999999", 7 * 86400),  # capped
        ("Fri, 31 Dec 9999 23:59:59 GMT", 7 * 86400),  # the date that parked a feed for good
        ("Friday, 31-Dec-99 23:59:59 GMT", None),  # RFC 850: 1999, in the past: now
        ("Fri Dec 31 23:59:59 9999", 7 * 86400),  # asctime
        ("9999-12-31T23:59:59-12:00", 7 * 86400),  # ISO 8601, beyond what UTC can hold
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0),  # past: now
    ],
)
def test_retry_after_in_any_form_is_capped_at_seven_days(value, seconds):
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    when = parse_retry_after(value, now)
    assert when is not None and now <= when <= now + RETRY_AFTER_CAP
    if seconds is not None:
        assert (when - now).total_seconds() == seconds


@pytest.mark.parametrize(
    "value", ["²", "-5", "1e9", "soon", "", "   ", "Fri, 31 Dec 9999 25:61:00 GMT", "\x00"]
)
def test_unusable_retry_after_is_ignored(value):
    assert parse_retry_after(value) is None


def test_a_retry_after_date_far_ahead_holds_the_host_for_the_cap_only(web):
    web.routes["/busy"] = Route(
        status=503, headers={"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, etag=False
    )

    async def go():
        async with Fetcher(settings(retry_after_max_hours=2)) as f:
            await f.get(web.url("/busy"), max_bytes=1000, deadline=5)
            return f.host_wait(web.url("/other"))

    wait = asyncio.run(go())
    assert wait is not None and wait.timestamp() - time.time() <= 2 * 3600 + 5


def test_unchanged_feeds_answered_304_reuse_their_connections(tmp_path):
    """A 304 (no body) is read to its end, so its connection goes back to the pool: 40 feeds on 2
    hosts asked twice cost a few connections, not one a request."""
    from benchmarks.scaleweb import ScaleWeb
    from pipeline import tasks
    from tests.conftest import make_settings

    with ScaleWeb(40, hosts=2, processes=1) as web:
        web.start()
        feeds = "".join(f'[[feed]]\nname = "s{i:03d}"\nurl = "{url}"\n\n' for i, url in enumerate(web.urls()))
        settings = make_settings(
            tmp_path,
            feeds,
            allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
            max_new_per_feed=1000,
        )
        tasks.run_once(settings)
        web.mode("304")
        before = web.stats()  # counts since the servers started
        summary = tasks.run_once(settings)
        after = web.stats()
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in ("not_modified", "connections")}
    assert summary.feeds_ok == 40 and delta["not_modified"] == 40
    # At most two connections a host (the politeness limit), each kept for every request after.
    assert delta["connections"] <= 2 * 2 + 1, delta  # + the stats request itself


# ---------------------------------------------------------------- the client underneath (aiohttp)


@pytest.mark.parametrize(
    ("family", "address"),
    [
        (socket.AF_INET, ("10.0.0.1", 80)),
        (socket.AF_INET, ("169.254.169.254", 80)),
        (socket.AF_INET, ("127.0.0.2", 80)),  # loopback, but outside the allowed 127.0.0.1/32
        (socket.AF_INET6, ("::ffff:10.0.0.1", 80, 0, 0)),
        (socket.AF_INET6, ("fe80::1", 80, 0, 2)),  # scoped
        (socket.AF_INET6, ("::1", 80, 0, 0)),
    ],
)
def test_the_socket_factory_refuses_every_address_the_guard_refuses(family, address):
    # Every connection aiohttp opens gets its socket here, IP literal hosts included (no resolver
    # sees those): the address about to be connected to is judged, and nothing is connected.
    factory = net._guarded_socket(LOOPBACK_ONLY)
    with pytest.raises(Blocked, match="not a public address"):
        factory((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address))
    allowed = factory((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", 80)))
    allowed.close()


def test_the_resolver_keeps_only_allowed_addresses_and_the_name_for_tls():
    async def go(allow):
        return await net._GuardedResolver(allow, 5.0).resolve("localhost", 80, socket.AF_UNSPEC)

    found = asyncio.run(go(LOOPBACK_ONLY))
    assert found and {r["host"] for r in found} == {"127.0.0.1"}
    assert {r["hostname"] for r in found} == {"localhost"}  # what TLS verifies and sends as SNI
    with pytest.raises(Blocked, match="resolves to"):
        asyncio.run(go(()))


def _self_signed(tmp_path):
    """A certificate for 127.0.0.1 and localhost, signed by itself; (cert path, key path)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _https_fetch(tmp_path, url_host: str):
    """GET https://<url_host>:<port>/ from a 127.0.0.1 server with a self-signed certificate."""
    cert, key = _self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)

    async def handle(reader, writer):
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")
            await writer.drain()
        writer.close()

    async def go():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        async with server, Fetcher(settings()) as f:
            return await f.get(f"https://{url_host}:{port}/", max_bytes=1000, deadline=10.0)

    return cert, go


def test_https_refuses_a_certificate_no_authority_signed(tmp_path):
    _, go = _https_fetch(tmp_path, "127.0.0.1")
    with pytest.raises(ConnectFailed, match="(?i)certificate"):
        asyncio.run(go())


def test_https_goes_through_the_same_guarded_client_with_a_verified_context(tmp_path, monkeypatch):
    # The same certificate, trusted: the request succeeds, so the failure above was verification,
    # and the verification covers the host named in the URL (an IP literal here, then a name).
    cert, go = _https_fetch(tmp_path, "127.0.0.1")
    monkeypatch.setattr(net, "_verified_tls", lambda: ssl.create_default_context(cafile=str(cert)))
    response = asyncio.run(go())
    assert response.status_code == 200 and response.body == b"hello"
    _, by_name = _https_fetch(tmp_path, "localhost")
    assert asyncio.run(by_name()).body == b"hello"


def _head(lines: list[bytes]):
    def handler(h) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            h.wfile.write(b"HTTP/1.1 200 OK\r\n" + b"".join(line + b"\r\n" for line in lines))
            h.wfile.write(b"Content-Length: 2\r\n\r\nok")

    return handler


@pytest.mark.parametrize(
    "lines",
    [
        [b"X-Long: " + b"a" * (net.MAX_HEAD_LINE + 10)],  # one line over the limit
        [b"X-Many-%d: x" % i for i in range(10_000)],  # endless headers, each short
    ],
    ids=["long-line", "many-lines"],
)
def test_a_head_over_the_limits_is_refused_without_waiting_for_the_deadline(web, lines):
    web.routes["/h"] = Route(handler=_head(lines))
    with pytest.raises(ConnectFailed):
        fetch(web.url("/h"), deadline=60.0)


def test_a_head_within_the_limits_is_read(web):
    web.routes["/h"] = Route(
        handler=_head([b"X-Long: " + b"a" * 8000, *[b"X-N-%d: y" % i for i in range(50)]])
    )
    response = fetch(web.url("/h"))
    assert response.body == b"ok" and len(response.headers["x-long"]) == 8000


def test_a_burst_of_requests_started_at_once_does_not_time_out_the_first_connections(web):
    # A batch starts every request at once: each later task's first step holds the loop a little
    # (here 4 ms, 1.2 s in all, more than the connect timeout), as 100,000 feeds' first steps did
    # for 12-20 s. The first requests, which had their slots at once, must not have their connect
    # timer running while the loop is busy with the others (they failed as timeouts).
    web.routes["/f"] = Route(body=b"<rss/>")
    s = settings(connect_timeout=0.5)

    async def go():
        async with Fetcher(s) as f:

            async def one(i: int) -> int:
                if i >= 2:
                    time.sleep(0.004)
                return (await f.get(web.url("/f"), max_bytes=1000, deadline=60.0)).status_code

            return await asyncio.gather(*(one(i) for i in range(300)))

    assert set(asyncio.run(go())) == {200}
