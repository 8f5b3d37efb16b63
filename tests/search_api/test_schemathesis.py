"""Schemathesis explores every route of the OpenAPI schema: no input may cause a server error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.principals import create_token
from archivist.migrate import upgrade
from ingest.db import create_db_engine
from ingest.irc import read_irc_file
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api.app import create_app
from search_api.deps import AppServices

DEMO_LOG = Path(__file__).resolve().parents[2] / "archivist" / "demo_data" / "ubuntu-irc" / "2009-03-03_10.raw.txt"


def _app(folder: Path) -> tuple[FastAPI, str]:
    engine = create_db_engine(f"sqlite:///{folder / 'archive.sqlite3'}")
    upgrade(engine)
    events = list(read_irc_file(DEMO_LOG))[:300]
    ArchiveAdapter(engine).write(events)
    index = TantivyIndexAdapter(folder / "index")
    index.write(events)
    index.close()
    services = AppServices(engine=engine, index_dir=folder / "index", sink=StagingSink(StagingStore(engine)))
    return create_app(services), create_token(engine, "admin", "schemathesis")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, str]:
    return _app(tmp_path_factory.mktemp("schemathesis"))


def test_no_input_causes_a_server_error(api: tuple[FastAPI, str]) -> None:
    """Every operation, with generated paths, queries and bodies (schemathesis's pytest plugin
    does not load under pytest 9, so the operations are driven through hypothesis directly)."""
    app, token = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI schema has an invalid operation: {result}"
        operations.append(result.ok())
    assert len(operations) >= 8
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            statuses.append(response.status_code)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
            )

        no_server_error()
    assert len(statuses) >= 8 * 10, "every operation was really exercised"
    assert {200, 422} <= set(statuses)
