"""POST /search/export into a case whose time zone is America/New_York, the
search given without a time_zone: SearchRequest defaults it to UTC, so the production ignores the
case's zone (POST /exports of the same case and query cuts days in New York)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api_client import auth
from tests.exports.test_export_jobs import finished
from tests.exports.test_productions import _test_formats, client, tokens  # noqa: F401


def test_a_search_export_into_a_case_keeps_the_cases_zone(client: TestClient, tokens: dict[str, str]) -> None:  # noqa: F811
    legal = tokens["legal"]
    created = client.post(
        "/api/v1/cases", json={"name": "NY case", "time_zone": "America/New_York"}, headers=auth(legal)
    )
    assert created.status_code == 201, created.text
    case = created.json()["id"]
    by_order = client.post(
        "/api/v1/exports", json={"query": "ubuntu", "formats": ["numbered"], "case_id": case}, headers=auth(legal)
    )
    first = finished(client, by_order.json()["id"], legal)
    by_search = client.post(
        "/api/v1/search/export",
        json={"search": {"query": "ubuntu"}, "formats": ["numbered"], "case_id": case},
        headers=auth(legal),
    )
    assert by_search.status_code == 202, by_search.text
    second = finished(client, by_search.json()["id"], legal)
    assert first["manifest"]["time_zone"]["name"] == "America/New_York"
    assert second["manifest"]["time_zone"]["name"] == first["manifest"]["time_zone"]["name"]
