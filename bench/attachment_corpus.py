"""Real attachments made with the libraries that write them, for the extraction tests and bench.

    python -m bench.attachment_corpus DIR [--scale N] [--bomb-megabytes N]

Writes one file per type (reportlab PDF, python-docx, openpyxl, python-pptx, odfpy, RTF, HTML,
e-mail, texts in several charsets, Pillow-rendered images for OCR) and the hostile ones (an
encrypted PDF, corrupt files, a zip bomb, a zip whose header lies, a nested zip, a
decompression-bomb PNG). :data:`EXPECTED` names, per file, words its text must hold (and for
HTML words it must not). Seeded: the same files every run, nothing committed but this script.
"""

from __future__ import annotations

import argparse
import io
import random
import struct
import zipfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

LATIN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")

PARAGRAPHS = {
    "en": "The quarterly settlement of the Meridian account is overdue.",
    "de": "Die Rechnung für Müller ist überfällig und muss geprüft werden.",
    "fr": "La façade du bâtiment sera rénovée en été.",
    "es": "La reunión con el señor Núñez es mañana.",
    "ru": "Квартальный отчёт отправлен в понедельник.",
    "ja": "東京の会議は来週の火曜日に延期されました。",
    "zh": "北京办公室的合同已经签署。",
}
ALL_WORDS = ["Meridian", "überfällig", "façade", "Núñez", "Квартальный", "東京", "北京"]


@dataclass(frozen=True)
class Expected:
    state: str
    words: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    reason: str | None = None
    """A word the reason must contain (for failed and unsupported files)."""
    file_type: str = ""


@dataclass
class Corpus:
    root: Path
    expected: dict[str, Expected] = field(default_factory=dict)

    def add(self, name: str, data: bytes, expected: Expected) -> Path:
        path = self.root / name
        path.write_bytes(data)
        self.expected[name] = expected
        return path


def filler(scale: int, seed: int = 7) -> list[str]:
    """``20 * (scale - 1)`` more paragraphs (none at scale 1): the bench's files of realistic size."""
    rng = random.Random(seed)
    sentences = list(PARAGRAPHS.values())
    return [f"{rng.choice(sentences)} Ref {rng.randrange(10**6)}." for _ in range(20 * (scale - 1))]


def pdf_bytes(lines: list[str], *, pages: int = 2) -> bytes:
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    if "DejaVu" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVu", str(LATIN_FONT)))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    for page in range(pages):
        pdf.setFont("DejaVu", 12)
        y = 800
        pdf.drawString(72, y, f"Page {page + 1}")
        for line in lines:
            y -= 20
            pdf.drawString(72, y, line)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def encrypted_pdf_bytes() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes([PARAGRAPHS["en"]], pages=1))))
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="AES-128")  # noqa: S106
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def docx_bytes(extra: list[str] | None = None) -> bytes:
    import docx

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Confidential header Halvorsen"
    document.add_heading("Board minutes", level=1)
    for text in [*PARAGRAPHS.values(), *(extra or [])]:
        document.add_paragraph(text)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Counterparty"
    table.cell(0, 1).text = "Zanzibar Holdings"
    table.cell(1, 0).text = "Amount"
    table.cell(1, 1).text = "1,250,000"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(extra: list[str] | None = None) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Trades"
    sheet.append(["Trader", "Instrument", "Notional"])
    sheet.append(["Okonkwo", "Bund future", 2_500_000])
    sheet.append(["Müller", "東京 equity", 730])
    other = workbook.create_sheet("Notes")
    other.append([PARAGRAPHS["ru"]])
    for index, text in enumerate(extra or []):
        sheet.append([text, f"Instrument {index}", index * 1000])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def pptx_bytes(extra: list[str] | None = None) -> bytes:
    import pptx

    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    assert slide.shapes.title is not None
    slide.shapes.title.text = "Roadmap Kilimanjaro"
    slide.placeholders[1].text_frame.text = PARAGRAPHS["fr"] + "\n" + PARAGRAPHS["zh"]
    slide.notes_slide.notes_text_frame.text = "Speaker notes mention Quetzalcoatl"
    more = extra or []
    for start in range(0, len(more), 5):
        page = presentation.slides.add_slide(presentation.slide_layouts[1])
        page.placeholders[1].text_frame.text = "\n".join(more[start : start + 5])
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def odt_bytes(extra: list[str] | None = None) -> bytes:
    from odf.opendocument import OpenDocumentText  # type: ignore[import-untyped]
    from odf.text import H, P  # type: ignore[import-untyped]

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Protokoll Brandenburg"))
    for text in (PARAGRAPHS["de"], PARAGRAPHS["es"], PARAGRAPHS["ja"], *(extra or [])):
        document.text.addElement(P(text=text))
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


def rtf_bytes(extra: list[str] | None = None) -> bytes:
    """RTF with non-ASCII as ``\\uN?`` escapes, as word processors write it."""

    def escape(text: str) -> str:
        out = []
        for char in text:
            code = ord(char)
            if char in "\\{}":
                out.append("\\" + char)
            elif code < 128:
                out.append(char)
            else:
                out.append(f"\\u{code if code < 32768 else code - 65536}?")
        return "".join(out)

    texts = ("Memorandum Ouagadougou", PARAGRAPHS["de"], PARAGRAPHS["ja"], *(extra or []))
    body = "\\par\n".join(escape(text) for text in texts)
    return ("{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Arial;}}\\f0\\fs24 " + body + "\\par\n}").encode("ascii")


def html_bytes(extra: list[str] | None = None) -> bytes:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Newsletter Valparaíso</title>"
        "<style>body { font-family: Hiddenstyleword; }</style>"
        "<script>var secret = 'Hiddenscriptword';</script></head><body>"
        f"<h1>Update</h1><p>{PARAGRAPHS['es']}</p><div hidden>Hiddenattrword</div>"
        f"<!-- Hiddencommentword --><ul><li>{PARAGRAPHS['ja']}</li><li>Timbuktu</li></ul>"
        + "".join(f"<p>{text}</p>" for text in extra or [])
        + "</body></html>"
    ).encode()


def eml_bytes(attachment: bytes, inner_zip: bytes, extra: list[str] | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "Ana Núñez <ana@example.com>"
    message["To"] = "Desk <desk@example.com>"
    message["Subject"] = "Contrat signé Marrakech"
    message["Date"] = "Mon, 02 Mar 2026 09:15:00 +0100"
    message.set_content("\n".join([PARAGRAPHS["fr"], PARAGRAPHS["zh"], *(extra or [])]) + "\n")
    message.add_alternative("<p>HTML alternative Hiddenalternative</p>", subtype="html")
    message.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="memo.docx")
    message.add_attachment(inner_zip, maintype="application", subtype="zip", filename="bundle.zip")
    return message.as_bytes()


def image_bytes(lines: list[str], font: Path, *, size: int = 56, fmt: str = "PNG") -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    typeface = ImageFont.truetype(str(font), size)
    image = Image.new("L", (1800, 120 + 110 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((60, 60 + 110 * index), line, font=typeface, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def tiff_pages_bytes(pages: list[list[str]], font: Path) -> bytes:
    """A multi-page TIFF, one Pillow-rendered page per item of ``pages``."""
    from PIL import Image

    images = [Image.open(io.BytesIO(image_bytes(lines, font))) for lines in pages]
    buffer = io.BytesIO()
    images[0].save(buffer, format="TIFF", save_all=True, append_images=images[1:], compression="tiff_deflate")
    return buffer.getvalue()


def bomb_png_bytes(side: int = 12_000) -> bytes:
    """A one-colour PNG of ``side`` x ``side`` pixels: a few kilobytes that decode to ``side²`` bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (side, side), 1).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb_bytes(megabytes: int) -> bytes:
    """One member of ``megabytes`` MiB of zeros, deflated (about 1,000:1), written in chunks."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("zeros.txt", "w", force_zip64=True) as member,
    ):
        chunk = b"\0" * (1 << 20)
        for _ in range(megabytes):
            member.write(chunk)
    return buffer.getvalue()


def lying_zip_bytes(megabytes: int, declared: int = 1000) -> bytes:
    """A zip bomb whose headers (local and central) declare ``declared`` bytes for its big member."""
    data = bytearray(zip_bomb_bytes(megabytes))
    # Local header: uncompressed size at offset 22 (zip64 sizes live in the extra field: rewrite both).
    for signature, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        position = data.find(signature)
        while position != -1:
            struct.pack_into("<I", data, position + size_offset, declared)
            extra_field = _zip64_extra(data, position, signature)
            if extra_field is not None:
                struct.pack_into("<Q", data, extra_field, declared)
            position = data.find(signature, position + 4)
    return bytes(data)


def _zip64_extra(data: bytearray, header: int, signature: bytes) -> int | None:
    """Where the zip64 extra field's uncompressed size sits in a local or central header, if any."""
    if signature == b"PK\x03\x04":
        name_length, extra_length = struct.unpack_from("<HH", data, header + 26)
        extra = header + 30 + name_length
    else:
        name_length, extra_length = struct.unpack_from("<HH", data, header + 28)
        extra = header + 46 + name_length
    end = extra + extra_length
    while extra + 4 <= end:
        tag, length = struct.unpack_from("<HH", data, extra)
        if tag == 0x0001:
            return int(extra + 4)
        extra += 4 + length
    return None


def corrupt(data: bytes, seed: int) -> bytes:
    """``data`` with its second half replaced by noise: the header says one thing, the body another."""
    half = len(data) // 2
    return data[:half] + random.Random(seed).randbytes(len(data) - half)


def corrupt_member(data: bytes, member: str) -> bytes:
    """A zip (an Office file) whose ``member`` is cut in half: a valid archive, a broken document."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members[member] = members[member][: len(members[member]) // 2]
    return zip_bytes(members)


def build(root: Path, *, bomb_megabytes: int = 300, with_ocr: bool = True, scale: int = 1) -> Corpus:
    """Writes the corpus into ``root``; ``bomb_megabytes`` sizes the zip bombs' inflated member,
    ``scale`` the documents (1: a few paragraphs each; n: about 20 * n more, n times the text)."""
    root.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(root)
    extra = filler(scale)
    latin = [PARAGRAPHS[key] for key in ("en", "de", "fr", "es")]
    docx_data = docx_bytes(extra)
    pdf_data = pdf_bytes(latin, pages=2 * scale)
    corpus.add(
        "report.pdf", pdf_data, Expected("extracted", ("Meridian", "überfällig", "façade", "Page 2"), file_type="pdf")
    )
    corpus.add("memo.docx", docx_data, Expected("extracted", ("Halvorsen", "Zanzibar", *ALL_WORDS), file_type="docx"))
    corpus.add(
        "trades.xlsx",
        xlsx_bytes(extra),
        Expected("extracted", ("Okonkwo", "Trades", "東京", "2500000", "Квартальный"), file_type="xlsx"),
    )
    corpus.add(
        "deck.pptx",
        pptx_bytes(extra),
        Expected("extracted", ("Kilimanjaro", "façade", "北京", "Quetzalcoatl"), file_type="pptx"),
    )
    corpus.add(
        "minutes.odt",
        odt_bytes(extra),
        Expected("extracted", ("Brandenburg", "überfällig", "Núñez", "東京"), file_type="odf"),
    )
    corpus.add(
        "letter.rtf", rtf_bytes(extra), Expected("extracted", ("Ouagadougou", "überfällig", "東京"), file_type="rtf")
    )
    corpus.add(
        "newsletter.html",
        html_bytes(extra),
        Expected(
            "extracted",
            ("Valparaíso", "Núñez", "東京", "Timbuktu"),
            absent=("Hiddenstyleword", "Hiddenscriptword", "Hiddenattrword", "Hiddencommentword"),
            file_type="html",
        ),
    )
    inner_zip = zip_bytes({"inner/notes.txt": b"Inner note Vladivostok"})
    corpus.add(
        "mail.eml",
        eml_bytes(docx_bytes(), inner_zip, extra),
        Expected(
            "extracted",
            ("Marrakech", "Núñez", "façade", "北京", "memo.docx", "Zanzibar", "bundle.zip"),
            absent=("Hiddenalternative", "Vladivostok"),
            file_type="eml",
        ),
    )
    texts = {
        "shift_jis.txt": ("shift_jis", PARAGRAPHS["ja"] * 3 + "\n納期は三月末です。\n", ("東京", "納期")),
        "cp1252.txt": (
            "cp1252",
            "Café invoice: 30 € for Zoë, naïve façade, Müller’s “quotes”.\n" * 3,
            ("Café", "€", "façade"),
        ),
        "utf16.txt": ("utf-16", PARAGRAPHS["ru"] + "\n" + PARAGRAPHS["zh"] + "\n", ("Квартальный", "北京")),
        "utf8.txt": ("utf-8", "\n".join(PARAGRAPHS.values()) + "\n", tuple(ALL_WORDS)),
        "cp1251.txt": ("cp1251", (PARAGRAPHS["ru"] + " Москва и Санкт-Петербург.\n") * 3, ("Квартальный", "Москва")),
        "gb18030.txt": ("gb18030", (PARAGRAPHS["zh"] + "上海的会议在周三举行。\n") * 3, ("北京", "上海")),
    }
    for name, (codec, text, words) in texts.items():
        corpus.add(name, (text * scale).encode(codec), Expected("extracted", words, file_type="text"))
    if with_ocr:
        corpus.add(
            "scan.png",
            image_bytes(["Quarterly invoice overdue", "Rechnung überfällig", "Factura pendiente"], LATIN_FONT),
            Expected("extracted", ("Quarterly", "invoice", "Rechnung", "Factura"), file_type="image"),
        )
        corpus.add(
            "scan.jpg",
            image_bytes(["Settlement Kilimanjaro"], LATIN_FONT, fmt="JPEG"),
            Expected("extracted", ("Settlement", "Kilimanjaro"), file_type="image"),
        )
        corpus.add(
            "scan.tiff",
            tiff_pages_bytes([["Page one Casablanca"], ["Page two Reykjavik"]], LATIN_FONT),
            Expected("extracted", ("Casablanca", "Reykjavik"), file_type="image"),
        )
        corpus.add(
            "scan_ja.png",
            image_bytes(["東京の会議", "北京办公室"], CJK_FONT, size=72),
            Expected("extracted", ("東京",), file_type="image"),
        )
    corpus.add(
        "bundle.zip",
        zip_bytes(
            {
                "docs/memo.docx": docx_data,
                "docs/report.pdf": pdf_data,
                "readme.txt": b"Readme Samarkand",
                "nested/inner.zip": inner_zip,
            }
        ),
        Expected(
            "extracted",
            ("docs/memo.docx", "Zanzibar", "docs/report.pdf", "Meridian", "Samarkand", "nested/inner.zip"),
            absent=("Vladivostok",),
            file_type="zip",
        ),
    )
    corpus.add("encrypted.pdf", encrypted_pdf_bytes(), Expected("failed", reason="encrypted", file_type="pdf"))
    corpus.add("corrupt.pdf", corrupt(pdf_data, 1), Expected("failed", reason="pdf", file_type="pdf"))
    corpus.add(
        "corrupt.docx",
        corrupt_member(docx_data, "word/document.xml"),
        Expected("failed", reason="docx", file_type="docx"),
    )
    corpus.add("truncated.zip", corrupt(docx_data, 2), Expected("failed", reason="zip", file_type="zip"))
    corpus.add(
        "random.bin", random.Random(3).randbytes(4096), Expected("unsupported", reason="unknown", file_type="unknown")
    )
    corpus.add("bomb.zip", zip_bomb_bytes(bomb_megabytes), Expected("failed", reason="zip bomb", file_type="zip"))
    corpus.add(
        "lying.zip", lying_zip_bytes(bomb_megabytes), Expected("extracted", words=("zeros.txt",), file_type="zip")
    )
    corpus.add("bomb.png", bomb_png_bytes(), Expected("failed", reason="decompression bomb", file_type="image"))
    corpus.add("empty.txt", b"", Expected("empty", file_type="text"))
    return corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--bomb-megabytes", type=int, default=300)
    args = parser.parse_args(argv)
    corpus = build(args.root, scale=args.scale, bomb_megabytes=args.bomb_megabytes)
    for name in sorted(corpus.expected):
        print(name, (corpus.root / name).stat().st_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
