"""The image cross-reference of a production's PDFs: an Opticon (``.opt``) load file.

Opticon's format, as Relativity's Desktop Client guide ("Image and extracted text files: load
file format") and Veritas eDiscovery's note on OPT files describe it: one comma-separated line
per image, seven fields, no header:

    ImageKey,Volume,ImagePath,DocumentBreak,FolderBreak,BoxBreak,PageCount

``ImageKey`` is the page's Bates number, ``DocumentBreak`` is ``Y`` on the first page of a
document, ``PageCount`` is given on that line. A document imaged as one multi-page file (a PDF
here) has one line: its first page's key, ``Y``, and its page count. Folder and box breaks are
not used. Lines end in CRLF; paths are relative to the load file, as the zip holds them.
"""

from __future__ import annotations

OPT_PATH = "production.opt"
OPT_MEDIA_TYPE = "text/plain; charset=utf-8"
VOLUME = "VOL001"


def opt_line(control: str, path: str, pages: int, volume: str = VOLUME) -> bytes:
    """One document's line: its control number (its first page's Bates label), its PDF, ``Y``
    and its page count."""
    for field in (control, volume, path):
        if "," in field or "\r" in field or "\n" in field:
            raise ValueError(f"an OPT field cannot hold a comma or a line break: {field!r}")
    return f"{control},{volume},{path},Y,,,{pages}\r\n".encode()
