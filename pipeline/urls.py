"""Canonical URLs and the deterministic keys derived from them.

Two links to the same article must give the same key, or it is stored (and counted) twice:
``HTTPS://RPP.pe:443/politica/nota?utm_source=tw#comentarios`` and
``https://rpp.pe/politica/nota`` are one article.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that track the reader, never select the content.
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "_hs", "ga_")
_TRACKING_NAMES = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "igsh",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_ga",
        "_gl",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "wickedid",
        "rb_clickid",
        "s_cid",
        "ocid",
        "cmpid",
        "ncid",
        "sr_share",
        "ref_src",
        "ref_url",
        "spm",
        "outputtype",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left unescaped in paths (RFC 3986 unreserved + sub-delims + ':' '@' '/' and '%').
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def canonical_url(url: str) -> str | None:
    """The canonical form of an absolute http(s) URL, or None if it is not one.

    Lower-cases scheme and host, drops default ports, userinfo, fragments and tracking
    parameters, sorts the remaining query parameters and normalises percent-escapes. A URL whose
    host or port could never be requested is not one (None).
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe=_PATH_SAFE) or "/"
    query_items = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not (k.lower() in _TRACKING_NAMES or k.lower().startswith(_TRACKING_PREFIXES))
    ]
    query = urlencode(sorted(query_items), doseq=True)
    canonical = urlunsplit((scheme, netloc, path, query, ""))
    try:
        parse_http_url(canonical)
    except BadURL as exc:
        # A malformed host ("http://.", "exa mple.pe", over-long labels) is no link; a form we refuse
        # (a numeric host such as 0177.0.0.1) is kept, so that asking for it records `blocked`.
        if not exc.refused:
            return None
    return canonical


def absolute_url(base: str, link: str) -> str | None:
    """``link`` resolved against ``base``; None when no URL can be made of them (``http://[::1``)."""
    try:
        return urljoin(base, link)
    except ValueError:
        return None


class BadURL(ValueError):
    """Why a URL cannot be requested. ``refused``: a form never followed (another scheme, a numeric
    host in a non-standard form) rather than a malformed one."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


MAX_URL = 8 * 1024
# Control characters and spaces have no place in a URL (a browser would strip or escape them; a
# feed registry or a Location header holding them is broken or hostile).
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")
# A host of digits, hex or octal parts that ``ipaddress`` does not read as an address (0177.0.0.1,
# 2130706433, 0x7f.1): C resolvers read them as addresses, ipaddress and httpx do not, so what
# the guard checked and what would be connected to could differ. Refused, whatever they point at.
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+)){0,3}\.?", re.I | re.ASCII)


def parse_http_url(url: str) -> SplitResult:
    """``url`` split, when it is an absolute http(s) URL that can be requested as it is; else BadURL."""
    quoted = repr(url[:200])
    if len(url) > MAX_URL:
        raise BadURL(f"URL longer than {MAX_URL} characters: {quoted}")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise BadURL(f"{exc}: {quoted}") from exc
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        raise BadURL(f"scheme {parts.scheme or '(none)'!r} is not followed: {quoted}", refused=True)
    if not host:
        raise BadURL(f"URL has no host: {quoted}")
    if _UNSAFE.search(url):
        raise BadURL(f"URL holds spaces or control characters: {quoted}")
    if port is not None and not 1 <= port <= 65535:
        raise BadURL(f"port {port} is out of range: {quoted}")
    if _NUMERIC_HOST.fullmatch(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise BadURL(f"host {host!r} is a numeric address in a non-standard form", refused=True) from None
    if ":" not in host:  # a name or an IPv4 address (IPv6 literals were checked by urlsplit)
        try:
            name = host.encode("idna") if not host.isascii() else host.encode("ascii")
        except UnicodeError as exc:
            raise BadURL(f"host {host!r} is not a valid international name: {exc}") from exc
        labels = name.rstrip(b".").split(b".")
        if len(name) > 253 or not all(0 < len(label) <= 63 for label in labels):
            raise BadURL(f"host {host[:100]!r} is not a valid name (empty or over-long labels)")
    return parts


def stable_key(*parts: str | None) -> str:
    """A short deterministic key: the first 20 hex digits of SHA-256 over the parts."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:20]


def article_key(url: str | None, feed: str, guid: str | None, title: str, summary: str) -> str:
    """The article_id: from the canonical URL when there is one, else from what the feed says.

    An item without a link is keyed by its feed, guid and title, or, lacking a guid, by its feed,
    title and summary, so the same item seen again gets the same key. The title is part of a
    guid-only key because broken feeds give one guid to different items.
    """
    if url:
        return stable_key("url", url)
    if guid:
        return stable_key("guid", feed, guid, title)
    return stable_key("entry", feed, title, summary)


# Controls (C0, C1), line separators, zero-width and bidirectional-override characters: a URL
# holding one is never made a link.
_UNSAFE_IN_LINK = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def safe_href(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL, else None (shown as text, never as a link): what
    the alert e-mails and the HTML report put in an href."""
    if not url:
        return None
    url = url.strip()
    if _UNSAFE_IN_LINK.search(url) or " " in url:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def outlet_of(url: str | None, feed_url: str | None, feed: str) -> str:
    """Who published the article: the site of its URL ("elcomercio.pe" for every El Comercio
    section feed), else of its feed's URL; the feed's name when neither names a site (an IP
    address, as with the test servers on 127.0.0.1)."""
    for candidate in (url, feed_url):
        site = _site(candidate)
        if site:
            return site
    return feed


_SECOND_LEVEL = {"com", "gob", "org", "edu", "net", "mil", "nom", "co", "ac"}


def _site(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return None
    if not host or "." not in host:
        return None  # localhost and friends
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    labels = host.removeprefix("www.").split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])
