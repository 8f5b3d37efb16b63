"""Attachments for the demo: real documents made with the libraries that write them.

The IRC logs carry no files, so the demo adds a few uploads to ``#ubuntu`` (said so when it
runs): a PDF (reportlab), a Word document (python-docx), a spreadsheet (openpyxl) and a
screenshot (Pillow) whose words only OCR can read. Their bytes go into the file store before
their events are published, as ``archivist publish --files`` does, so the demo shows the whole
path: stored natives, extraction, attachment search (``attachment:driver``), downloads and
exports. Deterministic: the same bytes on every run.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.events import Actor, FileUploadEvent, Room, parse_event

_NAMESPACE = uuid.UUID("6f1c2d3e-8a4b-4c5d-9e6f-7a8b9c0d1e2f")


@dataclass(frozen=True)
class DemoFile:
    name: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def event_id(self) -> uuid.UUID:
        """Its upload's event id: the same bytes are the same upload on every run."""
        return uuid.uuid5(_NAMESPACE, f"{self.name}:{self.sha256}")


def demo_files() -> list[DemoFile]:
    return [
        DemoFile("wireless-checklist.pdf", "application/pdf", _pdf()),
        DemoFile("release-party-minutes.docx", _DOCX, _docx()),
        DemoFile("mirror-bandwidth.xlsx", _XLSX, _xlsx()),
        DemoFile("modprobe-screenshot.png", "image/png", _png()),
    ]


def demo_uploads(files: list[DemoFile], room: Room, actors: list[Actor], start: datetime) -> list[FileUploadEvent]:
    """One upload per file, by ``actors`` in turn, ten minutes apart from ``start``."""
    uploads = []
    for index, file in enumerate(files):
        actor = actors[index % len(actors)]
        event = parse_event(
            {
                "schema_version": 1,
                "event_id": str(file.event_id),
                "type": "file_upload",
                "occurred_at": (start + timedelta(minutes=10 * index)).isoformat(),
                "room": room.model_dump(),
                "actor": actor.model_dump(),
                "source": {"server": "demo attachments"},
                "file": {
                    "name": file.name,
                    "size": len(file.data),
                    "sha256": file.sha256,
                    "content_type": file.content_type,
                },
            }
        )
        assert isinstance(event, FileUploadEvent)
        uploads.append(event)
    return uploads


_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*)>[^<]*<")
_CHECKLIST = [
    "Wireless troubleshooting checklist",
    "1. lspci -nn | grep -i network: note the Broadcom or Atheros chip id.",
    "2. Remove ndiswrapper before loading the b43 driver.",
    "3. Install firmware-b43-installer, then reboot.",
    "4. Check rfkill list: the radio must not be hard blocked.",
]


def _pdf() -> bytes:
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    pdf.setFont("Helvetica", 12)
    for offset, line in enumerate(_CHECKLIST):
        pdf.drawString(72, 780 - 22 * offset, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Release party minutes", level=1)
    document.add_paragraph("The Hoary Hedgehog release party moves to the LoCo team's usual pub.")
    document.add_paragraph("Action: ask the mirror admins about bandwidth for release day.")
    buffer = io.BytesIO()
    document.save(buffer)
    return _same_every_run(buffer.getvalue())


def _xlsx() -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Mirrors"
    sheet.append(["Mirror", "Country", "Bandwidth (Mbit/s)"])
    for row in (["archive.ubuntu.com", "GB", 1000], ["de.archive.ubuntu.com", "DE", 400]):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _same_every_run(buffer.getvalue())


def _same_every_run(package: bytes) -> bytes:
    """An Office file (a zip) with its members' times fixed: the libraries stamp the clock."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            fixed = zipfile.ZipInfo(member.filename, date_time=(2005, 2, 8, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = source.read(member)
            if member.filename == "docProps/core.xml":  # openpyxl writes the time of saving
                data = _STAMP.sub(rb"\1>2005-02-08T00:00:00Z<", data)
            target.writestr(fixed, data)
    return out.getvalue()


def _png() -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=44)
    image = Image.new("L", (1400, 260), 255)
    draw = ImageDraw.Draw(image)
    draw.text((40, 50), "$ sudo modprobe -r b43", font=font, fill=0)
    draw.text((40, 140), "FATAL: Module b43 is in use", font=font, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
