"""The privilege log of a production: every document withheld or redacted, one row each.

Columns (the usual log of Rule 26(b)(5)(A) of the U.S. Federal Rules of Civil Procedure: enough
to assess the claim without revealing what is privileged): control number, date, author,
recipients, privilege type, description, and whether the document is withheld or redacted (and
how many spans). ``privilege_log.csv`` is RFC 4180 (UTF-8 with a byte-order mark, CRLF, a header
row; a cell starting with ``=``, ``+``, ``-`` or ``@`` gets a leading apostrophe, as
``messages.csv`` does); ``privilege_log.pdf`` is the same table, landscape.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from exports.fonts import ReportFonts, load_fonts
from exports.pdf_report import wrap

CSV_FILE = "privilege_log.csv"
PDF_FILE = "privilege_log.pdf"
COLUMNS = (
    "CONTROL_NUMBER",
    "DATE",
    "AUTHOR",
    "RECIPIENTS",
    "PRIVILEGE_TYPE",
    "DESCRIPTION",
    "TREATMENT",
    "REDACTIONS",
    "DOCUMENT_KEY",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class LogRow:
    control: str
    """The control number (empty in a review set's draft log, before any production)."""
    date: datetime
    author: str
    recipients: str
    privilege_type: str
    description: str
    treatment: str
    """``Withheld`` or ``Redacted``."""
    redactions: int
    key: str

    def cells(self) -> list[str]:
        return [
            self.control,
            self.date.isoformat(),
            self.author,
            self.recipients,
            self.privilege_type,
            self.description,
            self.treatment,
            str(self.redactions),
            self.key,
        ]

    def as_json(self) -> dict[str, object]:
        return dict(zip((c.lower() for c in COLUMNS), self.cells(), strict=True)) | {"redactions": self.redactions}


def log_csv(rows: Sequence[LogRow]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["'" + cell if cell.startswith(_FORMULA_START) else cell for cell in row.cells()])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_WIDTHS = (110, 92, 100, 110, 90, 140, 58, 40)
"""Points per column of the PDF (the document key is left out: the CSV has it)."""
_SIZE = 7.5
_LEADING = 9.5


def log_pdf(rows: Sequence[LogRow], title: str, fonts: ReportFonts | None = None) -> bytes:
    """The log as a PDF table, rows wrapped within their cells, the header on every page."""
    fonts = fonts or load_fonts()
    width, height = (float(side) for side in landscape(A4))
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(width, height), invariant=1)
    canvas.setTitle(title)
    margin = 36.0
    y = height
    page = 0

    def draw(x: float, y: float, text: str, bold: bool = False) -> None:
        font = fonts.bold if bold else fonts.regular
        for face, run in font.runs(text):
            canvas.setFont(face.name, _SIZE)
            canvas.drawString(x, y, run)
            x += face.width(run, _SIZE)

    def new_page() -> float:
        nonlocal page
        if page:
            canvas.showPage()
        page += 1
        top = height - margin
        draw(margin, top, f"{title} — page {page}", bold=True)
        top -= 2 * _LEADING
        x = margin
        for name, cell_width in zip(COLUMNS, _WIDTHS, strict=False):
            draw(x, top, name.replace("_", " ").title(), bold=True)
            x += cell_width
        canvas.line(margin, top - 3, width - margin, top - 3)
        return top - _LEADING - 2

    y = new_page()
    if not rows:
        draw(margin, y, "No document of this production is withheld or redacted.")
    for row in rows:
        cells = [wrap(cell, fonts.regular, _SIZE, w - 6) for cell, w in zip(row.cells(), _WIDTHS, strict=False)]
        lines = max(len(c) for c in cells)
        if y - lines * _LEADING < margin:
            y = new_page()
        x = margin
        for cell, cell_width in zip(cells, _WIDTHS, strict=False):
            for index, line in enumerate(cell):
                draw(x, y - index * _LEADING, line)
            x += cell_width
        y -= lines * _LEADING + 3
    canvas.save()
    return buffer.getvalue()
