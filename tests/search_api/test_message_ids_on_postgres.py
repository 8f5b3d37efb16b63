"""A message id PostgreSQL cannot take as a parameter (a NUL character) is a 404, never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.principals import create_token
from ingest.staging import StagingStore
from tests.api_client import api_client, auth


@pytest.mark.parametrize("suffix", ["", "/context", "/reads"])
def test_a_nul_in_a_message_id_is_not_found_on_postgresql(
    postgres_store: StagingStore, tmp_path: Path, suffix: str
) -> None:
    token = create_token(postgres_store.engine, "compliance_officer", "nul")
    with api_client(postgres_store, tmp_path / "index") as client:
        answer = client.get(f"/api/v1/messages/a%00b{suffix}", headers=auth(token))
    assert answer.status_code == 404
    assert "no archived message" in answer.json()["detail"]["message"]
