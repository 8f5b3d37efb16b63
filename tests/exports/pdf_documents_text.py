"""What the PDF format's document PDFs say: the PDFs in number order (as ``production.opt`` lists
them) and their text, read back by pypdf or by poppler's pdftotext (independent extractors)."""

from __future__ import annotations

import io
import subprocess

from pypdf import PdfReader

from exports.pdf_opt import OPT_PATH


def document_pdfs(contents: dict[str, bytes]) -> list[bytes]:
    """Every document's PDF, in number order (the OPT's lines)."""
    rows = contents[OPT_PATH].decode("utf-8").splitlines()
    return [contents[row.split(",")[2]] for row in rows]


def pdf_pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def documents_text(contents: dict[str, bytes]) -> str:
    """The text of every document PDF (pypdf), documents and pages one after the other."""
    return "\n".join("\n".join(pdf_pages(pdf)) for pdf in document_pdfs(contents))


def pdftotext(pdf: bytes) -> str:
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True)
    return done.stdout.decode("utf-8")


def documents_pdftotext(contents: dict[str, bytes]) -> str:
    """The text of every document PDF as pdftotext reads it, a form feed between pages."""
    return "\f".join(pdftotext(pdf) for pdf in document_pdfs(contents))
