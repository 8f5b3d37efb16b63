"""A throwaway certificate authority for TLS tests, made with the ``openssl`` command, and small
TLS servers that record each handshake (the client certificate they saw, or why it failed)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

CLIENT_NAME = "archivist-client"


@dataclass(frozen=True)
class Pki:
    ca: Path
    """The CA certificate (what clients are told to trust)."""
    server_cert: Path
    server_key: Path
    """Names ``localhost`` and ``127.0.0.1``."""
    wrong_name_cert: Path
    wrong_name_key: Path
    """Signed by the same CA, for ``elsewhere.example`` only."""
    client_cert: Path
    client_key: Path
    """CN ``archivist-client``, for client authentication."""
    other_ca: Path
    """A CA that signed none of the above."""


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"openssl {' '.join(args)}: {done.stderr}"


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
        cwd=directory,
    )  # fmt: skip
    return cert, key


def _leaf(directory: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    key, csr, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.pem"
    config = directory / f"{name}.ext"
    config.write_text(extensions + "\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n", encoding="utf-8")
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(config),
        cwd=directory,
    )  # fmt: skip
    key.chmod(0o600)  # libpq refuses a client key others may read
    return cert, key


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca = _ca(directory, "test-ca")
    other_ca, _ = _ca(directory, "other-ca")
    server = _leaf(directory, "localhost", ca, "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth")
    wrong = _leaf(directory, "elsewhere", ca, "subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth")
    client = _leaf(directory, CLIENT_NAME, ca, "extendedKeyUsage=clientAuth")
    return Pki(ca[0], server[0], server[1], wrong[0], wrong[1], client[0], client[1], other_ca)


def server_context(pki: Pki, *, wrong_name: bool = False, require_client_cert: bool = True) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if wrong_name:
        context.load_cert_chain(pki.wrong_name_cert, pki.wrong_name_key)
    else:
        context.load_cert_chain(pki.server_cert, pki.server_key)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)
    return context


@dataclass
class Handshake:
    ok: bool
    client_name: str | None = None
    error: str | None = None
    sni: str | None = None


@dataclass
class TlsServer:
    """Accepts connections on 127.0.0.1, runs ``before_tls`` on the plain socket (a protocol's
    TLS upgrade), does the handshake, records it, then runs ``after_tls`` (or closes)."""

    port: int
    handshakes: list[Handshake] = field(default_factory=list)

    def first_handshake(self, timeout: float = 5.0) -> Handshake:
        """The first handshake, waiting for its server thread to record it."""
        deadline = time.monotonic() + timeout
        while not self.handshakes:
            assert time.monotonic() < deadline, "no TLS handshake reached the server"
            time.sleep(0.01)
        return self.handshakes[0]


def _common_name(connection: ssl.SSLSocket) -> str | None:
    """The CN of the client certificate the peer presented (None without one)."""
    certificate = connection.getpeercert()
    subject = cast(tuple[tuple[tuple[str, str], ...], ...], certificate.get("subject", ()) if certificate else ())
    names = [value for rdn in subject for key, value in rdn if key == "commonName"]
    return names[0] if names else None


@contextmanager
def tls_server(
    context: ssl.SSLContext,
    *,
    before_tls: Callable[[socket.socket], bool] | None = None,
    after_tls: Callable[[ssl.SSLSocket], None] | None = None,
) -> Iterator[TlsServer]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    server = TlsServer(port=listener.getsockname()[1])
    stopping = threading.Event()
    seen_sni: list[str | None] = []

    def note_sni(_sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _context: ssl.SSLContext) -> None:
        seen_sni.append(name)

    context.sni_callback = note_sni

    def serve_one(connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            if before_tls is not None and not before_tls(connection):
                return
            seen_sni.clear()
            try:
                wrapped = context.wrap_socket(connection, server_side=True)
            except (ssl.SSLError, OSError) as error:
                server.handshakes.append(Handshake(ok=False, error=str(error)))
                return
            with wrapped:
                sni = seen_sni[0] if seen_sni else None
                server.handshakes.append(Handshake(True, _common_name(wrapped), sni=sni))
                if after_tls is not None:
                    after_tls(wrapped)

    def accept_loop() -> None:
        while not stopping.is_set():
            try:
                connection, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve_one, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, name="tls-test-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stopping.set()
        thread.join(timeout=5)
        listener.close()
