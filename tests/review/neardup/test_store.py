"""review.near_duplicates over a stored review set (SQLite and PostgreSQL): the texts compared
for each kind of document, the groups written to ``dup_group`` / ``dup_similarity``, a rerun
replacing the previous grouping atomically, reading groups back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from archive.fs_file_store import FsFileStore
from ingest.staging import StagingStore
from review import near_duplicates
from review.near_duplicates import ReviewSetMissing, compute, group_of, groups
from review.schema import review_documents
from tests.review.neardup.helpers import add_attachment, add_conversation, add_messages, make_set

CONTRACT = "The supplier contract for the Berlin office must be signed before the audit on Friday."
LUNCH = "Lunch on Thursday? The new place near the station has a good menu and quick service."


def _stored(store: StagingStore, set_id: str) -> dict[str, tuple[str | None, float | None]]:
    columns = review_documents.c
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(columns.doc_key, columns.dup_group, columns.dup_similarity).where(columns.review_set_id == set_id)
        )
        return {r.doc_key: (r.dup_group, r.dup_similarity) for r in rows}


def test_messages_conversations_and_attachments_are_grouped(store: StagingStore, tmp_path: Path) -> None:
    files = FsFileStore(tmp_path / "files")
    _, set_id = make_set(store.engine)
    keys = add_messages(store.engine, set_id, [CONTRACT, "Fwd: " + CONTRACT, LUNCH, "ok", None, "ok"])
    day_one = add_conversation(store.engine, set_id, [CONTRACT, LUNCH, "see you there"], 10, "2026-03-02")
    day_two = add_conversation(store.engine, set_id, [CONTRACT, LUNCH, "see you there!"], 11, "2026-03-03")
    attached = add_attachment(store.engine, files, set_id, "FWD: " + CONTRACT.upper(), 12)
    no_text = add_attachment(store.engine, files, set_id, None, 13)

    run = compute(store.engine, set_id, files=files)
    assert (run.documents, run.compared) == (10, 6)  # "ok" twice, a message without text, a file without
    stored = _stored(store, set_id)
    contract = {keys[0], keys[1], attached}
    pivot = stored[keys[0]][0]
    assert pivot in contract
    assert {key for key, (g, _) in stored.items() if g == pivot} == contract
    assert stored[pivot] == (pivot, 1.0)
    assert all(0.7 <= (stored[k][1] or 0) <= 1.0 for k in contract)
    assert stored[day_one][0] == stored[day_two][0] is not None  # the same talk on two days
    assert stored[day_one][0] != pivot
    for alone in (keys[2], keys[3], keys[4], keys[5], no_text):
        assert stored[alone] == (None, None)
    assert (run.groups, run.grouped) == (2, 5)

    page = groups(store.engine, set_id)
    assert (page.total_groups, page.grouped) == (2, 5)
    assert [g.size for g in page.groups] == [3, 2]
    first = page.groups[0]
    assert first.group == pivot
    assert first.members[0].doc_key == pivot
    assert first.members[0].pivot
    assert [m.position for m in first.members[1:]] == sorted(m.position for m in first.members[1:])
    found = group_of(store.engine, set_id, keys[1])
    assert found is not None
    assert found.group == pivot
    assert group_of(store.engine, set_id, keys[2]) is None


def test_a_rerun_replaces_the_grouping(store: StagingStore) -> None:
    _, set_id = make_set(store.engine)
    keys = add_messages(store.engine, set_id, [CONTRACT, CONTRACT.replace("Friday", "Monday"), LUNCH, LUNCH + "!"])
    columns = review_documents.c
    with store.engine.begin() as connection:  # a stale grouping of an earlier run
        connection.execute(
            update(review_documents)
            .where(columns.review_set_id == set_id, columns.doc_key == keys[0])
            .values(dup_group="message:gone", dup_similarity=0.5)
        )
    compute(store.engine, set_id, threshold=0.99)
    stored = _stored(store, set_id)
    assert stored[keys[0]] == (None, None)  # not similar enough at 0.99
    assert stored[keys[2]][0] == stored[keys[3]][0] == keys[2]
    compute(store.engine, set_id, threshold=0.6)
    stored = _stored(store, set_id)
    assert stored[keys[0]][0] == stored[keys[1]][0] is not None
    compute(store.engine, set_id, threshold=0.99)
    assert _stored(store, set_id)[keys[0]] == (None, None)


def test_a_failing_write_leaves_the_previous_grouping(store: StagingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _, set_id = make_set(store.engine)
    add_messages(store.engine, set_id, [CONTRACT, CONTRACT + " Thanks.", LUNCH, LUNCH + " ok"])
    compute(store.engine, set_id)
    before = _stored(store, set_id)
    assert sum(1 for g, _ in before.values() if g) == 4

    def failing(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(near_duplicates, "_assign", failing)  # after the previous grouping was cleared
    with pytest.raises(RuntimeError, match="disk full"):
        compute(store.engine, set_id, threshold=0.6)
    assert _stored(store, set_id) == before


def test_pages_are_read_in_batches(store: StagingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(near_duplicates, "PAGE", 3)
    _, set_id = make_set(store.engine)
    keys = add_messages(store.engine, set_id, [f"{CONTRACT} Item {i % 2}." for i in range(8)] + [LUNCH])
    run = compute(store.engine, set_id)
    assert (run.documents, run.groups, run.grouped) == (9, 1, 8)
    assert group_of(store.engine, set_id, keys[8]) is None


def test_an_unknown_set_or_document_is_refused(store: StagingStore) -> None:
    with pytest.raises(ReviewSetMissing):
        compute(store.engine, "no-such-set")
    _, set_id = make_set(store.engine)
    with pytest.raises(ReviewSetMissing, match="no document"):
        group_of(store.engine, set_id, "message:nope")
    assert groups(store.engine, set_id).groups == []


def test_another_sets_grouping_is_left_alone(store: StagingStore) -> None:
    _, first = make_set(store.engine)
    _, second = make_set(store.engine)
    add_messages(store.engine, first, [CONTRACT, CONTRACT + " Thanks."])
    add_messages(store.engine, second, [LUNCH, LUNCH + " ok"], start=10)
    compute(store.engine, second)
    before = _stored(store, second)
    assert {g for g, _ in before.values()} != {None}
    compute(store.engine, first)
    compute(store.engine, first, threshold=1.0)
    assert _stored(store, second) == before


def test_documents_added_while_it_runs_are_grouped_too(store: StagingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _, set_id = make_set(store.engine)
    keys = add_messages(store.engine, set_id, [f"{CONTRACT} Item {i % 2}." for i in range(7)] + [LUNCH, LUNCH + "!"])
    expected = compute(store.engine, set_id)
    before = _stored(store, set_id)
    monkeypatch.setattr(near_duplicates, "PAGE", 2)
    monkeypatch.setattr(near_duplicates, "_size", lambda *_: 1)  # counted before most of them came
    again = compute(store.engine, set_id)
    assert (again.compared, again.groups, again.grouped) == (expected.compared, expected.groups, expected.grouped)
    assert _stored(store, set_id) == before
    assert before[keys[7]][0] == before[keys[8]][0] is not None


def test_an_empty_set_and_a_set_of_short_lines_have_no_groups(store: StagingStore) -> None:
    _, empty = make_set(store.engine)
    run = compute(store.engine, empty)
    assert (run.documents, run.compared, run.groups, run.grouped) == (0, 0, 0, 0)
    _, short = make_set(store.engine)
    add_messages(store.engine, short, ["ok", "ok", "thanks!", "thanks!"])
    run = compute(store.engine, short)
    assert (run.documents, run.compared, run.groups) == (4, 0, 0)
    assert set(_stored(store, short).values()) == {(None, None)}
