"""A production's control numbers fit its prefix's width: a start past it is refused (409) and a
production that would run past it fails, giving its numbers back; a prefix a review platform
could confuse with the case's is refused (409) naming both."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cases.productions import ProductionLog
from ingest.staging import StagingStore
from tests.api_client import auth
from tests.exports.test_productions import _test_formats, client, open_case, produce, tokens  # noqa: F401


def test_a_production_past_the_width_is_refused_or_fails_cleanly(
    client: TestClient,  # noqa: F811
    tokens: dict[str, str],  # noqa: F811
    store: StagingStore,
) -> None:
    legal = tokens["legal"]
    case = open_case(client, legal)
    refused = client.post(
        "/api/v1/exports",
        json={"query": "ubuntu", "formats": ["numbered"], "case_id": case, "bates_start": 10_000_001},
        headers=auth(legal),
    )
    assert refused.status_code == 409, refused.text
    assert "does not fit" in refused.json()["detail"]["message"]

    overflowing = produce(client, legal, case_id=case, bates_prefix="ACME-", bates_start=9_999_999)
    assert overflowing["status"] == "failed"
    assert "ACME-9999999" in overflowing["error"]
    (production,) = ProductionLog(store.engine).productions(case)
    assert (production.state, production.first_number) == ("failed", None)

    clash = client.post(
        "/api/v1/exports",
        json={"query": "ubuntu", "formats": ["numbered"], "case_id": case, "bates_prefix": "ACME-"},
        headers=auth(legal),
    )
    assert clash.status_code == 202, "the failed production gave its numbers back"


def test_a_prefix_clash_is_a_409_naming_both(client: TestClient, tokens: dict[str, str]) -> None:  # noqa: F811
    legal = tokens["legal"]
    case = open_case(client, legal)
    assert produce(client, legal, case_id=case, bates_prefix="ACME-")["status"] == "done"
    for prefix in ("acme-", "ACME-1"):
        refused = client.post(
            "/api/v1/exports",
            json={"query": "ubuntu", "formats": ["numbered"], "case_id": case, "bates_prefix": prefix},
            headers=auth(legal),
        )
        assert refused.status_code == 409, refused.text
        assert "'ACME-'" in refused.json()["detail"]["message"]
        assert repr(prefix) in refused.json()["detail"]["message"]
