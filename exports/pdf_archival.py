"""PDF/A-2b as far as reportlab allows: what turns a reportlab canvas into an archival PDF.

ISO 19005-2 (PDF/A-2), level B (visual appearance) asks of a file, beyond what reportlab writes
already (embedded TrueType fonts with ToUnicode maps, a trailer ``/ID``, a binary header
comment, no encryption, no transparency, no JavaScript):

- an **output intent** (``/OutputIntents`` in the catalog, ``/S /GTS_PDFA1``) with an ICC
  profile, since the pages use device RGB: sRGB IEC 61966-2.1, read from Debian's
  ``icc-profiles-free`` (``/usr/share/color/icc/sRGB.icc``) or colord's copy; installed by
  ``scripts/services.sh``;
- **XMP metadata** (an uncompressed ``/Metadata`` stream) that says ``pdfaid:part 2`` and
  ``pdfaid:conformance B`` and repeats the document information dictionary (title, author,
  subject, keywords, producer, creator tool, creation and modification dates), with a document
  and an instance id;
- a real creation date: reportlab's ``invariant`` mode (used so the same export gives the same
  bytes) stamps 2000-01-01; here the export's own time is put in its place, in the document
  information dictionary and in the XMP alike.

Not done, because reportlab cannot: **tagging**. reportlab (5.x, open source) has no structure
tree: the catalog has a ``StructTreeRoot`` slot but nothing fills it, and the canvas writes no
marked-content sequences (``BDC``/``EMC``) that a tree could point to. PDF/A-2b does not
require tags (level A and PDF/UA do); the PDFs are therefore PDF/A-2b, untagged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.utils import TimeStamp  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfdoc  # type: ignore[import-untyped]
from reportlab.pdfbase.pdfdoc import (  # type: ignore[import-untyped]
    XMP,
    PDFArray,
    PDFCatalog,
    PDFDictionary,
    PDFName,
    PDFStream,
    PDFString,
)
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

SRGB_PROFILES: tuple[Path, ...] = (
    Path("/usr/share/color/icc/sRGB.icc"),  # Debian, Ubuntu: icc-profiles-free
    Path("/usr/share/color/icc/colord/sRGB.icc"),  # colord
)
SRGB_PACKAGE = "icc-profiles-free"
OUTPUT_CONDITION = "sRGB IEC61966-2.1"
PRODUCER = "Archivist (ReportLab PDF Library)"
CREATOR = "Archivist"
_NAMESPACE = uuid.UUID("6d1f0b7e-3c2a-4f5e-9a8b-7c6d5e4f3a2b")


class ProfileMissing(RuntimeError):
    """No sRGB ICC profile is installed: a PDF/A file cannot be written."""


@cache
def srgb_profile(paths: tuple[Path, ...] = SRGB_PROFILES) -> bytes:
    """The bytes of the installed sRGB ICC profile (read once per process)."""
    for path in paths:
        if path.is_file():
            return path.read_bytes()
    searched = ", ".join(str(p) for p in paths)
    raise ProfileMissing(
        f"no sRGB ICC profile found (searched {searched}): install it with apt-get install {SRGB_PACKAGE} "
        "(scripts/services.sh does)"
    )


def document_id(*parts: str) -> str:
    """A stable ``uuid:`` id for the PDF made of ``parts`` (the export id and the file's path)."""
    return f"uuid:{uuid.uuid5(_NAMESPACE, chr(31).join(parts))}"


def _xmp_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def xmp_packet(*, title: str, author: str, subject: str, keywords: str, created: datetime, doc_id: str) -> bytes:
    """The XMP metadata of a PDF/A-2b file whose information dictionary says the same."""
    when = _xmp_date(created)
    xml = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"\n'
        '    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/">\n'
        "   <pdfaid:part>2</pdfaid:part>\n"
        "   <pdfaid:conformance>B</pdfaid:conformance>\n"
        "   <dc:format>application/pdf</dc:format>\n"
        f'   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(title)}</rdf:li></rdf:Alt></dc:title>\n'
        f"   <dc:creator><rdf:Seq><rdf:li>{escape(author)}</rdf:li></rdf:Seq></dc:creator>\n"
        f'   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{escape(subject)}</rdf:li></rdf:Alt>'
        "</dc:description>\n"
        f"   <pdf:Keywords>{escape(keywords)}</pdf:Keywords>\n"
        f"   <pdf:Producer>{escape(PRODUCER)}</pdf:Producer>\n"
        f"   <xmp:CreatorTool>{escape(CREATOR)}</xmp:CreatorTool>\n"
        f"   <xmp:CreateDate>{when}</xmp:CreateDate>\n"
        f"   <xmp:ModifyDate>{when}</xmp:ModifyDate>\n"
        f"   <xmp:MetadataDate>{when}</xmp:MetadataDate>\n"
        f"   <xmpMM:DocumentID>{doc_id}</xmpMM:DocumentID>\n"
        f"   <xmpMM:InstanceID>{doc_id}</xmpMM:InstanceID>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return xml.encode("utf-8")


def _eol_before_endstream() -> None:
    """Make reportlab end every stream's data with an EOL before ``endstream`` (ISO 19005-2,
    6.1.7.1: the ``Length`` counts the bytes up to that EOL); reportlab writes ``endstream``
    right after the data. Process wide, like :func:`exports.fonts._to_unicode_cmap`: only the
    exports draw PDFs in this process."""
    if getattr(pdfdoc.PDFStream.format, "_eol", False):
        return
    original = pdfdoc.PDFStream.format

    def format(self: Any, document: Any) -> bytes:
        written: bytes = original(self, document)
        return written[: -len(b"endstream\n")] + b"\nendstream\n"

    format._eol = True  # type: ignore[attr-defined]
    pdfdoc.PDFStream.format = format


def _timestamp(moment: datetime) -> Any:
    """A reportlab time stamp of ``moment`` (UTC), for the information dictionary's dates."""
    stamp = TimeStamp(invariant=1)
    utc = moment.astimezone(UTC)
    stamp.t = utc.timestamp()
    stamp.lt = utc.timetuple()
    stamp.YMDhms = tuple(stamp.lt)[:6]
    stamp.dhh = stamp.dmm = 0
    return stamp


def archival(
    canvas: Canvas, *, title: str, author: str, subject: str, created: datetime, doc_id: str, keywords: str = ""
) -> None:
    """Make ``canvas`` (before its first page is drawn) write a PDF/A-2b file: information
    dictionary and XMP saying the same, the creation date ``created``, the sRGB output intent."""
    _eol_before_endstream()
    document = canvas._doc
    document._timeStamp = _timestamp(created)
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setSubject(subject)
    canvas.setKeywords(keywords)
    canvas.setCreator(CREATOR)
    canvas.setProducer(PRODUCER)
    packet = xmp_packet(title=title, author=author, subject=subject, keywords=keywords, created=created, doc_id=doc_id)
    make: Callable[[Any], bytes] = lambda _doc: packet  # noqa: E731 - reportlab asks for a callable
    catalog = document.Catalog
    catalog.Metadata = XMP(creator=make)
    profile = PDFStream(PDFDictionary({"N": 3}), content=srgb_profile())
    intent = PDFDictionary(
        {
            "Type": PDFName("OutputIntent"),
            "S": PDFName("GTS_PDFA1"),
            "OutputConditionIdentifier": PDFString(OUTPUT_CONDITION),
            "Info": PDFString(OUTPUT_CONDITION),
            "DestOutputProfile": document.Reference(profile),
        }
    )
    # The catalog writes only the keys it knows; OutputIntents is added to this one's list.
    catalog.__NoDefault__ = [*PDFCatalog.__NoDefault__, "OutputIntents"]
    catalog.OutputIntents = PDFArray([intent])
