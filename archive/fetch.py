"""Fetching the bytes of an uploaded file from its event's ``url`` (optional, off by default:
``ARCHIVIST_FETCH_URLS``).

A URL in an event is data from a chat server, so fetching it must not let that server make
Archivist reach what it should not (SSRF). The rules, each checked before a byte is sent:

- ``http`` and ``https`` only, to a host on the allow-list (exact names, or ``*.example.com``
  for the names under example.com);
- the name is resolved once, and refused if ANY of its addresses is link-local
  (169.254.0.0/16, fe80::/10), a cloud metadata address (169.254.169.254, fd00:ec2::254,
  100.100.100.200), unspecified or multicast;
- the connection goes to an address that was checked, never to a second lookup of the name
  (which DNS rebinding could answer differently), with the name in ``Host`` and in TLS's SNI
  and certificate check;
- a redirect is followed only to the same scheme, host and port (checked again), at most
  :attr:`FetchPolicy.max_redirects` times;
- the bytes are streamed into :meth:`FileStore.put` with the SHA-256 the event sealed and the
  size limit, within the connect, read and total timeouts: the body is read as it comes (no
  read waits to fill a buffer), each read waiting at most for the time the fetch has left, and
  at the deadline the fetch's connections are shut down (the TLS handshake and the headers
  too), so a server that sends a byte now and then cannot hold a fetch past its total timeout.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError, ReadTimeoutError

from archive.file_store import FileStore, StoredFile

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address) for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 1 << 16
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchRefused(Exception):
    """The URL was not fetched (or not completely): ``reason`` says why. Nothing was stored."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FetchPolicy:
    allowed_hosts: tuple[str, ...] = ()
    """Exact host names (or addresses), or ``*.example.com`` for every name under example.com."""
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    """The longest wait for the next bytes."""
    total_timeout: float = 300.0
    """The longest a whole fetch (redirects included) may take."""
    max_bytes: int = 1024 * 1024 * 1024
    max_redirects: int = 3

    def allows(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        for allowed in (entry.strip().lower().rstrip(".") for entry in self.allowed_hosts):
            if allowed.startswith("*."):
                if name.endswith(allowed[1:]) and len(name) > len(allowed) - 1:
                    return True
            elif allowed and name == allowed:
                return True
        return False


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this to play DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def refused_address(address: IPAddress) -> str | None:
    """Why an address may not be fetched from, or None."""
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in _embedded_ipv4(address):
            problem = refused_address(embedded)
            if problem is not None:
                return f"{problem} (inside the IPv6 address {address})"
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    return None


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if self.port == _DEFAULT_PORTS[self.scheme] else f"{shown}:{self.port}"


def _target(url: str, policy: FetchPolicy) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise FetchRefused(f"not a URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise FetchRefused(f"only http and https URLs are fetched, not {scheme or 'this'!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FetchRefused("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused("a URL with credentials is not fetched")
    if not policy.allows(host):
        raise FetchRefused(f"the host {host!r} is not on the allow-list (ARCHIVIST_FETCH_ALLOWED_HOSTS)")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Target(scheme, host, port or _DEFAULT_PORTS[scheme], path)


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (mapped, 6to4, Teredo, NAT64, the old
    IPv4-compatible form): a network that routes them reaches the IPv4 host behind."""
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found.extend(address.teredo)
    last_32_bits = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in network for network in _NAT64) or (address in _IPV4_COMPATIBLE and int(last_32_bits) > 1):
        found.append(last_32_bits)
    return found


def _checked_addresses(target: _Target) -> list[IPAddress]:
    """The host's addresses, resolved once; refused if any of them may not be reached."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [literal]
    else:
        try:
            found = [ipaddress.ip_address(address.split("%", 1)[0]) for address in resolve(target.host, target.port)]
        except (OSError, UnicodeError, ValueError) as error:
            raise FetchRefused(f"the host {target.host!r} could not be resolved: {error}") from None
    if not found:
        raise FetchRefused(f"the host {target.host!r} has no address")
    for address in found:
        why = refused_address(address)
        if why is not None:
            raise FetchRefused(f"the host {target.host!r} resolves to {address}, {why}: not fetched")
    return found


class _Watchdog:
    """Shuts the fetch's sockets down at its deadline: a read blocked on a server that sends a
    byte now and then (in its headers, its TLS handshake) ends then."""

    def __init__(self, deadline: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.fired = False
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.fired:
                _shut_down(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut_down(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut_down(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the socket's own, under TLS too
    except OSError:
        pass  # closed already


class _WatchedHTTPConnection(HTTPConnection):
    def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchdog = watchdog

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self._watchdog.watch(sock)
        return sock


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """HTTPS (HTTPSConnection's TLS set-up over the watched socket of the class above)."""


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _pool(
    target: _Target, address: IPAddress, policy: FetchPolicy, deadline: float, watchdog: _Watchdog
) -> urllib3.HTTPConnectionPool:
    remaining = max(0.001, deadline - time.monotonic())
    timeout = urllib3.Timeout(connect=min(policy.connect_timeout, remaining), read=min(policy.read_timeout, remaining))
    if target.scheme == "https":
        return _HTTPSPool(
            str(address),
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            watchdog=watchdog,
        )
    return _HTTPPool(str(address), target.port, timeout=timeout, retries=False, maxsize=1, watchdog=watchdog)


def _deadline_passed(deadline: float, policy: FetchPolicy) -> None:
    if time.monotonic() > deadline:
        raise FetchRefused(f"the fetch took longer than {policy.total_timeout:g} s")


def fetch_native(store: FileStore, url: str, *, expected_sha256: str, policy: FetchPolicy) -> StoredFile:
    """Fetch ``url`` into ``store`` as the bytes ``expected_sha256`` (see the module's rules).

    Raises :class:`FetchRefused` when a rule forbids the fetch or it fails (status, timeout,
    connection), or the store's :class:`~archive.file_store.FileRefused` when the bytes are not
    the ones expected or are over ``policy.max_bytes``; nothing is stored then."""
    deadline = time.monotonic() + policy.total_timeout
    origin = _target(url, policy)
    watchdog = _Watchdog(deadline)
    try:
        return _fetch(store, origin, expected_sha256, policy, deadline, watchdog)
    except FetchRefused:
        if watchdog.fired:  # whatever the shut-down connection then raised
            raise FetchRefused(f"the fetch took longer than {policy.total_timeout:g} s") from None
        raise
    finally:
        watchdog.cancel()


def _fetch(
    store: FileStore, origin: _Target, expected_sha256: str, policy: FetchPolicy, deadline: float, watchdog: _Watchdog
) -> StoredFile:
    target = origin
    for _hop in range(policy.max_redirects + 1):
        pool, response = _request(target, _checked_addresses(target), deadline, policy, watchdog)
        try:
            if response.status in REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise FetchRefused(f"a redirect ({response.status}) without a Location")
                target = _redirected(origin, target, location, policy)
                continue
            if response.status != 200:
                raise FetchRefused(f"the server answered {response.status}, not 200")
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > policy.max_bytes:
                raise FetchRefused(f"the file is larger ({int(declared):,} bytes) than the limit, {policy.max_bytes:,}")
            return store.put(
                _body(response, deadline, policy), expected_sha256=expected_sha256, max_bytes=policy.max_bytes
            )
        finally:
            response.release_conn()
            pool.close()
    raise FetchRefused(f"more than {policy.max_redirects} redirects")


def _request(
    target: _Target, addresses: list[IPAddress], deadline: float, policy: FetchPolicy, watchdog: _Watchdog
) -> tuple[urllib3.HTTPConnectionPool, urllib3.BaseHTTPResponse]:
    """``GET`` the target from the first of its checked addresses that takes the connection."""
    failure = "no address"
    for address in addresses:
        _deadline_passed(deadline, policy)
        pool = _pool(target, address, policy, deadline, watchdog)
        try:
            response = pool.urlopen(
                "GET",
                target.path,
                headers={"Host": target.host_header, "Accept-Encoding": "identity", "User-Agent": "Archivist"},
                redirect=False,
                preload_content=False,
                decode_content=False,
                assert_same_host=False,
            )
        except (NewConnectionError, ConnectTimeoutError) as error:  # not connected: the next address
            pool.close()
            failure = _reason(error)
            continue
        except HTTPError as error:
            pool.close()
            raise FetchRefused(f"{target.host_header}: {_reason(error)}") from None
        return pool, response
    raise FetchRefused(f"{target.host_header}: could not connect ({failure})")


def _redirected(origin: _Target, current: _Target, location: str, policy: FetchPolicy) -> _Target:
    base = f"{current.scheme}://{current.host_header}{current.path}"
    following = _target(urljoin(base, location), policy)
    if (following.scheme, following.host.lower(), following.port) != (origin.scheme, origin.host.lower(), origin.port):
        raise FetchRefused(
            f"a redirect to another scheme or host ({following.scheme}://{following.host_header}) is not followed"
        )
    return following


def _body(response: urllib3.BaseHTTPResponse, deadline: float, policy: FetchPolicy) -> Iterator[bytes]:
    """The body as it arrives (``read1``: what the socket has, never waiting to fill a chunk),
    each read waiting at most for the read timeout or the time left, whichever is shorter."""
    sock = getattr(getattr(response, "connection", None), "sock", None)
    cut_by_total = False
    try:
        while True:
            _deadline_passed(deadline, policy)
            remaining = deadline - time.monotonic()
            cut_by_total = remaining < policy.read_timeout
            if sock is not None:
                sock.settimeout(max(0.001, min(policy.read_timeout, remaining)))
            chunk = response.read1(_CHUNK, decode_content=False)
            if not chunk:
                break
            yield chunk
    except HTTPError as error:
        if cut_by_total and isinstance(error, ReadTimeoutError):
            raise FetchRefused(f"the fetch took longer than {policy.total_timeout:g} s") from None
        raise FetchRefused(_reason(error)) from None
    _deadline_passed(deadline, policy)


def _reason(error: HTTPError) -> str:
    text = str(error)
    if "timed out" in text.lower() or "timeout" in type(error).__name__.lower():
        return f"timed out ({type(error).__name__})"
    return f"{type(error).__name__}: {text}"
