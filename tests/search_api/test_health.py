"""/healthz, /readyz and /metrics: no token, no traceback, bounded in time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from typer.testing import CliRunner

from archive.principals import create_token
from archivist import wiring
from archivist.cli import app
from archivist.settings import Settings, get_settings
from ingest.sink import StagingSink
from ingest.staging import StagingStore, to_row
from search_api.app import create_app
from search_api.deps import AppServices
from search_api.health import run_checks
from search_api.probes import BrokerTarget, ElasticsearchTarget, Probes
from tests.factories import posts
from tests.services import AMQP_URL, require_rabbitmq

UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1//"
UNREACHABLE_ES = "http://127.0.0.1:1"


def _client(store: StagingStore, tmp_path: Path) -> TestClient:
    """The app over ``store``, probing what the settings of the environment configure now."""
    services = AppServices(
        engine=store.engine,
        index_dir=tmp_path / "index",
        sink=StagingSink(store),
        probes=wiring.probes(get_settings()),
    )
    return TestClient(create_app(services))


@pytest.fixture
def client(sqlite_store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    with _client(sqlite_store, tmp_path) as test_client:
        yield test_client


def test_healthz_needs_no_token_and_does_no_io(tmp_path: Path) -> None:
    # An engine on a file that cannot exist: /healthz must not touch it.
    engine = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'nothing' / 'x.sqlite3'}")
    services = AppServices(engine=engine, index_dir=tmp_path, sink=StagingSink(StagingStore(engine)))
    with TestClient(create_app(services)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_on_the_embedded_default(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database"}, "no broker or Elasticsearch configured, none checked"
    assert body["checks"]["database"]["status"] == "ok"


def test_readyz_is_503_within_three_seconds_when_the_broker_is_unreachable(
    sqlite_store: StagingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHIVIST_BROKER_URL", UNREACHABLE_BROKER)
    get_settings.cache_clear()
    with _client(sqlite_store, tmp_path) as client:
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    assert elapsed < 3.0
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "fail"
    assert "Traceback" not in response.text
    assert "127.0.0.1" not in response.text, "an unauthenticated probe does not echo hosts or URLs"


def test_readyz_checks_elasticsearch_when_configured(
    sqlite_store: StagingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHIVIST_ELASTICSEARCH_URL", UNREACHABLE_ES)
    get_settings.cache_clear()
    with _client(sqlite_store, tmp_path) as client:
        started = time.monotonic()
        response = client.get("/readyz")
        assert time.monotonic() - started < 3.0
    assert response.status_code == 503
    assert response.json()["checks"]["elasticsearch"]["status"] == "fail"


def test_settings_that_do_not_validate_stop_serve_before_it_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probes are built once from settings that validated: invalid ones never reach a
    running app, ``archivist serve`` reports them (not a traceback) and does not start."""
    monkeypatch.setenv("ARCHIVIST_PREFETCH", "0")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "invalid settings" in result.output
    assert "Traceback" not in result.output


def test_a_hanging_check_is_a_timeout_at_the_deadline() -> None:
    started = time.monotonic()
    checks = run_checks({"slow": lambda: time.sleep(1.0), "fast": lambda: None}, deadline=0.2)
    assert time.monotonic() - started < 0.9
    assert checks["slow"].status == "timeout"
    assert checks["fast"].status == "ok"


def test_metrics_expose_request_and_search_latency_and_pipeline_gauges(
    client: TestClient, sqlite_store: StagingStore
) -> None:
    token = create_token(sqlite_store.engine, "admin", "metrics test")
    sqlite_store.insert([to_row(event) for event in posts(3)])
    searched = client.post("/api/v1/search", json={"query": "anything"}, headers={"Authorization": f"Bearer {token}"})
    assert searched.status_code in {200, 404, 422, 503}
    client.get("/no/such/path/12345")
    client.get("/api/v1/messages/msg:nothing-here", headers={"Authorization": f"Bearer {token}"})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE archivist_api_request_seconds histogram" in text
    assert "# TYPE archivist_search_seconds histogram" in text
    assert f'archivist_search_seconds_count{{status="{searched.status_code}"}}' in text
    assert 'route="/api/v1/search"' in text
    assert 'route="/no/such/path/12345"' not in text, "raw paths never become labels"
    assert 'route="unmatched"' in text
    assert 'archivist_staging_events{state="staged"} 3.0' in text
    assert 'archivist_staging_events{state="parked"} 0.0' in text
    assert 'archivist_pipeline_figures_up{source="broker"} 0.0' in text
    assert 'route="/api/v1/messages/{message_id}"' in text, "path parameters stay templates"


@pytest.mark.integration
def test_readyz_is_ok_against_the_real_database_and_broker(
    store: StagingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_rabbitmq()
    monkeypatch.setenv("ARCHIVIST_BROKER_URL", AMQP_URL)
    get_settings.cache_clear()
    with _client(store, tmp_path) as client:
        response = client.get("/readyz")
        metrics = client.get("/metrics").text
    assert response.status_code == 200, response.text
    assert {name: check["status"] for name, check in response.json()["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
    }
    assert 'archivist_pipeline_figures_up{source="staging"} 1.0' in metrics
    assert 'archivist_pipeline_figures_up{source="broker"} 1.0' in metrics


def test_the_probes_are_what_the_settings_configure_and_show_no_secret() -> None:
    assert wiring.probes(Settings()) == Probes(), "the embedded default probes only the database"
    settings = Settings(
        broker_url="amqp://archivist:broker-secret@rabbit//",
        queue="events",
        dead_letter_queue="dead",
        elasticsearch_url="http://elastic:es-secret@es:9200",
        elasticsearch_api_key="api-key-secret",
    )
    broker_url, elasticsearch_url = settings.broker_url, settings.elasticsearch_url
    assert broker_url is not None
    assert elasticsearch_url is not None
    probes = wiring.probes(settings)
    assert probes.broker == BrokerTarget(broker_url, None, "events", "dead")
    assert probes.elasticsearch == ElasticsearchTarget(elasticsearch_url, {"api_key": "api-key-secret"})
    for secret in ("broker-secret", "es-secret", "api-key-secret"):
        assert secret not in repr(probes)
