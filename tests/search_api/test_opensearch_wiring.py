"""ARCHIVIST_OPENSEARCH_URL: the API searches OpenSearch, the processor builds the opensearch
adapter, /readyz checks the node (a real one: the session's test node)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opensearchpy import ConnectionError
from pydantic import ValidationError

from adapters.opensearch_adapter import OpenSearchAdapter
from adapters.registry import build_adapters
from archivist import wiring
from archivist.settings import Settings, get_settings
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search.backends import OpenSearchSearchBackend
from search.opensearch_client import opensearch_client
from search_api.app import create_app
from search_api.deps import AppServices

UNREACHABLE = "http://127.0.0.1:1"


def _readyz(store: StagingStore, tmp_path: Path) -> tuple[int, dict[str, object]]:
    services = AppServices(
        engine=store.engine,
        index_dir=tmp_path / "index",
        sink=StagingSink(store),
        probes=wiring.probes(get_settings()),
    )
    with TestClient(create_app(services)) as client:
        response = client.get("/readyz")
    return response.status_code, response.json()


def test_the_api_searches_opensearch_when_its_url_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_OPENSEARCH_URL", UNREACHABLE)
    backend = wiring.api_app(Settings()).state.services.search_backend()
    assert isinstance(backend, OpenSearchSearchBackend)


def test_both_engines_at_once_are_refused_with_both_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_OPENSEARCH_URL", UNREACHABLE)
    monkeypatch.setenv("ARCHIVIST_ELASTICSEARCH_URL", UNREACHABLE)
    with pytest.raises(ValidationError, match="ARCHIVIST_ELASTICSEARCH_URL or ARCHIVIST_OPENSEARCH_URL, not both"):
        Settings()


def test_a_ca_file_needs_an_https_opensearch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read before the URL is checked")
    monkeypatch.setenv("ARCHIVIST_OPENSEARCH_URL", UNREACHABLE)
    monkeypatch.setenv("ARCHIVIST_OPENSEARCH_TLS_CA_FILE", str(ca))
    with pytest.raises(ValidationError, match="needs an https:// ARCHIVIST_OPENSEARCH_URL"):
        Settings()


def test_the_opensearch_adapter_is_built_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, sqlite_store: StagingStore
) -> None:
    monkeypatch.setenv("ARCHIVIST_OPENSEARCH_URL", UNREACHABLE)
    built = build_adapters("opensearch", wiring.adapter_context(Settings(), sqlite_store))
    (adapter,) = [adapter for adapter in built if adapter.name == "opensearch"]
    assert isinstance(adapter, OpenSearchAdapter)


def test_the_opensearch_adapter_without_a_url_is_a_clear_error(sqlite_store: StagingStore) -> None:
    with pytest.raises(ValueError, match="needs ARCHIVIST_OPENSEARCH_URL"):
        build_adapters("opensearch", wiring.adapter_context(Settings(), sqlite_store))


def test_readyz_is_ok_with_a_live_opensearch(
    monkeypatch: pytest.MonkeyPatch, sqlite_store: StagingStore, tmp_path: Path, opensearch_url: str
) -> None:
    monkeypatch.setenv("ARCHIVIST_OPENSEARCH_URL", opensearch_url)
    get_settings.cache_clear()
    status, body = _readyz(sqlite_store, tmp_path)
    assert status == 200, body
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert set(checks) == {"database", "opensearch"}
    assert checks["opensearch"]["status"] == "ok"


def test_readyz_is_503_without_echoing_the_url_when_opensearch_is_down(
    monkeypatch: pytest.MonkeyPatch, sqlite_store: StagingStore, tmp_path: Path
) -> None:
    monkeypatch.setenv("ARCHIVIST_OPENSEARCH_URL", "http://admin:hunter2@127.0.0.1:1")
    get_settings.cache_clear()
    status, body = _readyz(sqlite_store, tmp_path)
    assert status == 503
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks["opensearch"]["status"] == "fail"
    assert "hunter2" not in str(body)
    assert "127.0.0.1" not in str(body)


def test_a_url_that_is_not_http_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_OPENSEARCH_URL", "http://node-1:9200,ftp://node-2:9200")
    with pytest.raises(ValidationError, match="one or more http:// or https:// URLs of one cluster"):
        Settings()


def test_several_nodes_keep_answering_when_one_is_down(opensearch_url: str) -> None:
    """The fault test's finding: a client of one node fails while that node is down; given every
    node of the cluster (comma-separated) it sends each request to one that answers."""
    down_first = opensearch_client(f"{UNREACHABLE}, {opensearch_url}", max_retries=2)
    try:
        for _ in range(4):  # the client rotates over its nodes: some requests go to the dead one first
            assert down_first.cluster.health()["status"] in {"green", "yellow"}
    finally:
        down_first.close()
    alone = opensearch_client(UNREACHABLE, max_retries=0)
    with pytest.raises(ConnectionError):
        alone.cluster.health()
    alone.close()
