"""The POST itself: where it may connect, its hard deadline, TLS."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from supervision import webhooks
from supervision.webhooks import WebhookConfig, WebhookConfigError, WebhookDeliverer, http_post, parse_webhook_url
from tests.supervision.webhooks.helpers import SECRET, Clock, delivery, escalate, self_signed_certificate
from tests.supervision.webhooks.receiver import Receiver, running

BODY = b'{"kind": "escalation"}'


def test_a_name_that_resolves_to_a_metadata_address_is_not_posted_to(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, int]] = []

    def rebinding_dns(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["10.0.0.5", "169.254.169.254"]

    monkeypatch.setattr(webhooks, "resolve", rebinding_dns)
    result = http_post(parse_webhook_url("http://hooks.internal:8080/x"), BODY, {}, 2.0)
    assert asked == [("hooks.internal", 8080)]
    assert result.status is None
    assert result.error is not None
    assert "169.254.169.254" in result.error
    assert "cloud metadata" in result.error


def test_the_connection_goes_to_the_checked_address_with_the_name_in_host(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bytes] = []
    with _raw_server(
        lambda connection: seen.append(_read_request(connection)), b"HTTP/1.1 204 No Content\r\n\r\n"
    ) as port:
        monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["127.0.0.1"])
        result = http_post(parse_webhook_url(f"http://receiver.example:{port}/in?x=1"), BODY, {"X-A": "b"}, 5.0)
    assert result.status == 204
    [request] = seen
    assert request.startswith(b"POST /in?x=1 HTTP/1.1\r\n")
    assert f"Host: receiver.example:{port}\r\n".encode() in request
    assert request.endswith(b"\r\n\r\n" + BODY)


def test_a_receiver_that_trickles_its_answer_is_cut_at_the_deadline() -> None:
    stop = threading.Event()

    def trickle(connection: socket.socket) -> None:
        _read_request(connection)
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        while not stop.wait(0.05):  # a header byte now and then, each well within a read timeout
            try:
                connection.sendall(b"X")
            except OSError:
                return

    with _raw_server(trickle, b"") as port:
        result = http_post(parse_webhook_url(f"http://127.0.0.1:{port}/x"), BODY, {}, 0.5)
        stop.set()
    assert result.status is None
    assert result.error == "timed out after 0.5 s"


def test_an_https_receiver_is_trusted_through_the_ca_file(tmp_path: Path, sqlite_engine: Engine) -> None:
    certificate, key = self_signed_certificate(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(certificate, key)
    clock = Clock()
    notice = escalate(sqlite_engine, clock())
    with running(Receiver(SECRET, clock), tls=server_tls) as receiver:
        assert receiver.url.startswith("https://localhost:")
        untrusting = WebhookDeliverer(sqlite_engine, WebhookConfig(url=receiver.url, secret=SECRET), clock=clock)
        [refused] = untrusting.deliver_due().attempts
        assert refused.outcome == "retry"
        assert refused.error is not None
        assert "CERTIFICATE_VERIFY_FAILED" in refused.error
        clock.now = delivery(sqlite_engine, notice)["next_attempt_at"]
        config = WebhookConfig(url=receiver.url, secret=SECRET, tls_ca_file=certificate)
        [attempt] = WebhookDeliverer(sqlite_engine, config, clock=clock).deliver_due().attempts
    assert (attempt.outcome, attempt.status) == ("delivered", 200)
    [received] = receiver.received
    assert received.verified


def test_a_ca_file_that_cannot_be_read_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(WebhookConfigError, match="CA file"):
        WebhookConfig(url="https://hooks.example.com/x", secret=SECRET, tls_ca_file=tmp_path / "missing.pem")
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate", encoding="utf-8")
    with pytest.raises(WebhookConfigError, match="CA file"):
        WebhookConfig(url="https://hooks.example.com/x", secret=SECRET, tls_ca_file=not_pem)


def test_an_untrusted_certificate_is_an_error_that_is_retried(tmp_path: Path) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed_certificate(tmp_path))
    with _raw_server(lambda connection: None, b"", wrap=context) as port:
        result = http_post(parse_webhook_url(f"https://localhost:{port}/x"), BODY, {}, 5.0)
    assert result.status is None
    assert result.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in result.error


def test_a_name_that_does_not_resolve_is_an_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_name(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(webhooks, "resolve", no_such_name)
    result = http_post(parse_webhook_url("https://nowhere.invalid/x"), BODY, {}, 2.0)
    assert result.status is None
    assert result.error == "cannot resolve nowhere.invalid: [Errno -2] Name or service not known"


# --- helpers --------------------------------------------------------------------------------


def _read_request(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


@contextmanager
def _raw_server(handle: object, answer: bytes, wrap: ssl.SSLContext | None = None) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            try:
                if wrap is not None:
                    with wrap.wrap_socket(connection, server_side=True):
                        return
                handle(connection)  # type: ignore[operator]
                if answer:
                    connection.sendall(answer)
            except (OSError, ssl.SSLError):
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()
        thread.join(10)
