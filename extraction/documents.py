"""Documents: PDF (pypdf), Word, Excel and PowerPoint (python-docx, openpyxl, python-pptx),
OpenDocument (lxml over ``content.xml``) and RTF (striprtf)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from lxml import etree

from extraction.base import Context, Refused

OLE2_ENCRYPTED_MARKERS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))


def pdf_text(stream: BinaryIO, context: Context) -> Iterator[str]:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    reader = PdfReader(stream)
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except (DependencyError, NotImplementedError) as exc:
            raise Refused("failed", f"encrypted PDF ({exc})") from exc
        if opened == PasswordType.NOT_DECRYPTED:
            raise Refused("failed", "encrypted PDF: it needs a password")
    try:
        for page in reader.pages:
            yield page.extract_text() + "\n"
    except FileNotDecryptedError as exc:
        raise Refused("failed", f"encrypted PDF: {exc}") from exc


def _paragraphs_text(paragraphs: Iterable[Any]) -> Iterator[str]:
    for paragraph in paragraphs:
        text = paragraph.text  # computed by python-docx on each access: read once
        if text:
            yield text + "\n"


def _tables_text(tables: Iterable[Any]) -> Iterator[str]:
    for table in tables:
        for row in table.rows:
            cells = [text for text in (cell.text for cell in row.cells) if text]
            if cells:
                yield "\t".join(cells) + "\n"


def docx_text(stream: BinaryIO, context: Context) -> Iterator[str]:
    import docx

    document = docx.Document(stream)
    for section in document.sections:
        yield from _paragraphs_text(section.header.paragraphs)
    yield from _paragraphs_text(document.paragraphs)
    yield from _tables_text(document.tables)
    for section in document.sections:
        yield from _paragraphs_text(section.footer.paragraphs)


def xlsx_text(stream: BinaryIO, context: Context) -> Iterator[str]:
    import openpyxl

    workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            yield f"{sheet.title}\n"
            for row in sheet.iter_rows(values_only=True):
                cells = [str(value) for value in row if value is not None and value != ""]
                if cells:
                    yield "\t".join(cells) + "\n"
    finally:
        workbook.close()


def _shapes_text(shapes: Iterable[Any]) -> Iterator[str]:
    from pptx.shapes.group import GroupShape

    for shape in shapes:
        if isinstance(shape, GroupShape):
            yield from _shapes_text(shape.shapes)
            continue
        if getattr(shape, "has_text_frame", False):
            text = shape.text_frame.text  # computed on each access: read once
            if text:
                yield text + "\n"
        if getattr(shape, "has_table", False):
            for row in shape.table.rows:
                cells = [text for text in (cell.text for cell in row.cells) if text]
                if cells:
                    yield "\t".join(cells) + "\n"


def pptx_text(stream: BinaryIO, context: Context) -> Iterator[str]:
    import pptx

    presentation = pptx.Presentation(stream)
    for slide in presentation.slides:
        yield from _shapes_text(slide.shapes)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text
            if notes:
                yield notes + "\n"


ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODF_BLOCKS = etree.XPath(
    "//text:h | //text:p[not(ancestor::text:p) and not(ancestor::text:h)]", namespaces={"text": ODF_TEXT}
)
_ODF_SPACING = {f"{{{ODF_TEXT}}}s": " ", f"{{{ODF_TEXT}}}tab": "\t", f"{{{ODF_TEXT}}}line-break": "\n"}


def _odf_block_text(element: etree._Element) -> str:
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            if child.tag in _ODF_SPACING:
                count = int(child.get(f"{{{ODF_TEXT}}}c", "1") or 1) if child.tag.endswith("}s") else 1
                parts.append(_ODF_SPACING[child.tag] * min(count, 1000))
            else:
                parts.append(_odf_block_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def odf_text(stream: BinaryIO, context: Context) -> Iterator[str]:
    """OpenDocument text, spreadsheet and presentation: the paragraphs and headings of content.xml."""
    with zipfile.ZipFile(stream) as archive:
        info = archive.getinfo("content.xml")
        if info.flag_bits & 0x1:
            raise Refused("failed", "encrypted OpenDocument file")
        if "META-INF/manifest.xml" in archive.namelist():
            manifest = archive.read("META-INF/manifest.xml")[:1_000_000]
            if b"encryption-data" in manifest:
                raise Refused("failed", "encrypted OpenDocument file")
        limit = context.limits.max_archive_bytes
        if info.file_size > limit:
            raise Refused("failed", f"content.xml declares {info.file_size:,} bytes, over the bound of {limit:,}")
        with archive.open(info) as member:
            content = member.read(limit + 1)
        if len(content) > limit:
            raise Refused("failed", f"content.xml inflates past the bound of {limit:,} bytes")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(content, parser)
    for block in _ODF_BLOCKS(root):
        assert isinstance(block, etree._Element)
        text = _odf_block_text(block)
        if text:
            yield text + "\n"


def rtf_text(stream: BinaryIO, context: Context) -> Iterator[str]:
    from striprtf.striprtf import rtf_to_text

    raw = stream.read(context.limits.max_text_chars * 8 + 1)
    if len(raw) > context.limits.max_text_chars * 8:
        context.truncated = True
        context.notes.append("only the first part of the RTF file was read")
    yield str(rtf_to_text(raw.decode("latin-1"), errors="replace"))  # type: ignore[no-untyped-call]


def ole2_text(stream: BinaryIO, context: Context) -> Iterator[str]:
    """Compound files: encrypted Office documents (which are OLE2 containers) or legacy .doc/.xls/.ppt."""
    head = stream.read(4_000_000)
    if any(marker in head for marker in OLE2_ENCRYPTED_MARKERS):
        raise Refused("failed", "encrypted Office document: it needs a password")
    raise Refused("unsupported", "legacy Office compound file (.doc, .xls, .ppt, .msg) is not supported")
    yield ""  # pragma: no cover - makes this a generator like the other extractors
