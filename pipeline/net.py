"""HTTP for feeds and pages: network guard, caps, deadlines, redirects, politeness.

Strangers' servers decide what we download, so every request here is bounded:

* the **network guard** checks the address actually connected to (after DNS, on every
  redirect hop), so a public name that resolves inward, DNS rebinding, or a public URL
  redirecting to 169.254.169.254 are all refused; only ``VIGIA_ALLOW_NETWORKS`` opens a
  non-public range;
* the body is decoded here, from the raw stream, with ``zlib``'s ``max_length``, so a gzip
  bomb stops at the cap instead of inflating first;
* one overall deadline covers connection, redirects and body, so a server dripping a byte
  every two seconds is cut off (httpx's read timeout alone never fires on it);
* redirects are followed by hand: each hop's scheme is checked, loops are detected, and we
  know whether every hop was permanent (the only case where a feed's stored URL moves);
* at most ``per_host_concurrency`` requests run per host, and a host's ``Retry-After`` holds
  back every later request to that host in this cycle.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import select
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from pipeline.decoding import CHUNK, CappedBody, Decoder
from pipeline.errors import (
    Blocked,
    ConnectFailed,
    FetchError,
    FetchTimeout,
    RedirectError,
    TooLarge,
)
from pipeline.settings import Network, Settings

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges that `is_global` lets through but that must not be reached from a feed link.
_EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "100.64.0.0/10",  # carrier-grade NAT (older Pythons call it global)
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "224.0.0.0/4",  # IPv4 multicast, some of it "global"
        "240.0.0.0/4",  # reserved
        "ff00::/8",  # IPv6 multicast
        "64:ff9b:1::/48",  # local-use NAT64
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

REDIRECT_CODES = {301, 302, 303, 307, 308}
PERMANENT_CODES = {301, 308}


def address_allowed(address: str | IPAddress, allow: Iterable[Network] = ()) -> bool:
    """True when a connection to ``address`` is allowed: a public address, or one in ``allow``.

    IPv6 forms that embed an IPv4 address (mapped, 6to4, Teredo, NAT64) are judged by the
    IPv4 address they carry, so ``::ffff:10.0.0.1`` is as private as ``10.0.0.1``.
    """
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return False  # scoped (zone) addresses are link-local by construction
    for net in allow:
        if ip.version == net.version and ip in net:
            return True
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_allowed(embedded, allow)
    if any(ip.version == net.version and ip in net for net in _EXTRA_BLOCKED):
        return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves names itself, connects only to allowed addresses, and checks the peer.

    Connecting to the checked IP literal (not the name) means the address that was checked is
    the one used: a second DNS answer (rebinding) never gets a say. TLS still verifies and sends
    SNI for the original host name, which httpcore passes to ``start_tls`` separately.
    """

    def __init__(self, allow: tuple[Network, ...]) -> None:
        self._allow = allow
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
        except (socket.gaierror, UnicodeError) as exc:
            raise ConnectFailed(f"cannot resolve {host}: {exc}") from exc
        except TimeoutError as exc:
            raise FetchTimeout(f"resolving {host} timed out") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        allowed = [a for a in addresses if address_allowed(a, self._allow)]
        if not allowed:
            raise Blocked(f"{host} resolves to {', '.join(addresses)}: not a public address")
        last_exc: Exception | None = None
        for address in allowed:
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                last_exc = exc
                continue
            peer = stream.get_extra_info("server_addr")
            if not peer or not address_allowed(peer[0], self._allow):
                await stream.aclose()
                raise Blocked(f"connected to {peer[0] if peer else '?'}: not a public address")
            return _Stream(stream)
        raise ConnectFailed(f"cannot connect to {host}: {last_exc}")

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise Blocked("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Stream(httpcore.AsyncNetworkStream):
    """A connection whose socket facts are looked up once.

    httpcore's pool asks every pooled connection whether it is readable (closed by the server)
    each time a request starts or ends, and anyio answers each question by building a table of
    socket attributes with a ``getpeername`` system call: with a few dozen connections that was
    a large share of the main process's time per page. The answers cannot change for a
    connected socket, except readability, which is a zero-timeout poll on the same socket.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._facts = {key: inner.get_extra_info(key) for key in ("socket", "server_addr", "client_addr")}

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str):
        if info == "is_readable":
            sock = self._facts["socket"]
            if sock is None or sock.fileno() < 0:
                return True  # as httpcore: a socket that is gone reads as the end of the stream
            poll = select.poll()
            poll.register(sock.fileno(), select.POLLIN)
            return bool(poll.poll(0))
        if info in self._facts:
            return self._facts[info]
        return self._inner.get_extra_info(info)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, settings: Settings) -> None:
        super().__init__(trust_env=False)
        limits = httpx.Limits(max_connections=settings.concurrency * 2, max_keepalive_connections=32)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(settings.allow_networks),
        )


@dataclass(frozen=True, slots=True)
class Response:
    url: str  # the URL asked for
    final_url: str  # after redirects
    status_code: int
    headers: httpx.Headers
    body: bytes  # decoded (unless asked not to: see encoding); empty for 304 and for error statuses
    permanent_redirect: bool  # there was at least one hop and every hop was 301/308
    elapsed_ms: int
    encoding: str = ""  # the Content-Encoding body still has (get(decode=False)); "" when decoded

    def retry_after(self, now: datetime | None = None) -> datetime | None:
        return parse_retry_after(self.headers.get("retry-after"), now)


def parse_retry_after(value: str | None, now: datetime | None = None) -> datetime | None:
    """A Retry-After header (seconds or HTTP date) as an instant; None when absent or unusable."""
    if not value:
        return None
    now = now or datetime.now(UTC)
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=min(int(value), 7 * 24 * 3600))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when, now)


def check_scheme(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Blocked(f"scheme {parts.scheme or '(none)'!r} is not followed: {url[:200]}")
    if not parts.hostname:
        raise Blocked(f"URL has no host: {url[:200]}")


def host_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


class Fetcher:
    """An async HTTP client for one cycle. Use as ``async with Fetcher(settings) as f``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        timeout = httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=None,
        )
        self._client = httpx.AsyncClient(
            transport=_GuardedTransport(settings),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,  # an environment proxy would bypass the guard
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        self._global = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._not_before: dict[str, datetime] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    def host_wait(self, url: str) -> datetime | None:
        """When the host asked us (Retry-After) not to come back before a later instant."""
        until = self._not_before.get(host_key(url))
        return until if until and until > datetime.now(UTC) else None

    async def get(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        max_bytes: int,
        deadline: float,
        accept: str = "*/*",
        decode: bool = True,
    ) -> Response:
        """GET ``url`` following redirects; error statuses are returned, not raised.

        ``decode=False`` returns the body as sent (``Response.encoding`` says how it is encoded)
        with ``max_bytes`` capping the encoded bytes; whoever decodes it applies the cap again
        (``pipeline.decoding.decode_body``). Raises a FetchError subclass for everything that is
        not an HTTP answer.
        """
        check_scheme(url)
        started = time.monotonic()
        try:
            async with asyncio.timeout(deadline):
                return await self._follow(url, headers or {}, max_bytes, accept, started, decode)
        except TimeoutError as exc:
            raise FetchTimeout(f"no complete answer within {deadline:g} s") from exc

    async def _follow(
        self, url: str, headers: dict[str, str], max_bytes: int, accept: str, started: float, decode: bool
    ) -> Response:
        seen = {url}
        current = url
        permanent = True
        for _hop in range(self.settings.max_redirects + 1):
            check_scheme(current)
            status, resp_headers, body = await self._one(current, headers, max_bytes, accept, decode)
            if status in REDIRECT_CODES and "location" in resp_headers:
                permanent = permanent and status in PERMANENT_CODES
                target = urljoin(current, resp_headers["location"].strip())
                target = target.split("#", 1)[0]
                if target in seen:
                    raise RedirectError(f"redirect loop at {target[:200]}", status_code=status)
                seen.add(target)
                current = target
                # Validators belong to the URL they were given for.
                stale = ("if-none-match", "if-modified-since")
                headers = {k: v for k, v in headers.items() if k.lower() not in stale}
                continue
            if status in (429, 503):
                retry = parse_retry_after(resp_headers.get("retry-after"))
                if retry is not None:
                    self._not_before[host_key(current)] = retry
            return Response(
                url=url,
                final_url=current,
                status_code=status,
                headers=resp_headers,
                body=body,
                permanent_redirect=permanent and current != url,
                elapsed_ms=int((time.monotonic() - started) * 1000),
                encoding="" if decode or not body else resp_headers.get("content-encoding", ""),
            )
        raise RedirectError(f"more than {self.settings.max_redirects} redirects from {url[:200]}")

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        key = host_key(url)
        if key not in self._hosts:
            self._hosts[key] = asyncio.Semaphore(self.settings.per_host_concurrency)
        return self._hosts[key]

    async def _one(
        self, url: str, headers: dict[str, str], max_bytes: int, accept: str, decode: bool = True
    ) -> tuple[int, httpx.Headers, bytes]:
        async with self._global, self._host_slot(url):
            try:
                request = self._client.build_request("GET", url, headers={"Accept": accept, **headers})
                response = await self._client.send(request, stream=True)
            except FetchError:
                raise
            except httpx.TimeoutException as exc:
                raise FetchTimeout(f"{type(exc).__name__}: {exc}") from exc
            except (httpx.HTTPError, httpx.InvalidURL, ValueError, OSError) as exc:
                raise ConnectFailed(f"{type(exc).__name__}: {exc}"[:500]) from exc
            try:
                if response.status_code >= 300:
                    # Redirects, 304 and errors: the body is not needed.
                    return response.status_code, response.headers, b""
                body = await _read_capped(response, max_bytes, decode)
                return response.status_code, response.headers, body
            except httpx.TimeoutException as exc:
                raise FetchTimeout(f"{type(exc).__name__} while reading: {exc}") from exc
            except httpx.HTTPError as exc:
                raise ConnectFailed(f"{type(exc).__name__} while reading: {exc}"[:500]) from exc
            finally:
                await response.aclose()


async def _read_capped(response: httpx.Response, max_bytes: int, decode: bool = True) -> bytes:
    """The body, decoded under ``max_bytes`` (``decode=False``: as sent, its encoded size under it)."""
    declared = response.headers.get("content-length", "")
    encoding = response.headers.get("content-encoding", "")
    if declared.isdigit() and (not encoding or not decode) and int(declared) > max_bytes:
        raise TooLarge(
            f"Content-Length {declared} is over the {max_bytes}-byte cap", status_code=response.status_code
        )
    if not decode:
        Decoder(encoding)  # an encoding we could not decode later fails now, as a download error
    body = CappedBody(encoding if decode else "", max_bytes, response.status_code)
    # Small raw chunks keep each decompression step small as well.
    async for raw in response.aiter_raw(chunk_size=CHUNK):
        body.add(raw)
    return body.body()
