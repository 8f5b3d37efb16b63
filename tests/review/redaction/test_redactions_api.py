"""``/cases/{id}/redactions``, ``/redaction-texts``, review sets' privilege descriptions and logs,
and productions of a case and of a review set through the API (issue 20): roles (401, 403 for
every role but legal and admin), every bad input a 4xx with a message, every change audited,
and what a production then holds."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from archive.audit import entries
from archive.fs_file_store import FsFileStore
from archive.principals import ROLES, create_token
from archive.record import verify_archive
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from review.schema import review_codings, review_documents, review_sets, review_tag_groups, review_tags
from search_api.app import create_app
from search_api.deps import AppServices
from tests.review.redaction.leak_search import found_in, zip_blobs
from tests.review.redaction.test_production_redaction import (
    DAY,
    EDIT,
    EVENTS,
    NOTE,
    OTHER,
    POST,
    PRIVILEGED,
    UPLOAD_ID,
    archived,  # noqa: F401  (the fixture)
)

ALLOWED = {"legal", "admin"}


@pytest.fixture
def client(store: StagingStore, archived: tuple[Path, FsFileStore]) -> Iterator[TestClient]:  # noqa: F811
    index, files = archived
    services = AppServices(engine=store.engine, index_dir=index, sink=StagingSink(store), file_store=files)
    with TestClient(create_app(services)) as test_client:
        yield test_client


@pytest.fixture
def auth(store: StagingStore) -> dict[str, dict[str, str]]:
    return {role: {"Authorization": f"Bearer {create_token(store.engine, role, f'test {role}')}"} for role in ROLES}


def _case(client: TestClient, auth: dict[str, dict[str, str]]) -> str:
    created = client.post("/api/v1/cases", json={"name": "Acme v. Widget"}, headers=auth["legal"])
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _span(text: str, piece: str) -> tuple[int, int]:
    start = text.index(piece)
    return start, start + len(piece)


def finished(client: TestClient, export_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/exports/{export_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"export {export_id} did not finish")


def test_every_route_is_legal_and_admin_only(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    case_id = _case(client, auth)
    start, end = _span(POST, "SECRETALPHA123")
    body = {"target": "message", "message_id": "m0", "version": 1, "start": start, "end": end, "reason": "PII"}
    routes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/api/v1/redaction-reasons", None),
        ("GET", f"/api/v1/cases/{case_id}/redactions", None),
        ("POST", f"/api/v1/cases/{case_id}/redactions", body),
        ("DELETE", f"/api/v1/cases/{case_id}/redactions/nope", None),
        ("GET", f"/api/v1/cases/{case_id}/redaction-texts?message_id=m0", None),
        ("PUT", "/api/v1/review-sets/nope/privilege-description", {"doc_key": "message:m0", "description": "x"}),
        ("GET", "/api/v1/review-sets/nope/privilege-log.csv", None),
        ("GET", "/api/v1/review-sets/nope/privilege-log.pdf", None),
    ]
    for method, path, json_body in routes:
        assert client.request(method, path, json=json_body).status_code == 401, path
        for role in ROLES:
            status = client.request(method, path, json=json_body, headers=auth[role]).status_code
            if role in ALLOWED:
                assert status not in (401, 403), (path, role)
            else:
                assert status == 403, (path, role, status)


def test_add_list_and_remove_redactions_audited(
    client: TestClient, auth: dict[str, dict[str, str]], store: StagingStore
) -> None:
    legal = auth["legal"]
    case_id = _case(client, auth)
    base = f"/api/v1/cases/{case_id}/redactions"
    texts = client.get(f"/api/v1/cases/{case_id}/redaction-texts?message_id=m0", headers=legal)
    assert texts.status_code == 200, texts.text
    assert [(v["version"], v["kind"], v["text"]) for v in texts.json()["versions"]] == [
        (1, "post", POST),
        (2, "edit", EDIT),
    ]
    start, end = _span(EDIT, "SECRETBRAVO456")
    made = client.post(
        base,
        json={"target": "message", "message_id": "m0", "version": 2, "start": start, "end": end, "reason": "PII"},
        headers=legal,
    )
    assert made.status_code == 201, made.text
    redaction = made.json()
    assert (redaction["start"], redaction["end"], redaction["version"]) == (start, end, 2)
    assert redaction["text_sha256"] == texts.json()["versions"][1]["text_sha256"]
    fstart, fend = _span(NOTE, "SECRETCHARLIE789")
    on_file = client.post(
        base,
        json={"target": "file", "file_event_id": UPLOAD_ID, "start": fstart, "end": fend, "reason": "Trade Secret"},
        headers=legal,
    )
    assert on_file.status_code == 201, on_file.text
    assert [r["id"] for r in client.get(f"{base}?message_id=m0", headers=legal).json()] == [redaction["id"]]
    assert len(client.get(base, headers=legal).json()) == 2

    removed = client.delete(f"{base}/{redaction['id']}", headers=legal)
    assert removed.status_code == 200
    assert removed.json()["removed_at"] is not None
    assert removed.json()["removed_by"].startswith("test legal")
    again = client.delete(f"{base}/{redaction['id']}", headers=legal)
    assert again.status_code == 409
    assert "removed already" in again.json()["detail"]["message"]
    assert [r["id"] for r in client.get(base, headers=legal).json()] == [on_file.json()["id"]]
    kept = client.get(f"{base}?include_removed=true", headers=legal).json()
    assert {r["id"] for r in kept} == {redaction["id"], on_file.json()["id"]}

    audited = [e for e in entries(store.engine) if e["action"].startswith("redaction_")]
    changes = [e["action"] for e in audited if e["action"] in ("redaction_add", "redaction_remove")]
    assert changes == ["redaction_remove", "redaction_add", "redaction_add"]  # newest first
    assert "redaction_texts_read" in [e["action"] for e in audited]
    for entry in audited:  # the span and reason, never the redacted text
        assert "SECRET" not in json.dumps(entry)


def test_a_closed_cases_redactions_cannot_change(
    client: TestClient, auth: dict[str, dict[str, str]], store: StagingStore
) -> None:
    """A closed case cannot change (cases.store's rule): adding or removing a span is a 409
    saying so, nothing is recorded or audited, and the span added before the close stays."""
    legal = auth["legal"]
    case_id = _case(client, auth)
    base = f"/api/v1/cases/{case_id}/redactions"
    start, end = _span(POST, "SECRETALPHA123")
    body = {"target": "message", "message_id": "m0", "version": 1, "start": start, "end": end, "reason": "PII"}
    made = client.post(base, json=body, headers=legal)
    assert made.status_code == 201, made.text
    assert client.post(f"/api/v1/cases/{case_id}/close", headers=legal).status_code == 200
    audited_before = len([e for e in entries(store.engine) if e["action"].startswith("redaction_")])

    added = client.post(base, json={**body, "reason": "Confidential"}, headers=legal)
    assert added.status_code == 409, added.text
    assert "closed" in added.json()["detail"]["message"]
    removed = client.delete(f"{base}/{made.json()['id']}", headers=legal)
    assert removed.status_code == 409, removed.text
    assert "closed" in removed.json()["detail"]["message"]

    kept = client.get(f"{base}?include_removed=true", headers=legal).json()
    assert [(r["id"], r["removed_at"]) for r in kept] == [(made.json()["id"], None)]
    audited_after = [e for e in entries(store.engine) if e["action"] in ("redaction_add", "redaction_remove")]
    assert len(audited_after) == 1  # the add before the close, nothing since
    assert audited_before >= 1


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"target": "message", "message_id": "nope", "version": 1, "start": 0, "end": 1}, 404, "no message"),
        ({"target": "message", "message_id": "m0", "version": 3, "start": 0, "end": 1}, 404, "2 version(s)"),
        ({"target": "message", "message_id": "m0", "version": 1, "start": 0, "end": 10_000}, 422, "ends past"),
        ({"target": "message", "message_id": "m0", "version": 1, "start": 5, "end": 5}, 422, "greater than start"),
        ({"target": "message", "message_id": "m0", "version": 1, "start": -1, "end": 5}, 422, "start"),
        ({"target": "message", "message_id": "m0", "start": 0, "end": 1}, 422, "message_id and version"),
        ({"target": "file", "file_event_id": UPLOAD_ID, "version": 1, "start": 0, "end": 1}, 422, "no message_id"),
        ({"target": "file", "file_event_id": str(uuid.uuid4()), "start": 0, "end": 1}, 404, "no extracted text"),
        ({"target": "file", "file_event_id": UPLOAD_ID, "start": 0, "end": 10_000}, 422, "ends past"),
        ({"target": "mail", "message_id": "m0", "version": 1, "start": 0, "end": 1}, 422, "target"),
        ({"target": "message", "message_id": "m0", "version": 1, "start": 0, "end": 1, "reason": "[x]"}, 422, "reason"),
        ({"target": "message", "message_id": "m0", "version": 1, "start": 0, "end": 1, "reason": "x" * 65}, 422, "64"),
    ],
)
def test_bad_redactions_are_refused_with_a_message(
    client: TestClient, auth: dict[str, dict[str, str]], body: dict[str, Any], status: int, says: str
) -> None:
    case_id = _case(client, auth)
    answer = client.post(f"/api/v1/cases/{case_id}/redactions", json={"reason": "PII", **body}, headers=auth["legal"])
    assert answer.status_code == status, answer.text
    assert says in json.dumps(answer.json())


def test_unknown_cases_and_texts_are_404(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    legal = auth["legal"]
    assert client.get("/api/v1/cases/nope/redactions", headers=legal).status_code == 404
    body = {"target": "message", "message_id": "m0", "version": 1, "start": 0, "end": 1, "reason": "PII"}
    assert client.post("/api/v1/cases/nope/redactions", json=body, headers=legal).status_code == 404
    case_id = _case(client, auth)
    assert client.delete(f"/api/v1/cases/{case_id}/redactions/nope", headers=legal).status_code == 404
    both = client.get(f"/api/v1/cases/{case_id}/redaction-texts", headers=legal)
    assert both.status_code == 422
    assert "exactly one" in both.json()["detail"]["message"]
    text = client.get(f"/api/v1/cases/{case_id}/redaction-texts?file_event_id={UPLOAD_ID}", headers=legal)
    assert text.json()["versions"][0]["text"] == NOTE


def _review_set(store: StagingStore, case_id: str, unit: str = "message") -> str:
    """A review set of the case, made with rows (the review helper builds the real API): m0
    responsive, m1 privileged (withheld), m2 not coded."""
    set_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    group = str(uuid.uuid4())
    responsive, privileged = str(uuid.uuid4()), str(uuid.uuid4())
    documents = [
        ("message:m0", "room:deals", ["m0"], 0),
        ("message:m1", "room:legal", ["m1"], 3),
        ("message:m2", "room:deals", ["m2"], 4),
    ]
    if unit == "conversation":
        documents = [
            ("conversation:room:deals:2026-11-23", "room:deals", ["m0", "m2"], 0),
            ("conversation:room:legal:2026-11-23", "room:legal", ["m1"], 3),
        ]
    with store.engine.begin() as connection:
        connection.execute(
            insert(review_sets),
            {"id": set_id, "case_id": case_id, "name": "first pass", "unit": unit, "time_zone": "UTC",
             "created_by": "legal", "created_at": now},
        )  # fmt: skip
        for position, (key, room, messages, second) in enumerate(documents):
            at = DAY.replace(second=second)
            connection.execute(
                insert(review_documents),
                {"review_set_id": set_id, "doc_key": key, "position": position, "kind": "message", "room_id": room,
                 "first_at": at, "last_at": at, "message_ids": messages, "senders": ["user:ann"], "summary": key,
                 "added_by": "legal", "added_at": now, "source": {"how": "hand"}},
            )  # fmt: skip
        connection.execute(
            insert(review_tag_groups),
            {"id": group, "case_id": case_id, "name": "Coding", "parent_id": None, "choice": "multi", "position": 0},
        )
        for tag_id, name, kind, withhold in (
            (responsive, "responsive", None, False),
            (privileged, "privileged", "Attorney-Client", True),
        ):
            connection.execute(
                insert(review_tags),
                {"id": tag_id, "case_id": case_id, "group_id": group, "name": name, "label": name.title(),
                 "shortcut": None, "position": 0, "privilege_type": kind, "withhold": withhold},
            )  # fmt: skip
        first_key, second_key = documents[0][0], documents[1][0]
        for key, tag_id in ((first_key, responsive), (second_key, responsive), (second_key, privileged)):
            connection.execute(
                insert(review_codings),
                {"review_set_id": set_id, "doc_key": key, "tag_id": tag_id, "coded_by": "legal", "coded_at": now},
            )
    return set_id


def test_a_review_set_production_takes_its_tagged_documents_withholds_and_logs(
    client: TestClient, auth: dict[str, dict[str, str]], store: StagingStore, tmp_path: Path
) -> None:
    legal = auth["legal"]
    case_id = _case(client, auth)
    start, end = _span(POST, "SECRETALPHA123")
    redacted = client.post(
        f"/api/v1/cases/{case_id}/redactions",
        json={"target": "message", "message_id": "m0", "version": 1, "start": start, "end": end, "reason": "PII"},
        headers=legal,
    )
    assert redacted.status_code == 201
    set_id = _review_set(store, case_id)
    described = client.put(
        f"/api/v1/review-sets/{set_id}/privilege-description",
        json={"doc_key": "message:m1", "description": "legal advice on exposure"},
        headers=legal,
    )
    assert described.status_code == 200, described.text
    missing = client.put(
        f"/api/v1/review-sets/{set_id}/privilege-description",
        json={"doc_key": "message:nope", "description": "x"},
        headers=legal,
    )
    assert missing.status_code == 404
    draft = client.get(f"/api/v1/review-sets/{set_id}/privilege-log.csv", headers=legal)
    assert draft.status_code == 200
    draft_rows = list(csv.DictReader(io.StringIO(draft.content.decode("utf-8-sig"), newline="")))
    assert {(r["DOCUMENT_KEY"], r["TREATMENT"], r["CONTROL_NUMBER"]) for r in draft_rows} == {
        ("message:m0", "Redacted", ""),
        ("message:m1", "Withheld", ""),
    }

    order = {"formats": ["jsonl", "csv", "pdf", "rsmf"], "case_id": case_id, "review_set_id": set_id,
             "tags": ["responsive"]}  # fmt: skip
    started = client.post("/api/v1/exports", json=order, headers=legal)
    assert started.status_code == 202, started.text
    job = finished(client, started.json()["id"], legal)
    assert job["status"] == "done", job["error"]
    download = client.get(f"/api/v1/exports/{job['id']}/download", headers=legal)
    path = tmp_path / "production.zip"
    path.write_bytes(download.content)
    blobs = zip_blobs(str(path))
    assert found_in(blobs, "SECRETALPHA123") == []
    assert found_in(blobs, "PRIVSECRET42") == []
    assert found_in(blobs, "visible-tail") == []  # m2 is not tagged responsive: not produced
    assert found_in(blobs, OTHER) == []
    assert found_in(blobs, "Withheld: Attorney-Client")
    with zipfile.ZipFile(path) as archive:
        documents = [json.loads(line) for line in archive.read("documents.jsonl").decode().splitlines()]
        assert [d["message_id"] for d in documents] == ["m0", "m1"]
        log = list(csv.DictReader(io.StringIO(archive.read("privilege_log.csv").decode("utf-8-sig"), newline="")))
    assert {(r["CONTROL_NUMBER"], r["TREATMENT"]) for r in log} == {
        (documents[0]["control"], "Redacted"),
        (documents[1]["control"], "Withheld"),
    }
    withheld = next(r for r in log if r["TREATMENT"] == "Withheld")
    assert (withheld["PRIVILEGE_TYPE"], withheld["DESCRIPTION"]) == ("Attorney-Client", "legal advice on exposure")
    assert job["manifest"]["review"]["redactions"]["documents"] == {documents[0]["control"]: 1}
    assert job["manifest"]["production"]["unit"] == "message"
    # The set's log is now the production's, with its control numbers.
    produced = client.get(f"/api/v1/review-sets/{set_id}/privilege-log.csv", headers=legal)
    rows = list(csv.DictReader(io.StringIO(produced.content.decode("utf-8-sig"), newline="")))
    assert sorted(r["CONTROL_NUMBER"] for r in rows) == sorted(d["control"] for d in documents)
    pdf = client.get(f"/api/v1/review-sets/{set_id}/privilege-log.pdf", headers=legal)
    assert pdf.content.startswith(b"%PDF-")
    assert PRIVILEGED not in pdf.text
    actions = [e["action"] for e in entries(store.engine)]
    assert "privilege_description" in actions
    start_entry = next(e for e in entries(store.engine) if e["action"] == "export_start")
    assert start_entry["details"]["review"]["review_set_id"] == set_id


def test_bad_production_orders_are_refused(
    client: TestClient, auth: dict[str, dict[str, str]], store: StagingStore
) -> None:
    legal = auth["legal"]
    case_id = _case(client, auth)
    set_id = _review_set(store, case_id)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"review_set_id": set_id}, 422, "give case_id"),
        ({}, 422, "give a search query"),
        ({"case_id": case_id, "review_set_id": set_id, "query": "deal"}, 422, "give no query"),
        ({"case_id": case_id, "query": "deal", "tags": ["responsive"]}, 422, "give review_set_id"),
        ({"case_id": case_id, "review_set_id": "nope"}, 404, "no review set"),
        ({"case_id": case_id, "review_set_id": set_id, "tags": ["hot"]}, 422, "no tag 'hot'"),
        ({"case_id": case_id, "review_set_id": set_id, "unit": "conversation"}, 422, "message documents"),
        ({"case_id": case_id, "review_set_id": set_id, "time_zone": "Asia/Tokyo"}, 422, "is in UTC"),
    ]
    for extra, status, says in cases:
        answer = client.post("/api/v1/exports", json={"formats": ["jsonl"], **extra}, headers=legal)
        assert answer.status_code == status, (extra, answer.text)
        assert says in json.dumps(answer.json()), (extra, answer.text)


def test_a_case_production_of_a_query_applies_the_case_redactions(
    client: TestClient, auth: dict[str, dict[str, str]], tmp_path: Path, store: StagingStore
) -> None:
    legal = auth["legal"]
    case_id = _case(client, auth)
    start, end = _span(POST, "SECRETALPHA123")
    body = {"target": "message", "message_id": "m0", "version": 1, "start": start, "end": end, "reason": "PII"}
    assert client.post(f"/api/v1/cases/{case_id}/redactions", json=body, headers=legal).status_code == 201
    started = client.post(
        "/api/v1/exports", json={"query": "deal", "formats": ["jsonl", "pdf"], "case_id": case_id}, headers=legal
    )
    job = finished(client, started.json()["id"], legal)
    assert job["status"] == "done", job["error"]
    path = tmp_path / "case.zip"
    path.write_bytes(client.get(f"/api/v1/exports/{job['id']}/download", headers=legal).content)
    blobs = zip_blobs(str(path))
    assert found_in(blobs, "SECRETALPHA123") == []
    assert found_in(blobs, "SECRETBRAVO456")  # the edit is not redacted here
    # The archive itself is never altered: the message reads as archived, its chain verifies.
    as_archived = client.get("/api/v1/messages/m0", headers=legal).json()
    assert [v["text"] for v in as_archived["history"]] == [POST, EDIT]
    assert verify_archive(store.engine).ok
    # An export without a case applies no case's redactions.
    plain = client.post("/api/v1/exports", json={"query": "deal", "formats": ["jsonl"]}, headers=legal)
    job = finished(client, plain.json()["id"], legal)
    path.write_bytes(client.get(f"/api/v1/exports/{job['id']}/download", headers=legal).content)
    assert found_in(zip_blobs(str(path)), "SECRETALPHA123")
    assert EVENTS  # the archived events of test_production_redaction


def test_ids_holding_a_nul_are_404_not_500(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    legal = auth["legal"]
    case_id = _case(client, auth)
    body = {"target": "message", "message_id": "m\x00", "version": 1, "start": 0, "end": 1, "reason": "PII"}
    assert client.post(f"/api/v1/cases/{case_id}/redactions", json=body, headers=legal).status_code == 404
    file_body = {"target": "file", "file_event_id": "f\x00", "start": 0, "end": 1, "reason": "PII"}
    assert client.post(f"/api/v1/cases/{case_id}/redactions", json=file_body, headers=legal).status_code == 404
    assert client.delete(f"/api/v1/cases/{case_id}/redactions/a%00b", headers=legal).status_code == 404
    assert client.get(f"/api/v1/cases/{case_id}/redaction-texts?message_id=a%00", headers=legal).status_code == 404
    assert client.get("/api/v1/review-sets/a%00/privilege-log.csv", headers=legal).status_code == 404
    assert client.get(f"/api/v1/cases/{case_id}/redactions?message_id=a%00", headers=legal).json() == []
    described = {"doc_key": "message:\x00", "description": "x"}
    assert (
        client.put("/api/v1/review-sets/a%00/privilege-description", json=described, headers=legal).status_code == 404
    )


def test_a_conversation_review_set_withholds_whole_room_days(
    client: TestClient, auth: dict[str, dict[str, str]], store: StagingStore, tmp_path: Path
) -> None:
    legal = auth["legal"]
    case_id = _case(client, auth)
    set_id = _review_set(store, case_id, unit="conversation")
    order = {"formats": ["jsonl", "csv"], "case_id": case_id, "review_set_id": set_id, "tags": ["responsive"]}
    started = client.post("/api/v1/exports", json=order, headers=legal)
    assert started.status_code == 202, started.text
    job = finished(client, started.json()["id"], legal)
    assert job["status"] == "done", job["error"]
    path = tmp_path / "conversation.zip"
    path.write_bytes(client.get(f"/api/v1/exports/{job['id']}/download", headers=legal).content)
    blobs = zip_blobs(str(path))
    assert found_in(blobs, "PRIVSECRET42") == []
    assert found_in(blobs, "visible-tail")  # m2 is in the responsive room-day
    with zipfile.ZipFile(path) as archive:
        documents = [json.loads(line) for line in archive.read("documents.jsonl").decode().splitlines()]
    parents = [(d["kind"], d["room"]["id"]) for d in documents if d["kind"] == "conversation"]
    assert parents == [("conversation", "room:deals"), ("conversation", "room:legal")]
    assert job["manifest"]["production"]["unit"] == "conversation"
    withheld = job["manifest"]["review"]["withheld"]
    assert withheld == [next(d["control"] for d in documents if d["room"]["id"] == "room:legal")]
