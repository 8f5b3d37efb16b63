"""The Elasticsearch adapter and attachment text (issue 18), without a server: the file document's
actions for an upload and its ``file_text``, the text read from the file store, and a text the
store does not hold failing its event alone (tests/search_engines runs the scripts for real)."""

from __future__ import annotations

from pathlib import Path

from adapters.es_actions import FILE_TEXT_SCRIPT, UPLOAD_SCRIPT, bulk_actions
from adapters.es_adapter import ElasticsearchAdapter
from archive.fs_file_store import FsFileStore
from search.backends import page_from_response
from search.es_mapping import ATTACHMENT_PROPERTIES, MESSAGE_PROPERTIES, VERSION_PROPERTIES
from tests.adapters.test_elasticsearch_logic import FakeClient
from tests.attachment_events import file_text, upload

CONTRACT = "The supplier ACME Corporation agrees to deliver 400 units by March."


def test_upload_and_file_text_update_one_file_document_keeping_each_others_fields(tmp_path: Path) -> None:
    store = FsFileStore(tmp_path)
    uploaded = upload("Contract Q3.PDF", content_type="application/pdf")
    text = file_text(uploaded, CONTRACT, store)
    actions = bulk_actions([uploaded, text], "arch", texts={1: CONTRACT})
    file_actions = [a for a in actions if a.header.get("update", {}).get("_index") == "arch-messages"]
    assert [a.header["update"]["_id"] for a in file_actions] == [f"file:{uploaded.event_id}"] * 2
    upload_action, text_action = file_actions

    assert upload_action.body["script"]["source"] == UPLOAD_SCRIPT
    fields = upload_action.body["script"]["params"]["upload"]
    assert fields == upload_action.body["upsert"]
    assert "attachment" not in fields  # a text indexed first stays
    assert (fields["type"], fields["file_name"], fields["file_type"], fields["file_size"]) == (
        "file_upload",
        "Contract Q3.PDF",
        "pdf",
        uploaded.file.size,
    )
    assert (fields["file_sha256"], fields["file_content_type"]) == (uploaded.file.sha256, "application/pdf")

    assert text_action.body["script"]["source"] == FILE_TEXT_SCRIPT
    params = text_action.body["script"]["params"]
    assert params["attachment"] == CONTRACT
    assert params["extraction"]["state"] == "extracted"
    assert params["extraction"]["event_id"] == str(text.event_id)
    placeholder = text_action.body["upsert"]
    assert placeholder["type"] == "file_text"  # found by no search until the upload fills it
    assert placeholder["has_file"] is False
    for action in file_actions:
        document = action.body["upsert"]
        assert set(document) <= set(MESSAGE_PROPERTIES), set(document) - set(MESSAGE_PROPERTIES)


def test_the_adapter_reads_the_text_from_the_store_and_a_missing_text_fails_alone(tmp_path: Path) -> None:
    store = FsFileStore(tmp_path)
    first, second = upload("a.pdf"), upload("b.pdf")
    present = file_text(first, CONTRACT, store)
    missing = file_text(second, "never stored", None)
    client = FakeClient()
    adapter = ElasticsearchAdapter(client, prefix="arch", sleep=lambda _s: None, file_store=store)
    results = adapter.write([first, present, second, missing])
    assert results[:3] == [None, None, None]
    failure = results[3]
    assert failure is not None
    assert "not in the file store" in failure.reason
    [operations] = client.requests
    sent_ids = {header["update"]["_id"] for header in operations[::2] if "update" in header}
    assert sent_ids == {f"file:{first.event_id}", f"file:{second.event_id}"}
    texts = [
        body["script"]["params"]["attachment"]
        for header, body in zip(operations[::2], operations[1::2], strict=True)
        if "update" in header and body["script"]["source"] == FILE_TEXT_SCRIPT
    ]
    assert texts == [CONTRACT]
    # An existing messages index gets the new fields (its mapping is strict).
    assert client.indices.mappings["arch-messages*"]["properties"] == VERSION_PROPERTIES | ATTACHMENT_PROPERTIES


def test_a_file_hit_from_elasticsearch_carries_its_attachment_and_excerpt() -> None:
    uploaded = upload("Contract Q3.PDF")
    source = {
        "message_id": f"file:{uploaded.event_id}",
        "event_id": str(uploaded.event_id),
        "type": "file_upload",
        "room_id": "room:desk",
        "sender_id": "user:alice",
        "sent": uploaded.occurred_at.isoformat(),
        "text": "Contract Q3.PDF",
        "file_name": "Contract Q3.PDF",
        "file_type": "pdf",
        "file_size": 12,
        "file_sha256": uploaded.file.sha256,
        "file_content_type": "application/pdf",
        "extraction": {"state": "extracted", "extractor": "pdf", "extractor_version": "1.0", "truncated": False},
    }
    highlight = {"attachment": ["the supplier <b>ACME</b> agrees"]}
    response = {"hits": {"total": {"value": 1}, "hits": [{"_source": source, "highlight": highlight}]}}
    [hit] = page_from_response(response).hits
    assert hit.attachment is not None
    assert (hit.attachment.file_event_id, hit.attachment.name, hit.attachment.size) == (
        str(uploaded.event_id),
        "Contract Q3.PDF",
        12,
    )
    assert (hit.attachment.extraction, hit.attachment.extractor_version) == ("extracted", "1.0")
    assert hit.attachment.excerpt == "the supplier <b>ACME</b> agrees"
    message = {**source, "type": "post", "message_id": "m1"}
    [post] = page_from_response({"hits": {"total": {"value": 1}, "hits": [{"_source": message}]}}).hits
    assert post.attachment is None
