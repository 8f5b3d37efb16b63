"""Errors in the shape the path calls for: a web page gets an HTML page with the status and a
message (a bad parameter, an unknown page, a date out of range, a bug), the API keeps JSON; and
no input, however far out of range, gets a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.web.conftest import WebSite, sign_in
from tests.web.conftest import site as site  # the web pages over two demo IRC logs


@pytest.fixture(scope="module")
def app(site: WebSite) -> FastAPI:
    app = site.app

    @app.get("/test-only/page-bug", include_in_schema=False)
    def page_bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/api/v1/test-only/api-bug", include_in_schema=False)
    def api_bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/test-only/far-future", include_in_schema=False)
    def far_future() -> None:
        raise OverflowError("date value out of range")

    return app


@pytest.fixture
def client(app: FastAPI, site: WebSite) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as test_client:
        sign_in(test_client, site.tokens["admin"])
        yield test_client


def _is_page(response: httpx.Response, status: int, *texts: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html"), response.text
    body = response.text
    assert "<!doctype html>" in body
    assert "Traceback" not in body
    for text in texts:
        assert text in body, body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("day=9999-12-31", "The day &#39;9999-12-31&#39; is outside the days a time line can show"),
        ("day=0001-01-01", "The day &#39;0001-01-01&#39; is outside the days a time line can show"),
        ("from=9999-12-31T12:00:00Z", "from &#39;9999-12-31T12:00:00Z&#39; is outside the times a time line can show"),
        ("until=0001-01-01T00:30:00Z", "until &#39;0001-01-01T00:30:00Z&#39; is outside the times"),
        ("from=0001-01-01T00:00:00%2B01:00", "from &#39;0001-01-01T00:00:00+01:00&#39; is outside the times"),
        ("from=9999-12-31T23:59:59-23:59", "from &#39;9999-12-31T23:59:59-23:59&#39; is outside the times"),
    ],
)
def test_a_time_line_out_of_range_is_a_422_page(client: TestClient, query: str, message: str) -> None:
    _is_page(client.get(f"/timeline?room=room:ubuntu&{query}"), 422, message)


def test_a_bad_page_parameter_is_a_422_page_not_json(client: TestClient) -> None:
    _is_page(client.get("/audit?before=yesterday"), 422, "before: Input should be a valid integer")
    _is_page(client.get("/conversation"), 422, "message: Field required")


def test_an_unknown_page_is_a_404_page_with_the_navigation(client: TestClient) -> None:
    _is_page(client.get("/no-such-page"), 404, "Not Found", 'aria-label="Main"')


def test_a_bug_on_a_page_is_a_500_page_with_a_reference(client: TestClient) -> None:
    _is_page(client.get("/test-only/page-bug"), 500, "internal error; the server log has the details under")


def test_an_out_of_range_value_anywhere_is_a_422(client: TestClient, site: WebSite) -> None:
    _is_page(client.get("/test-only/far-future"), 422, "out of the range the archive handles")
    admin = {"Authorization": f"Bearer {site.tokens['admin']}"}
    body = {
        "wall": {"name": "w", "side_a": [{"kind": "user", "id": "a"}], "side_b": [{"kind": "user", "id": "b"}]},
        "since": "0001-01-01T00:00:00+01:00",
        "until": "0001-01-02T00:00:00+00:00",
    }
    answer = client.post("/api/v1/policy/simulate", json=body, headers=admin)
    assert answer.status_code == 422, answer.text
    assert "out of the range" in answer.json()["detail"]["message"]


def test_the_api_keeps_json(client: TestClient, site: WebSite) -> None:
    admin = {"Authorization": f"Bearer {site.tokens['admin']}"}
    missing = client.get("/api/v1/no-such-route", headers=admin)
    assert missing.status_code == 404
    assert missing.json() == {"detail": {"message": "Not Found"}}
    bug = client.get("/api/v1/test-only/api-bug", headers=admin)
    assert bug.status_code == 500
    assert bug.json()["detail"]["message"].startswith("internal error; the server log has the details under")
    invalid = client.get("/api/v1/audit?limit=0", headers=admin)
    assert invalid.status_code == 422
    assert invalid.json()["detail"]["message"].startswith("query.limit:")
