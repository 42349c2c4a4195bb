"""Content-Encoding decoded under a cap, as the extraction workers decode pages."""

from __future__ import annotations

import gzip
import zlib

import pytest

from pipeline.errors import DecodeFailed, TooLarge
from pipeline.extract.decoding import CappedBody, decode_body

PAGE = b"<html><body>" + b"<p>La policia detuvo a la banda.</p>" * 2000 + b"</body></html>"


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate sent as "deflate"
        ("identity", lambda b: b),
        ("", lambda b: b),
    ],
)
def test_bodies_decode_whole(encoding, encode):
    assert decode_body(encode(PAGE), encoding, len(PAGE)) == PAGE


def test_a_gzip_bomb_stops_at_the_cap_without_inflating():
    bomb = gzip.compress(b" " * (64 << 20))  # 64 MB of spaces in 64 KB
    with pytest.raises(TooLarge):
        decode_body(bomb, "gzip", 1 << 20)
    body = CappedBody("gzip", 1 << 20)
    with pytest.raises(TooLarge):
        body.add(bomb[:4096])  # one small raw chunk already inflates past the cap: stopped there
    assert sum(len(p) for p in body._parts) <= 1 << 20


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (b"x", "br"),  # never advertised
        (b"x", "zstd"),
        (b"x", "gzip, gzip"),  # stacked
        (b"not gzip at all", "gzip"),
        (b"not deflate either", "deflate"),
        (gzip.compress(PAGE, mtime=0)[:-200], "gzip"),  # truncated: the stream never ends
        (gzip.compress(PAGE, mtime=0)[:10] + b"\xff" * 64, "gzip"),  # a good header, then garbage
        (zlib.compress(PAGE)[:-50], "deflate"),
    ],
)
def test_unusable_encodings_are_decode_errors_not_connection_errors(raw, encoding):
    # The body itself is bad: asking again cannot help (decode_error is final for a page).
    with pytest.raises(DecodeFailed) as caught:
        decode_body(raw, encoding, 1 << 20)
    assert caught.value.outcome == "decode_error"


def test_an_empty_body_with_an_encoding_is_empty():
    assert decode_body(b"", "gzip", 100) == b""


def test_an_unencoded_body_over_the_cap_is_too_large():
    with pytest.raises(TooLarge):
        decode_body(b"x" * 101, "", 100)
