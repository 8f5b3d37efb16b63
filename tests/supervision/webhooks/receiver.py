"""A real webhook receiver for the tests: an HTTP server in a thread that checks every request's
signature with :func:`supervision.webhooks.verify_signature`, keeps what it received, and answers
with the statuses a test scripts."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from supervision.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify_signature,
)


@dataclass
class Received:
    delivery_id: str
    timestamp: str
    signature: str
    body: bytes
    path: str
    content_type: str
    verified: bool
    refusal: str | None


@dataclass
class Receiver:
    """``statuses``: answered in order (the last one thereafter); ``headers``: extra response
    headers per status; ``hold``: when set, a request waits for it before answering."""

    secret: str
    now: Callable[[], datetime]
    statuses: list[int] = field(default_factory=lambda: [200])
    headers: dict[int, dict[str, str]] = field(default_factory=dict)
    tolerance: timedelta = timedelta(minutes=5)
    hold: threading.Event | None = None
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self._lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def bodies_of(self, delivery_id: str) -> list[bytes]:
        return [one.body for one in self.received if one.delivery_id == delivery_id]


@contextmanager
def running(receiver: Receiver, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """The receiver on 127.0.0.1 (``tls``: over HTTPS, as ``https://localhost:<port>``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            timestamp = self.headers.get(TIMESTAMP_HEADER, "")
            signature = self.headers.get(SIGNATURE_HEADER, "")
            refusal: str | None = None
            try:
                verify_signature(receiver.secret, timestamp, body, signature, receiver.now(), receiver.tolerance)
            except SignatureError as error:
                refusal = error.reason
            receiver.record(
                Received(
                    delivery_id=self.headers.get(DELIVERY_HEADER, ""),
                    timestamp=timestamp,
                    signature=signature,
                    body=body,
                    path=self.path,
                    content_type=self.headers.get("Content-Type", ""),
                    verified=refusal is None,
                    refusal=refusal,
                )
            )
            if receiver.hold is not None:
                receiver.hold.wait(30)
            status = 401 if refusal is not None else receiver.next_status()
            answer = (refusal or "ok").encode()
            try:
                self.send_response(status)
                for name, value in receiver.headers.get(status, {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the deliverer gave up waiting (the timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"https://localhost:{server.server_address[1]}" if tls else f"http://127.0.0.1:{server.server_address[1]}"
    receiver.url = f"{origin}/hooks/archivist"
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.shutdown()
        server.server_close()
        thread.join()
