"""Real TLS handshakes, against servers of the test's own with a throwaway CA (no shared server is
touched): the options built from the settings reach kombu/py-amqp, psycopg/libpq and
elasticsearch-py, the server's certificate and name are checked, and the client certificate is
presented."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from kombu import Connection
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy.exc import OperationalError

from archivist import wiring
from archivist.settings import Settings
from archivist.tls import broker_ssl_options, database_connect_args
from ingest.db import create_db_engine
from tests.security.pki import CLIENT_NAME, Pki, make_pki, server_context, tls_server

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


# --- RabbitMQ (amqps://) ---------------------------------------------------------------------


def _amqp_attempt(settings: Settings) -> None:
    """Connect once as the consumer does; the test server speaks TLS but not AMQP, so it fails."""
    assert settings.broker_url is not None
    connection = Connection(settings.broker_url.get_secret_value(), ssl=broker_ssl_options(settings), connect_timeout=3)
    try:
        with pytest.raises(KombuOperationalError):
            connection.ensure_connection(max_retries=0)
    finally:
        connection.release()


def test_amqps_presents_the_client_certificate_and_trusts_the_configured_ca(pki: Pki) -> None:
    with tls_server(server_context(pki)) as server:
        settings = Settings(
            broker_url=f"amqps://archivist:pw@localhost:{server.port}//",
            broker_tls_ca_file=pki.ca,
            broker_tls_cert_file=pki.client_cert,
            broker_tls_key_file=pki.client_key,
        )
        _amqp_attempt(settings)
        handshake = server.first_handshake()
    assert handshake.ok, handshake.error
    assert handshake.client_name == CLIENT_NAME
    assert handshake.sni == "localhost", "the host name is sent (SNI) so it can be checked"


def test_amqps_refuses_a_certificate_for_another_host_name(pki: Pki) -> None:
    with tls_server(server_context(pki, wrong_name=True, require_client_cert=False)) as server:
        url = f"amqps://archivist:pw@localhost:{server.port}//"
        settings = Settings(broker_url=url, broker_tls_ca_file=pki.ca)
        assert settings.broker_tls_verify_hostname
        _amqp_attempt(settings)
        refused = server.first_handshake()
        assert not refused.ok, "the client must abort the handshake on a name mismatch"
    with tls_server(server_context(pki, wrong_name=True, require_client_cert=False)) as server:
        # Switched off on purpose, the same certificate is accepted (its CA is still checked).
        url = f"amqps://archivist:pw@localhost:{server.port}//"
        _amqp_attempt(Settings(broker_url=url, broker_tls_ca_file=pki.ca, broker_tls_verify_hostname=False))
        accepted = server.first_handshake()
        assert accepted.ok, accepted.error
        assert len(server.handshakes) == 1


def test_amqps_refuses_a_server_signed_by_another_ca(pki: Pki) -> None:
    with tls_server(server_context(pki, require_client_cert=False)) as server:
        _amqp_attempt(Settings(broker_url=f"amqps://localhost:{server.port}//", broker_tls_ca_file=pki.other_ca))
        assert not server.first_handshake().ok


# --- PostgreSQL (sslmode=verify-full) ----------------------------------------------------------


def _postgres_tls_upgrade(connection: socket.socket) -> bool:
    """The server side of PostgreSQL's SSLRequest: answer 'S', then the TLS handshake follows."""
    while True:
        header = connection.recv(8, socket.MSG_WAITALL)
        if len(header) < 8:
            return False
        _length, code = struct.unpack("!II", header)
        if code == GSSENC_REQUEST:
            connection.sendall(b"N")  # no GSSAPI encryption here: libpq then asks for TLS
            continue
        if code != SSL_REQUEST:
            return False
        connection.sendall(b"S")
        return True


def test_postgresql_verify_full_with_client_certificate(pki: Pki) -> None:
    with tls_server(server_context(pki), before_tls=_postgres_tls_upgrade) as server:
        settings = Settings(
            database_url=f"postgresql://archivist:pw@localhost:{server.port}/archivist?connect_timeout=5",
            database_tls_ca_file=pki.ca,
            database_tls_cert_file=pki.client_cert,
            database_tls_key_file=pki.client_key,
        )
        assert database_connect_args(settings)["sslmode"] == "verify-full"
        engine = create_db_engine(settings.resolved_database_url, database_connect_args(settings))
        with pytest.raises(OperationalError):
            engine.connect().close()  # the test server closes after the handshake
        engine.dispose()
        handshake = server.first_handshake()
    assert handshake.ok, handshake.error
    assert handshake.client_name == CLIENT_NAME


def test_postgresql_verify_full_refuses_another_host_name(pki: Pki) -> None:
    context = server_context(pki, wrong_name=True, require_client_cert=False)
    with tls_server(context, before_tls=_postgres_tls_upgrade) as server:
        settings = Settings(
            database_url=f"postgresql://archivist@localhost:{server.port}/archivist?connect_timeout=5",
            database_tls_ca_file=pki.ca,
        )
        engine = create_db_engine(settings.resolved_database_url, database_connect_args(settings))
        # libpq checks the name once the handshake is done, and hangs up before logging in.
        with pytest.raises(OperationalError, match="does not match host name"):
            engine.connect().close()
        engine.dispose()


def test_the_settings_win_over_sslmode_in_the_url(pki: Pki) -> None:
    """``sslmode=disable`` in the URL would send no SSLRequest at all; the settings' mode wins."""
    with tls_server(server_context(pki, require_client_cert=False), before_tls=_postgres_tls_upgrade) as server:
        settings = Settings(
            database_url=f"postgresql://archivist@localhost:{server.port}/archivist?sslmode=disable&connect_timeout=5",
            database_tls_ca_file=pki.ca,
        )
        engine = create_db_engine(settings.resolved_database_url, database_connect_args(settings))
        with pytest.raises(OperationalError):
            engine.connect().close()
        engine.dispose()
        assert server.first_handshake().ok


# --- Elasticsearch (https:// with a CA bundle and an API key) -----------------------------------


class _FakeElasticsearch(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        self.seen.append({name.lower(): value for name, value in self.headers.items()})
        body = json.dumps(
            {
                "name": "test",
                "cluster_name": "test",
                "version": {"number": "9.1.2", "build_flavor": "default"},
                "tagline": "You Know, for Search",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_elasticsearch(pki: Pki) -> Iterator[tuple[int, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_FakeElasticsearch,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.socket = server_context(pki, require_client_cert=False).wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_elasticsearch_client_trusts_the_ca_file_and_sends_the_api_key(
    pki: Pki, fake_elasticsearch: tuple[int, list[dict[str, str]]]
) -> None:
    port, seen = fake_elasticsearch
    settings = Settings(
        elasticsearch_url=f"https://localhost:{port}",
        elasticsearch_tls_ca_file=pki.ca,
        elasticsearch_api_key="ZW5jb2RlZC1rZXk=",
    )
    client = wiring.elasticsearch_client(settings)
    try:
        assert client.info()["version"]["number"] == "9.1.2"
    finally:
        client.close()
    assert seen[0]["authorization"] == "ApiKey ZW5jb2RlZC1rZXk="


def test_elasticsearch_client_refuses_a_server_its_ca_did_not_sign(
    pki: Pki, fake_elasticsearch: tuple[int, list[dict[str, str]]]
) -> None:
    from elastic_transport import TlsError

    port, seen = fake_elasticsearch
    settings = Settings(elasticsearch_url=f"https://localhost:{port}", elasticsearch_tls_ca_file=pki.other_ca)
    client = wiring.elasticsearch_client(settings).options(max_retries=0)
    try:
        with pytest.raises(TlsError):
            client.info()
    finally:
        client.close()
    assert not seen


def test_the_elasticsearch_adapter_gets_the_same_options(pki: Pki, tmp_path: Path) -> None:
    from adapters.es_adapter import create

    settings = Settings(
        elasticsearch_url="https://localhost:9200", elasticsearch_tls_ca_file=pki.ca, elasticsearch_api_key="k3y"
    )
    store = wiring.staging_store(settings)
    context = wiring.adapter_context(settings, store)
    assert context.elasticsearch_url == "https://localhost:9200"
    assert context.options["es_ca_certs"] == str(pki.ca)
    assert context.options["es_api_key"] == "k3y"
    adapter = create(context)
    try:
        node = adapter.client.transport.node_pool.all()[0]
        assert node.config.ca_certs == str(pki.ca)
        assert adapter.client._headers["authorization"] == "ApiKey k3y"
    finally:
        adapter.close()
