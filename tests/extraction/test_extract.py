"""extract_file over the generated corpus: each type's words come out, hostile files give reasons."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from bench.attachment_corpus import Corpus, zip_bomb_bytes, zip_bytes
from extraction.base import Refused
from extraction.containers import _read_member
from extraction.extract import extract_file, extract_stream
from extraction.result import ExtractionLimits
from tests.extraction.conftest import LIMITS

CORPUS_NAMES = [
    "report.pdf", "memo.docx", "trades.xlsx", "deck.pptx", "minutes.odt", "letter.rtf", "newsletter.html",
    "mail.eml", "shift_jis.txt", "cp1252.txt", "utf16.txt", "utf8.txt", "cp1251.txt", "gb18030.txt",
    "scan.png", "scan.jpg", "scan.tiff", "scan_ja.png", "bundle.zip", "encrypted.pdf", "corrupt.pdf", "corrupt.docx",
    "truncated.zip", "random.bin", "bomb.zip", "lying.zip", "bomb.png", "empty.txt",
]  # fmt: skip


def test_the_corpus_names_every_file_tested(corpus: Corpus) -> None:
    assert sorted(corpus.expected) == sorted(CORPUS_NAMES)


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_each_file_gives_its_words_or_its_reason(corpus: Corpus, name: str) -> None:
    expected = corpus.expected[name]

    result = extract_file(corpus.root / name, name=name, content_type="application/octet-stream", limits=LIMITS)

    assert (result.state, result.file_type) == (expected.state, expected.file_type), result.reason
    assert [word for word in expected.words if word not in result.text] == []
    assert [word for word in expected.absent if word in result.text] == []
    if expected.reason is not None:
        assert expected.reason in (result.reason or "")
    assert result.extractor
    assert result.extractor_version not in ("", "unknown", "not installed")
    if result.state != "extracted":
        assert result.text == ""


def test_the_type_comes_from_the_bytes_not_the_name_or_content_type(corpus: Corpus) -> None:
    result = extract_file(corpus.root / "report.pdf", name="notes.txt", content_type="text/plain", limits=LIMITS)
    assert (result.file_type, result.extractor) == ("pdf", "pypdf")
    assert "Meridian" in result.text

    result = extract_file(corpus.root / "memo.docx", name="scan.png", content_type="image/png", limits=LIMITS)
    assert (result.file_type, result.extractor) == ("docx", "python-docx")


def test_zip_members_are_prefixed_with_their_paths_and_nested_archives_listed(corpus: Corpus) -> None:
    text = extract_file(corpus.root / "bundle.zip", name="bundle.zip", content_type="", limits=LIMITS).text

    assert "--- docs/memo.docx ---\n" in text
    memo = text.index("--- docs/memo.docx ---")
    assert memo < text.index("Zanzibar") < text.index("--- docs/report.pdf ---") < text.index("Page 2")
    assert "--- nested/inner.zip ---\n[archive inside an archive: listed, not opened]" in text
    assert "Vladivostok" not in text


def test_text_beyond_max_text_chars_is_cut_and_says_so(corpus: Corpus) -> None:
    limits = replace(LIMITS, max_text_chars=40)

    result = extract_file(corpus.root / "memo.docx", name="memo.docx", content_type="", limits=limits)

    assert result.state == "extracted"
    assert result.truncated
    assert len(result.text) <= 40
    assert "cut at 40 characters" in (result.reason or "")


def test_reading_stops_at_the_soft_time_limit_with_the_text_so_far(corpus: Corpus) -> None:
    # No time at all: the first page is read, then reading stops (a deterministic stand-in for a
    # long PDF whose later pages would pass the pool's hard limit).
    result = extract_file(corpus.root / "report.pdf", name="", content_type="", limits=replace(LIMITS, seconds=0))

    assert result.state == "extracted"
    assert "Page 1" in result.text
    assert "Page 2" not in result.text
    assert result.truncated
    assert "reading stopped at the soft time limit (80% of 0 s)" in (result.reason or "")


def test_a_member_cut_short_marks_the_archive_truncated_and_says_which(corpus: Corpus) -> None:
    limits = replace(LIMITS, max_text_chars=30)

    result = extract_file(corpus.root / "bundle.zip", name="", content_type="", limits=limits)

    assert result.truncated
    assert "docs/memo.docx: text cut at 30 characters" in (result.reason or "")


def test_a_plain_text_file_beyond_the_bound_is_read_only_in_part(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"Ledger entry Tashkent\n" * 1000)

    result = extract_file(path, name="big.txt", content_type="", limits=replace(LIMITS, max_text_chars=100))

    assert result.truncated
    assert len(result.text) <= 100
    assert result.text.startswith("Ledger entry Tashkent")


def test_a_zip_with_more_members_than_the_bound_is_refused() -> None:
    data = zip_bytes({f"file{index}.txt": b"Member text" for index in range(6)})

    result = extract_stream(
        io.BytesIO(data), name="many.zip", content_type="", limits=replace(LIMITS, max_archive_members=5)
    )

    assert result.state == "failed"
    assert "6 members, over the bound of 5" in (result.reason or "")


def test_a_zip_bomb_is_refused_on_its_declared_size_before_inflating() -> None:
    result = extract_stream(
        io.BytesIO(zip_bomb_bytes(3)), name="b.zip", content_type="", limits=replace(LIMITS, max_archive_bytes=1 << 20)
    )

    assert result.state == "failed"
    assert "zip bomb: members declare 3,145,728 bytes" in (result.reason or "")


def test_inflated_bytes_are_counted_against_the_bound_while_reading() -> None:
    with zipfile.ZipFile(io.BytesIO(zip_bomb_bytes(2))) as archive:
        info = archive.infolist()[0]

        with pytest.raises(Refused, match="inflates past the archive bound of 1,000,000 bytes"):
            _read_member(archive, info, budget=1_000_000)

        info.file_size = 5_000  # a header that lies: zipfile stops at what it declares, and says so
        with pytest.raises(zipfile.BadZipFile, match="Bad CRC-32"):
            _read_member(archive, info, budget=1_000_000)


def test_a_lying_zip_inflates_no_further_than_its_header(corpus: Corpus) -> None:
    result = extract_file(corpus.root / "lying.zip", name="lying.zip", content_type="", limits=LIMITS)

    assert "--- zeros.txt ---\n[failed: BadZipFile: Bad CRC-32" in result.text


def test_an_image_over_the_pixel_bound_is_refused_before_decoding(corpus: Corpus) -> None:
    limits = replace(LIMITS, max_image_pixels=1_000)

    result = extract_file(corpus.root / "scan.png", name="scan.png", content_type="", limits=limits)

    assert result.state == "failed"
    assert "decompression bomb" in (result.reason or "")
    assert "over the bound of 1,000" in (result.reason or "")


def test_a_multi_page_image_is_read_up_to_max_ocr_pages(corpus: Corpus) -> None:
    result = extract_file(corpus.root / "scan.tiff", name="", content_type="", limits=replace(LIMITS, max_ocr_pages=1))

    assert result.state == "extracted"
    assert "Casablanca" in result.text
    assert "Reykjavik" not in result.text
    assert result.truncated
    assert "OCR stopped after 1 pages (max_ocr_pages)" in (result.reason or "")


def test_encrypted_office_files_and_legacy_ones_are_told_apart() -> None:
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 200
    encrypted = ole2 + "EncryptionInfo".encode("utf-16-le") + b"\0" * 100

    legacy = extract_stream(io.BytesIO(ole2), name="old.doc", content_type="", limits=LIMITS)
    locked = extract_stream(io.BytesIO(encrypted), name="locked.docx", content_type="", limits=LIMITS)

    assert (legacy.state, locked.state) == ("unsupported", "failed")
    assert "legacy Office" in (legacy.reason or "")
    assert "encrypted Office document" in (locked.reason or "")


def test_an_unreadable_path_is_a_failure_not_an_exception(tmp_path: Path) -> None:
    result = extract_file(tmp_path / "missing", name="x", content_type="", limits=ExtractionLimits())

    assert result.state == "failed"
    assert "cannot read the file" in (result.reason or "")


def test_text_that_starts_like_a_magic_number_is_still_text(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"BMW fleet renewal: quotes from three dealers attached.\n")

    result = extract_file(path, name="notes.txt", content_type="text/plain", limits=LIMITS)

    assert (result.state, result.file_type) == ("extracted", "text")
    assert "BMW fleet renewal" in result.text


def test_a_mail_with_one_header_is_read_as_mail_when_its_type_says_so(tmp_path: Path) -> None:
    path = tmp_path / "note.eml"
    path.write_bytes(b"Subject: Lisbon closing\n\nThe Lisbon closing moved to Friday.\n")

    as_mail = extract_file(path, name="note.eml", content_type="message/rfc822", limits=LIMITS)
    as_text = extract_file(path, name="note", content_type="", limits=LIMITS)

    assert (as_mail.file_type, as_text.file_type) == ("eml", "text")
    assert "Subject: Lisbon closing" in as_mail.text
    assert "moved to Friday" in as_mail.text


def test_an_html_only_mail_with_an_attached_message_gives_both_texts() -> None:
    from email.message import EmailMessage

    inner = EmailMessage()
    inner["From"] = "Ops <ops@example.com>"
    inner["Subject"] = "Forwarded Nairobi"
    inner.set_content("The Nairobi audit is closed.")
    outer = EmailMessage()
    outer["From"] = "Desk <desk@example.com>"
    outer["To"] = "Legal <legal@example.com>"
    outer["Subject"] = "See below"
    outer.set_content(
        "<html><body><p>Only <b>HTML</b> here, Montevideo</p><script>nope()</script></body></html>", subtype="html"
    )
    outer.add_attachment(inner)

    result = extract_stream(io.BytesIO(outer.as_bytes()), name="", content_type="", limits=LIMITS)

    assert (result.state, result.file_type) == ("extracted", "eml")
    assert "Only HTML here, Montevideo" in result.text
    assert "nope()" not in result.text
    assert "--- attachment: attachment-1 ---" in result.text
    assert "Subject: Forwarded Nairobi" in result.text
    assert "The Nairobi audit is closed." in result.text


def test_an_encrypted_member_is_marked_and_the_others_are_read() -> None:
    data = bytearray(zip_bytes({"secret.txt": b"Hidden Antananarivo", "open.txt": b"Visible Ulaanbaatar"}))
    # Flag the first member encrypted (general purpose bit 0) in its local and central headers.
    data[data.find(b"PK\x03\x04") + 6] |= 0x1
    data[data.find(b"PK\x01\x02") + 8] |= 0x1

    result = extract_stream(io.BytesIO(bytes(data)), name="", content_type="", limits=LIMITS)

    assert result.state == "extracted"
    assert "--- secret.txt ---\n[failed: encrypted member]" in result.text
    assert "Visible Ulaanbaatar" in result.text
    assert "Antananarivo" not in result.text
