"""The ``index`` adapter and attachment text (issue 18): ``file_text`` events fill the file's
document with the text extracted from it, in any order with its upload, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import tantivy

from adapters.base import Failure
from adapters.index_adapter import TantivyIndexAdapter, from_document, reindex
from archive.fs_file_store import FsFileStore
from ingest.events import Event, PostEvent
from search import tantivy_schema as fields
from search.query_parser import parse_query
from search.tantivy_backend import all_hits, search_page
from tests.attachment_events import file_text, upload
from tests.factories import post

CONTRACT = "The supplier ACME Corporation agrees to deliver 400 units by March."


@pytest.fixture
def store(tmp_path: Path) -> FsFileStore:
    return FsFileStore(tmp_path / "files")


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def adapter(index_dir: Path, store: FsFileStore) -> Iterator[TantivyIndexAdapter]:
    adapter = TantivyIndexAdapter(index_dir, file_store=store)
    yield adapter
    adapter.close()


def documents(index_dir: Path) -> list[tantivy.Document]:
    index = fields.open_index(index_dir)
    searcher = index.searcher()
    return [searcher.doc(address) for _score, address in searcher.search(tantivy.Query.all_query(), 100).hits]


def found(index_dir: Path, query: str) -> list[str]:
    return [hit.message_id for hit in all_hits(index_dir, parse_query(query))]


def write_ok(adapter: TantivyIndexAdapter, *batch: Event) -> None:
    assert list(adapter.write(batch)) == [None] * len(batch)


@pytest.mark.parametrize("order", ["upload first", "text first", "one batch", "one batch, text first"])
def test_the_file_document_is_the_same_whatever_order_upload_and_text_arrive_in(
    adapter: TantivyIndexAdapter, index_dir: Path, store: FsFileStore, order: str
) -> None:
    uploaded = upload("contract.pdf", content=b"%PDF binary")
    text = file_text(uploaded, CONTRACT, store)
    match order:
        case "upload first":
            write_ok(adapter, uploaded)
            write_ok(adapter, text)
        case "text first":
            write_ok(adapter, text)
            assert found(index_dir, "ACME") == []  # a placeholder is found by no search
            assert found(index_dir, "has:file") == []
            write_ok(adapter, uploaded)
        case "one batch":
            write_ok(adapter, uploaded, text)
        case "one batch, text first":
            write_ok(adapter, text, uploaded)
    [document] = documents(index_dir)
    message = from_document(document)
    assert (message.message_id, message.type, message.event_id) == (
        f"file:{uploaded.event_id}",
        "file_upload",
        str(uploaded.event_id),
    )
    assert (message.file_name, message.file_type, message.attachment) == ("contract.pdf", "pdf", CONTRACT)
    assert message.file is not None
    assert message.file.extraction is not None
    assert (message.file.size, message.file.sha256, message.file.content_type) == (
        len(b"%PDF binary"),
        uploaded.file.sha256,
        "application/pdf",
    )
    assert (message.file.extraction.state, message.file.extraction.extractor_version) == ("extracted", "1.0")
    assert message.file.extraction.event_id == str(text.event_id)
    assert found(index_dir, "ACME") == [f"file:{uploaded.event_id}"]
    assert found(index_dir, "attachment:ACME") == [f"file:{uploaded.event_id}"]


def test_redelivery_changes_nothing(adapter: TantivyIndexAdapter, index_dir: Path, store: FsFileStore) -> None:
    uploaded = upload("contract.pdf")
    text = file_text(uploaded, CONTRACT, store)
    write_ok(adapter, uploaded, text)
    before = [from_document(d) for d in documents(index_dir)]
    write_ok(adapter, text)
    write_ok(adapter, uploaded)
    write_ok(adapter, text, uploaded, text)
    assert [from_document(d) for d in documents(index_dir)] == before
    assert len(found(index_dir, "units")) == 1


def test_an_upload_without_text_yet_is_found_by_its_name_and_says_its_text_is_pending(
    adapter: TantivyIndexAdapter, index_dir: Path
) -> None:
    uploaded = upload("Quarterly Report.DOCX", content_type="application/octet-stream")
    write_ok(adapter, uploaded)
    [hit] = search_page(index_dir, parse_query("file:quarterly")).hits
    assert hit.attachment is not None
    assert (hit.attachment.name, hit.attachment.file_type, hit.attachment.extraction) == (
        "Quarterly Report.DOCX",
        "docx",
        "pending",
    )
    assert hit.attachment.excerpt is None
    assert found(index_dir, "filetype:docx") == [hit.message_id]
    assert found(index_dir, "filetype:pdf") == []


def test_a_text_missing_from_the_store_fails_alone_and_is_indexed_when_it_arrives(
    index_dir: Path, store: FsFileStore
) -> None:
    uploaded, other = upload("contract.pdf"), upload("other.pdf", seconds=5)
    text = file_text(uploaded, CONTRACT, None)  # the text is not in the store
    adapter = TantivyIndexAdapter(index_dir, file_store=store)
    try:
        results = list(adapter.write([uploaded, text, other]))
        assert results[0] is None
        assert results[2] is None
        failure = results[1]
        assert isinstance(failure, Failure)
        assert not failure.permanent
        assert "is not in the file store" in failure.reason
        assert str(uploaded.event_id) in failure.reason
        assert sorted(found(index_dir, "has:file")) == sorted([f"file:{uploaded.event_id}", f"file:{other.event_id}"])
        assert found(index_dir, "ACME") == []

        store.put([CONTRACT.encode()])
        write_ok(adapter, text)  # the retry
        assert found(index_dir, "ACME") == [f"file:{uploaded.event_id}"]
    finally:
        adapter.close()


def test_without_a_file_store_a_text_fails_with_a_reason(index_dir: Path) -> None:
    uploaded = upload("contract.pdf")
    adapter = TantivyIndexAdapter(index_dir)
    try:
        [result] = adapter.write([file_text(uploaded, CONTRACT, None)])
    finally:
        adapter.close()
    assert isinstance(result, Failure)
    assert "no file store is configured" in result.reason


def test_a_file_without_text_keeps_its_extraction_state(
    adapter: TantivyIndexAdapter, index_dir: Path, store: FsFileStore
) -> None:
    uploaded = upload("secret.pdf")
    write_ok(adapter, uploaded, file_text(uploaded, None, store, state="failed", reason="encrypted PDF"))
    [hit] = search_page(index_dir, parse_query("has:file")).hits
    assert hit.attachment is not None
    assert (hit.attachment.extraction, hit.attachment.reason, hit.attachment.excerpt) == (
        "failed",
        "encrypted PDF",
        None,
    )


def test_only_the_first_million_characters_are_indexed(
    adapter: TantivyIndexAdapter, index_dir: Path, store: FsFileStore
) -> None:
    uploaded = upload("huge.txt", content_type="text/plain")
    filler = "word " * (fields.MAX_ATTACHMENT_CHARS // 5)
    write_ok(adapter, uploaded, file_text(uploaded, "beginning " + filler + " farbeyond", store))
    [message] = [from_document(d) for d in documents(index_dir)]
    assert len(message.attachment) == fields.MAX_ATTACHMENT_CHARS
    assert found(index_dir, "beginning") == [message.message_id]
    assert found(index_dir, "farbeyond") == []


def test_cjk_attachment_text_is_searched_as_message_text_is(
    adapter: TantivyIndexAdapter, index_dir: Path, store: FsFileStore
) -> None:
    uploaded = upload("契約.pdf")
    write_ok(adapter, uploaded, file_text(uploaded, "東京の取引について確認してください", store))
    assert found(index_dir, "取引") == [f"file:{uploaded.event_id}"]
    assert found(index_dir, "attachment:東京") == [f"file:{uploaded.event_id}"]
    assert found(index_dir, "attachment:京取") == []
    assert found(index_dir, "file:契約") == [f"file:{uploaded.event_id}"]


def test_reindex_rebuilds_attachment_text_from_the_events_and_the_store(
    adapter: TantivyIndexAdapter, index_dir: Path, store: FsFileStore
) -> None:
    uploaded = upload("contract.pdf")
    text = file_text(uploaded, CONTRACT, store)
    write_ok(adapter, uploaded, text)
    adapter.close()
    assert reindex(index_dir, [uploaded, text], file_store=store) == 1
    assert found(index_dir, "attachment:ACME") == [f"file:{uploaded.event_id}"]
    with pytest.raises(Exception, match="no file store is configured"):
        reindex(index_dir, [uploaded, text])


def test_filters_alone_find_messages_and_words_find_files_too(
    adapter: TantivyIndexAdapter, index_dir: Path, store: FsFileStore
) -> None:
    message = post(1, text="the contract is attached")
    assert isinstance(message, PostEvent)
    uploaded = upload("contract.pdf", actor="alice")
    write_ok(adapter, message, uploaded, file_text(uploaded, CONTRACT, store))
    assert found(index_dir, f"from:{message.actor.id}") == [message.message.id]
    assert found(index_dir, "from:alice") == []  # her upload is found by its words or has:file
    assert found(index_dir, "from:alice contract") == [f"file:{uploaded.event_id}"]
    assert found(index_dir, "from:alice has:file") == [f"file:{uploaded.event_id}"]


def test_a_long_text_is_excerpted_around_the_match(
    adapter: TantivyIndexAdapter, index_dir: Path, store: FsFileStore
) -> None:
    uploaded = upload("minutes.txt", content_type="text/plain")
    filler = "nothing to see here " * 5_000
    write_ok(adapter, uploaded, file_text(uploaded, filler + "the Café Räte agreed " + filler, store))
    for query in ("café", 'attachment:"café räte"', "agreed NEAR/3 räte"):
        [hit] = search_page(index_dir, parse_query(query)).hits
        assert hit.attachment is not None
        assert hit.attachment.excerpt is not None
        assert "<b>" in hit.attachment.excerpt, query
        assert len(hit.attachment.excerpt) < 400
    [hit] = search_page(index_dir, parse_query("file:minutes")).hits  # matched by name: the beginning
    assert hit.attachment is not None
    excerpt = hit.attachment.excerpt
    assert excerpt is not None
    assert excerpt == filler[: len(excerpt)]
    assert "<b>" not in excerpt
