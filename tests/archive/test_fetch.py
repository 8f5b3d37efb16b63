"""The URL fetcher (issue 18) against a real HTTP server on loopback: only allow-listed hosts,
never link-local or metadata addresses, no second DNS lookup, no redirect to another host,
the bytes checked and bounded, and timeouts."""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

import pytest

from archive import fetch
from archive.fetch import FetchPolicy, FetchRefused, fetch_native
from archive.file_store import DigestMismatch, FileTooLarge
from archive.fs_file_store import FsFileStore
from archivist.settings import Settings
from archivist.wiring import fetch_policy
from tests.security.pki import Pki, make_pki, server_context, tls_server

CONTENT = b"the native bytes " * 1000
SHA = hashlib.sha256(CONTENT).hexdigest()
HOST = "files.example.test"


class Handler(BaseHTTPRequestHandler):
    hosts_seen: list[str] = []  # noqa: RUF012 - shared by the test server's requests, reset per test

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        Handler.hosts_seen.append(self.headers.get("Host", ""))
        port = cast(ThreadingHTTPServer, self.server).server_port
        if self.path == "/file":
            self._send(200, CONTENT)
        elif self.path == "/big":
            self._send(200, b"x" * 50_000)
        elif self.path == "/big-undeclared":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 50_000)
            self.close_connection = True
        elif self.path == "/same-host":
            self._redirect("/file")
        elif self.path == "/other-host":
            self._redirect(f"http://elsewhere.example.test:{port}/file")
        elif self.path == "/other-scheme":
            self._redirect(f"https://{HOST}:{port}/file")
        elif self.path == "/loop":
            self._redirect("/loop")
        elif self.path == "/trickle":  # each byte in time, the whole far too slowly
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"t")
                    self.wfile.flush()
                    time.sleep(0.05)
            except BrokenPipeError:
                self.close_connection = True
        elif self.path == "/drip":  # a byte in time for 2 s, never a whole read, then silence
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b"d")
                    self.wfile.flush()
                    time.sleep(0.05)
                time.sleep(3)  # past the read timeout: a fetch still reading then fails on it
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
        elif self.path == "/drip-headers":  # the headers a byte at a time for 2 s, then silence
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                for _ in range(40):
                    self.wfile.write(b"d")
                    self.wfile.flush()
                    time.sleep(0.05)
                time.sleep(3)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
        elif self.path == "/slow":
            time.sleep(2)
            self._send(200, CONTENT)
        else:
            self._send(404, b"no")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:  # the client gave up (the slow answer, the refused large file)
            self.close_connection = True

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The test's DNS: every allow-listed test name is 127.0.0.1; each lookup is counted."""
    seen: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        seen.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(fetch, "resolve", resolve)
    Handler.hosts_seen = []
    return seen


@pytest.fixture
def store(tmp_path: Path) -> FsFileStore:
    return FsFileStore(tmp_path / "files")


POLICY = FetchPolicy(allowed_hosts=(HOST, "*.example.test"), read_timeout=0.5, max_bytes=40_000)


def test_an_allowed_host_is_fetched_into_the_store_through_the_checked_address(
    store: FsFileStore, port: int, lookups: list[str]
) -> None:
    stored = fetch_native(store, f"http://{HOST}:{port}/file", expected_sha256=SHA, policy=POLICY)
    assert (stored.sha256, stored.size, stored.created) == (SHA, len(CONTENT), True)
    assert store.check(SHA).state == "ok"
    assert lookups == [HOST]  # resolved once: the connection went to the address checked
    assert Handler.hosts_seen == [f"{HOST}:{port}"]  # with the name in Host


def test_the_next_checked_address_is_tried_when_one_refuses_the_connection(
    store: FsFileStore, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "resolve", lambda host, port: ["127.0.0.2", "127.0.0.1"])  # nothing listens on .2
    assert fetch_native(store, f"http://{HOST}:{port}/file", expected_sha256=SHA, policy=POLICY).sha256 == SHA
    monkeypatch.setattr(fetch, "resolve", lambda host, port: ["127.0.0.2"])
    with pytest.raises(FetchRefused, match="could not connect"):
        fetch_native(store, f"http://{HOST}:{port}/file", expected_sha256=SHA, policy=POLICY)


def test_a_redirect_on_the_same_host_is_followed_and_checked_again(
    store: FsFileStore, port: int, lookups: list[str]
) -> None:
    fetch_native(store, f"http://{HOST}:{port}/same-host", expected_sha256=SHA, policy=POLICY)
    assert lookups == [HOST, HOST]


@pytest.mark.parametrize(("path", "why"), [("/other-host", "another scheme or host"), ("/other-scheme", "another")])
def test_a_redirect_elsewhere_is_refused(
    store: FsFileStore, port: int, lookups: list[str], path: str, why: str
) -> None:
    with pytest.raises(FetchRefused, match=why):
        fetch_native(store, f"http://{HOST}:{port}{path}", expected_sha256=SHA, policy=POLICY)
    assert list(store.iter_sha256()) == []


def test_redirects_are_bounded(store: FsFileStore, port: int, lookups: list[str]) -> None:
    with pytest.raises(FetchRefused, match="more than 3 redirects"):
        fetch_native(store, f"http://{HOST}:{port}/loop", expected_sha256=SHA, policy=POLICY)
    assert len(Handler.hosts_seen) == 4


def test_other_bytes_than_the_sealed_ones_are_refused(store: FsFileStore, port: int, lookups: list[str]) -> None:
    with pytest.raises(DigestMismatch):
        fetch_native(store, f"http://{HOST}:{port}/file", expected_sha256="0" * 64, policy=POLICY)
    assert list(store.iter_sha256()) == []


def test_a_file_over_the_limit_is_refused_declared_or_not(store: FsFileStore, port: int, lookups: list[str]) -> None:
    with pytest.raises(FetchRefused, match="larger"):
        fetch_native(store, f"http://{HOST}:{port}/big", expected_sha256=SHA, policy=POLICY)
    with pytest.raises(FileTooLarge):
        fetch_native(store, f"http://{HOST}:{port}/big-undeclared", expected_sha256=SHA, policy=POLICY)
    assert list(store.iter_sha256()) == []


def test_a_slow_server_times_out(store: FsFileStore, port: int, lookups: list[str]) -> None:
    with pytest.raises(FetchRefused, match="timed out"):
        fetch_native(store, f"http://{HOST}:{port}/slow", expected_sha256=SHA, policy=POLICY)


def test_a_fetch_is_bounded_in_total_even_when_every_read_is_in_time(
    store: FsFileStore, port: int, lookups: list[str]
) -> None:
    policy = FetchPolicy(allowed_hosts=(HOST,), read_timeout=2, total_timeout=0.3)
    with pytest.raises(FetchRefused, match=r"took longer than 0\.3 s"):
        fetch_native(store, f"http://{HOST}:{port}/trickle", expected_sha256=SHA, policy=policy)
    assert list(store.iter_sha256()) == []


def test_a_fetch_that_never_fills_a_read_still_ends_at_its_total_timeout(
    store: FsFileStore, port: int, lookups: list[str]
) -> None:
    policy = FetchPolicy(allowed_hosts=(HOST,), read_timeout=2, total_timeout=0.3)
    with pytest.raises(FetchRefused, match=r"took longer than 0\.3 s"):
        fetch_native(store, f"http://{HOST}:{port}/drip", expected_sha256=SHA, policy=policy)
    assert list(store.iter_sha256()) == []


def test_a_server_that_drips_its_headers_is_cut_at_the_total_timeout(
    store: FsFileStore, port: int, lookups: list[str]
) -> None:
    policy = FetchPolicy(allowed_hosts=(HOST,), read_timeout=2, total_timeout=0.3)
    with pytest.raises(FetchRefused, match=r"took longer than 0\.3 s"):
        fetch_native(store, f"http://{HOST}:{port}/drip-headers", expected_sha256=SHA, policy=policy)
    assert list(store.iter_sha256()) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://not-listed.test/file",
        "http://example.test/file",  # *.example.test is the names under it, not itself
        "ftp://files.example.test/file",
        "file:///etc/passwd",
        "http://user:pw@files.example.test/file",
        "http:///file",
    ],
)
def test_urls_outside_the_rules_are_refused_before_any_lookup(store: FsFileStore, lookups: list[str], url: str) -> None:
    with pytest.raises(FetchRefused):
        fetch_native(store, url, expected_sha256=SHA, policy=POLICY)
    assert lookups == []


@pytest.mark.parametrize(
    "addresses",
    [
        ["169.254.169.254"],
        ["127.0.0.1", "169.254.169.254"],  # any of them
        ["169.254.10.1"],
        ["fe80::1"],
        ["fd00:ec2::254"],
        ["100.100.100.200"],
        ["0.0.0.0"],  # noqa: S104 - an address a name resolves to, not one bound
        ["::"],
        ["224.0.0.1"],
        ["::ffff:169.254.169.254"],
        # IPv6 forms that lead to an IPv4 host: NAT64, 6to4, Teredo, the old IPv4-compatible form
        ["64:ff9b::a9fe:a9fe"],
        ["64:ff9b:1::a9fe:a9fe"],
        ["2002:a9fe:a9fe::1"],
        ["2001:0:4136:e378:8000:63bf:5601:5601"],
        ["::169.254.169.254"],
    ],
)
def test_a_name_resolving_to_a_forbidden_address_is_refused(
    store: FsFileStore, port: int, monkeypatch: pytest.MonkeyPatch, addresses: list[str]
) -> None:
    monkeypatch.setattr(fetch, "resolve", lambda host, port: addresses)
    Handler.hosts_seen = []
    with pytest.raises(FetchRefused, match="not fetched"):
        fetch_native(store, f"http://{HOST}:{port}/file", expected_sha256=SHA, policy=POLICY)
    assert Handler.hosts_seen == []


def test_an_address_literal_must_be_allowed_and_is_checked(store: FsFileStore, port: int) -> None:
    Handler.hosts_seen = []
    with pytest.raises(FetchRefused, match="allow-list"):
        fetch_native(store, f"http://127.0.0.1:{port}/file", expected_sha256=SHA, policy=POLICY)
    metadata = FetchPolicy(allowed_hosts=("169.254.169.254",))
    with pytest.raises(FetchRefused, match="metadata"):
        fetch_native(store, "http://169.254.169.254/latest/meta-data/", expected_sha256=SHA, policy=metadata)
    loopback = FetchPolicy(allowed_hosts=("127.0.0.1",))
    assert fetch_native(store, f"http://127.0.0.1:{port}/file", expected_sha256=SHA, policy=loopback).sha256 == SHA


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "2001:db8::1", "::1", "8.8.8.8"])
def test_ipv6_forms_of_allowed_hosts_are_not_refused(address: str) -> None:
    assert fetch.refused_address(ipaddress.ip_address(address)) is None


def test_the_settings_make_the_policy_and_fetching_is_off_by_default() -> None:
    assert fetch_policy(Settings()) is None
    policy = fetch_policy(
        Settings(fetch_urls=True, fetch_allowed_hosts="files.example.com, *.cdn.example.com", max_file_bytes=4096)
    )
    assert policy is not None
    assert policy.allowed_hosts == ("files.example.com", "*.cdn.example.com")
    assert policy.max_bytes == 4096
    assert policy.allows("a.cdn.example.com")
    assert not policy.allows("cdn.example.com")
    assert not policy.allows("evil-files.example.com")


def answer_http(connection: ssl.SSLSocket) -> None:
    """The TLS test server's HTTP: one request, answered with CONTENT."""
    request = b""
    while b"\r\n\r\n" not in request:
        received = connection.recv(4096)
        if not received:
            return
        request += received
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(CONTENT)}\r\nConnection: close\r\n\r\n"
    connection.sendall(head.encode() + CONTENT)


def drip_http(connection: ssl.SSLSocket) -> None:
    """The TLS test server's HTTP: one request, answered a byte at a time for 2 s, then silence."""
    request = b""
    while b"\r\n\r\n" not in request:
        received = connection.recv(4096)
        if not received:
            return
        request += received
    try:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        for _ in range(40):
            connection.sendall(b"d")
            time.sleep(0.05)
        time.sleep(3)
    except OSError:
        pass


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_https_connects_to_the_checked_address_with_the_name_in_sni_and_the_certificate_check(
    store: FsFileStore, pki: Pki, lookups: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))  # the system's trust store, for this test
    policy = FetchPolicy(allowed_hosts=("elsewhere.example",), read_timeout=5)
    context = server_context(pki, wrong_name=True, require_client_cert=False)  # a certificate for elsewhere.example
    with tls_server(context, after_tls=answer_http) as server:
        stored = fetch_native(store, f"https://elsewhere.example:{server.port}/f", expected_sha256=SHA, policy=policy)
    assert stored.sha256 == SHA
    assert lookups == ["elsewhere.example"]
    assert server.first_handshake().sni == "elsewhere.example"


def test_https_refuses_a_certificate_for_another_name(
    store: FsFileStore, pki: Pki, lookups: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    policy = FetchPolicy(allowed_hosts=("elsewhere.example",), read_timeout=5)
    context = server_context(pki, require_client_cert=False)  # a certificate for localhost and 127.0.0.1 only
    with tls_server(context, after_tls=answer_http) as server, pytest.raises(FetchRefused, match=r"SSL|certificate"):
        fetch_native(store, f"https://elsewhere.example:{server.port}/f", expected_sha256=SHA, policy=policy)
    assert list(store.iter_sha256()) == []


def test_https_that_never_fills_a_read_still_ends_at_its_total_timeout(
    store: FsFileStore, pki: Pki, lookups: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    policy = FetchPolicy(allowed_hosts=("elsewhere.example",), read_timeout=2, total_timeout=0.5)
    context = server_context(pki, wrong_name=True, require_client_cert=False)
    with (
        tls_server(context, after_tls=drip_http) as server,
        pytest.raises(FetchRefused, match=r"took longer than 0\.5 s"),
    ):
        fetch_native(store, f"https://elsewhere.example:{server.port}/f", expected_sha256=SHA, policy=policy)
    assert list(store.iter_sha256()) == []
