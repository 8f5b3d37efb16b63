"""ARCHIVIST_PUBLIC_BASE_URL: an escalation notice carries the item's absolute address."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from adapters.archive import ArchiveAdapter
from archivist.settings import Settings
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api.app import create_app
from search_api.deps import AppServices
from supervision.schema import supervision_webhook_deliveries
from tests.api_client import auth
from tests.supervision.queues.items import NOW, desk_events, items_of, make_policy


def _bodies(store: StagingStore) -> list[dict[str, object]]:
    with store.engine.connect() as connection:
        return [
            json.loads(body) for body in connection.execute(select(supervision_webhook_deliveries.c.body)).scalars()
        ]


@pytest.mark.parametrize("base", ["https://archive.example.com", "https://archive.example.com/"])
def test_an_escalation_through_the_api_names_the_items_address(
    store: StagingStore, tmp_path: Path, tokens: dict[str, str], base: str
) -> None:
    ArchiveAdapter(store.engine).write(desk_events())
    policy = make_policy(store.engine)
    [item_id, *_] = items_of(store.engine, policy, desk_events(), NOW - timedelta(hours=30))
    services = AppServices(
        engine=store.engine, index_dir=tmp_path / "index", sink=StagingSink(store), public_base_url=base
    )
    with TestClient(create_app(services)) as client:
        answer = client.post(
            f"/api/v1/supervision/items/{item_id}/escalate",
            json={"comment": "promise of returns"},
            headers=auth(tokens["supervisor"]),
        )
    assert answer.status_code == 200, answer.text
    [body] = _bodies(store)
    assert body["link"] == f"/supervision/items/{item_id}"
    assert body["url"] == f"https://archive.example.com/supervision/items/{item_id}"


def test_without_a_base_the_notice_has_no_address(store: StagingStore, tmp_path: Path, tokens: dict[str, str]) -> None:
    ArchiveAdapter(store.engine).write(desk_events())
    policy = make_policy(store.engine)
    [item_id, *_] = items_of(store.engine, policy, desk_events(), NOW - timedelta(hours=30))
    services = AppServices(engine=store.engine, index_dir=tmp_path / "index", sink=StagingSink(store))
    with TestClient(create_app(services)) as client:
        answer = client.post(
            f"/api/v1/supervision/items/{item_id}/escalate", json={"comment": "x"}, headers=auth(tokens["supervisor"])
        )
    assert answer.status_code == 200, answer.text
    [body] = _bodies(store)
    assert body["url"] is None


@pytest.mark.parametrize("wrong", ["archive.example.com", "ftp://archive.example.com", "https://a.example/?q=1"])
def test_a_base_url_that_is_no_web_address_is_refused(wrong: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="public_base_url"):
        Settings(data_dir=tmp_path, public_base_url=wrong)


def test_a_base_url_is_kept_without_its_trailing_slash(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, public_base_url="https://archive.example.com/archivist/")
    assert settings.public_base_url == "https://archive.example.com/archivist"
