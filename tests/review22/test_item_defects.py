"""Defects of the review items found in the issue 22 review: what the item shows and what
reading it audits."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from adapters.archive import ArchiveAdapter
from archive.app_schema import audit_log
from archive.fs_file_store import FsFileStore
from ingest.staging import StagingStore
from supervision.item_text import MAX_SHOWN, evaluated_text
from supervision.lexicon import LexiconSet, PolicyLexicon, message_of_file
from supervision.model import LexiconTerm
from tests.api_client import auth
from tests.attachment_events import file_text, upload

BASE = "/api/v1/supervision/items"


def _actions(store: StagingStore) -> list[tuple[str, dict[str, object]]]:
    with store.engine.connect() as connection:
        rows = connection.execute(select(audit_log.c.action, audit_log.c.document).order_by(audit_log.c.seq)).all()
    return [(row.action, json.loads(row.document)["details"]) for row in rows]


def test_an_attachment_match_past_the_shown_length_is_still_marked(store: StagingStore, tmp_path: Path) -> None:
    files = FsFileStore(tmp_path / "files")
    said = "ordinary terms and conditions. " * (MAX_SHOWN // 31 + 10) + "we guarantee returns"
    start = said.index("guarantee")
    assert start > MAX_SHOWN
    shared = upload("terms.pdf", room="desk")
    extracted = file_text(shared, said, files)
    ArchiveAdapter(store.engine).write([shared, extracted])
    match = {"term_id": "g1", "field": "attachment", "start": start, "end": start + 9, "matched": "guarantee"}
    shown = evaluated_text(store.engine, files, str(extracted.event_id), f"file:{shared.event_id}", [match])
    assert shown.text is not None
    assert [piece.text for piece in shown.pieces if piece.terms] == ["guarantee"]


def test_reading_an_item_through_the_api_audits_the_conversation_it_returns(
    client: TestClient, store: StagingStore, tokens: dict[str, str], item_ids: list[str]
) -> None:
    answer = client.get(f"{BASE}/{item_ids[0]}", params={"n": 5}, headers=auth(tokens["supervisor"]))
    assert answer.status_code == 200
    returned = answer.json()
    assert len(returned["context"]) > 1  # other people's messages were read
    message_id = returned["item"]["message_id"]
    audited = {action for action, details in _actions(store) if details.get("message_id") == message_id}
    assert "supervision_item_view" in audited
    assert "view_context" in audited


def test_a_file_name_match_does_not_hide_the_attachment_match(store: StagingStore, tmp_path: Path) -> None:
    files = FsFileStore(tmp_path / "files")
    said = "returns of 12% a year, every year"
    shared = upload("guaranteed-returns.pdf", room="desk")
    extracted = file_text(shared, said, files)
    ArchiveAdapter(store.engine).write([shared, extracted])
    terms = (LexiconTerm(id="g1", expression="guarantee*"), LexiconTerm(id="r1", expression="returns"))
    verdict = LexiconSet.compile({"p": PolicyLexicon(terms=terms)}).verdicts(message_of_file(shared, said))["p"]
    matches = [match.model_dump() for match in verdict.matches]  # as the item keeps them
    assert {(m["term_id"], m["field"]) for m in matches} == {("g1", "text"), ("r1", "attachment")}
    shown = evaluated_text(store.engine, files, str(extracted.event_id), f"file:{shared.event_id}", matches)
    assert shown.problem is None
    assert shown.text == said
    assert [(piece.text, piece.terms) for piece in shown.pieces if piece.terms] == [("returns", ("r1",))]
