"""Two additions (or codings) of one set at once: each document and coding lands once, and the
counts of the two add up (the set's row is held while one of them writes)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from archive.principals import Principal
from ingest.staging import StagingStore
from review import adding, coding
from review.sets import get_set
from tests.api_client import auth
from tests.review.coding.conftest import new_set

NAMES = [f"msg:acme{index}" for index in range(40)]


def test_additions_and_codings_at_once_land_once(
    client: TestClient, tokens: dict[str, str], case_id: str, store: StagingStore
) -> None:
    set_id = new_set(client, tokens["legal"], case_id)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: adding.add_by_hand(store.engine, set_id, NAMES, "test"), range(2)))
    assert sorted((r.added, r.already) for r in results) == [(0, 40), (40, 0)]
    review_set = get_set(store.engine, set_id)
    assert review_set.documents == 40
    keys = [f"message:{name}" for name in NAMES]
    caller = Principal("t", "test legal", "legal")
    change = coding.CodingChange(add=["hot"])
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda _: coding.code(store.engine, caller, review_set, keys, change, {}), range(2)))
    assert sorted(d.changed for d in done) == [0, 40]
    tagged = client.get(
        f"/api/v1/review-sets/{set_id}/documents", params={"query": "tag:hot"}, headers=auth(tokens["legal"])
    )
    assert tagged.json()["total"] == 40
