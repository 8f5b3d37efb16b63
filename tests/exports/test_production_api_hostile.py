"""hostile input to the production routes is a 4xx, never a 500 (PostgreSQL,
which refuses NUL characters in text and in JSON)."""

from __future__ import annotations

from pathlib import Path

from archive.principals import create_token
from cases.model import CaseSpec
from cases.store import CaseStore
from ingest.staging import StagingStore
from tests.api_client import api_client, auth


def test_a_nul_in_a_case_id_of_the_production_log_is_not_a_500(postgres_store: StagingStore, tmp_path: Path) -> None:
    token = create_token(postgres_store.engine, "legal", "nul")
    with api_client(postgres_store, tmp_path / "index") as client:
        log = client.get("/api/v1/cases/a%00b/productions", headers=auth(token))
        started = client.post(
            "/api/v1/search/export",
            json={"search": {"query": "ubuntu"}, "formats": ["jsonl"], "case_id": "a\u0000b"},
            headers=auth(token),
        )
    assert (log.status_code, started.status_code) == (404, 404), (log.text, started.text)


def test_a_nul_in_a_case_id_of_the_older_case_routes_is_a_404(postgres_store: StagingStore, tmp_path: Path) -> None:
    token = create_token(postgres_store.engine, "legal", "nul")
    with api_client(postgres_store, tmp_path / "index") as client:
        answers = [
            client.get("/api/v1/cases/a%00b", headers=auth(token)),
            client.get("/api/v1/cases/a%00b/holds", headers=auth(token)),
            client.post(
                "/api/v1/exports",
                json={"query": "ubuntu", "formats": ["jsonl"], "case_id": "a\u0000b"},
                headers=auth(token),
            ),
        ]
    assert [answer.status_code for answer in answers] == [404, 404, 404], [answer.text for answer in answers]


def test_a_nul_in_a_recipient_is_not_a_500(postgres_store: StagingStore, tmp_path: Path) -> None:
    token = create_token(postgres_store.engine, "legal", "nul")
    case = CaseStore(postgres_store.engine).create_case(CaseSpec(name="NUL"), "legal")
    order = {"search": {"query": "ubuntu"}, "formats": ["jsonl"], "case_id": case.id, "recipients": ["Reg\u0000ulator"]}
    with api_client(postgres_store, tmp_path / "index") as client:
        started = client.post("/api/v1/search/export", json=order, headers=auth(token))
    assert started.status_code < 500, started.text
