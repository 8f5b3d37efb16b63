"""Passwords in the URLs and the Elasticsearch API key never reach output: not the logs at start-up
(even at DEBUG), not error messages, not `archivist status`, not /readyz. Against the real
PostgreSQL (which trusts the test user, so any password in the URL connects)."""

from __future__ import annotations

import logging
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from archivist import wiring
from archivist.settings import get_settings
from tests.processes import archivist_env, run_archivist

UNREACHABLE = "127.0.0.1:9"
"""The discard port: nothing listens there, so connecting fails at once."""


def _secret() -> str:
    return f"pw-{uuid.uuid4().hex}"


@pytest.fixture
def secrets() -> dict[str, str]:
    return {"database": _secret(), "broker": _secret(), "elasticsearch": _secret(), "api_key": _secret()}


def _with_password(url: str, password: str) -> str:
    return make_url(url).set(password=password).render_as_string(hide_password=False)


@pytest.mark.integration
def test_status_and_start_up_logs_never_show_a_password(postgres_url: str, secrets: dict[str, str]) -> None:
    env = archivist_env(
        database_url=_with_password(postgres_url, secrets["database"]),
        broker_url=f"amqp://archivist:{secrets['broker']}@{UNREACHABLE}//",
    )
    status = run_archivist(["-v", "status"], env, timeout=120)
    output = status.stdout + status.stderr
    assert status.returncode == 2, output
    assert f"cannot reach the broker at amqp://archivist:***@{UNREACHABLE}//" in status.stderr
    env = archivist_env(
        database_url=_with_password(postgres_url, secrets["database"]),
        elasticsearch_url=f"http://elastic:{secrets['elasticsearch']}@{UNREACHABLE}",
        elasticsearch_api_key=secrets["api_key"],
        adapters="archive",
    )
    process = run_archivist(["-v", "process", "--until-empty"], env, timeout=120)
    output += process.stdout + process.stderr
    assert process.returncode == 0, output
    assert " INFO " in process.stderr, "-v logs the start-up, so this test looks at real log lines"
    for secret in secrets.values():
        assert secret not in output


@pytest.mark.integration
def test_readyz_and_debug_logs_never_show_a_password(
    postgres_url: str, secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ARCHIVIST_DATABASE_URL", _with_password(postgres_url, secrets["database"]))
    monkeypatch.setenv("ARCHIVIST_BROKER_URL", f"amqp://archivist:{secrets['broker']}@{UNREACHABLE}//")
    monkeypatch.setenv("ARCHIVIST_ELASTICSEARCH_URL", f"http://elastic:{secrets['elasticsearch']}@{UNREACHABLE}")
    monkeypatch.setenv("ARCHIVIST_ELASTICSEARCH_API_KEY", secrets["api_key"])
    get_settings.cache_clear()
    caplog.set_level(logging.DEBUG)
    settings = get_settings()
    logging.getLogger("test").debug("settings: %s %r", settings, settings)
    with TestClient(wiring.api_app(settings)) as client:
        ready = client.get("/readyz")
        metrics = client.get("/metrics")
    assert ready.status_code == 503
    assert ready.json()["checks"]["broker"]["status"] == "fail"
    assert ready.json()["checks"]["elasticsearch"]["status"] == "fail"
    assert "readiness: broker failed" in caplog.text, "the failures are logged, so the log is really looked at"
    for secret in secrets.values():
        assert secret not in ready.text
        assert secret not in metrics.text
        assert secret not in caplog.text
