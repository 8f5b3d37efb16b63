"""Attachment text extraction: the pool beside the libraries called directly, OCR beside the
tesseract command, and the workers' peak memory whatever the input.

    python -m bench.extract [--repeat 10] [--ocr-repeat 2] [--scale 20] [--rounds 3] [--workdir DIR] [--write]

Builds the seeded corpus of ``bench/attachment_corpus.py`` (real files made by the libraries
that write them) and, per type, extracts its files ``--repeat`` times (images ``--ocr-repeat``)
twice in the same run: through an :class:`~extraction.pool.ExtractionPool` of one worker (the
file path sent to a spawned worker under the time and memory limits, detection by content, the
text sent back), and by calling the same library directly in this process on the same path
(``pypdf.PdfReader(...).pages[i].extract_text()``, ``docx.Document(...)``..., the ``tesseract``
command for images). One worker against one in-process loop: the ratio is the pool's overhead,
not parallelism. Target: the pool at 80% or more of direct.

Peak memory: each type runs in a fresh pool; a worker reports its maximum resident set (and
that of the tesseract it ran) after every file. The hostile row runs the bombs, corrupt and
encrypted files through a fresh pool with the default limits, then the decompression-bomb PNG
with its pixel bound lifted so that only the memory limit stands in the way. Target: every
peak under the pool's memory limit.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import io
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from bench.common import write_section
from extraction.extract import extract_file
from extraction.pool import ExtractionPool
from extraction.result import ExtractionLimits

BEGIN, END = "<!-- bench/extract.py begin -->", "<!-- bench/extract.py end -->"
TARGET = 0.8
MIN_PASS_SECONDS = 0.5
MAX_REPEAT = 500
LIMITS = ExtractionLimits()
TYPES: dict[str, list[str]] = {
    "pdf": ["report.pdf"],
    "docx": ["memo.docx"],
    "xlsx": ["trades.xlsx"],
    "pptx": ["deck.pptx"],
    "odf": ["minutes.odt"],
    "rtf": ["letter.rtf"],
    "html": ["newsletter.html"],
    "eml": ["mail.eml"],
    "text": ["shift_jis.txt", "cp1252.txt", "utf16.txt", "gb18030.txt"],
    "zip": ["bundle.zip"],
    "image (OCR)": ["scan.png", "scan.jpg"],
}
TIGHT_MEMORY = 256 << 20
"""A memory limit under what decoding the PNG bomb (144 million pixels) needs."""
HOSTILE = ["bomb.zip", "lying.zip", "bomb.png", "encrypted.pdf", "corrupt.pdf", "corrupt.docx", "random.bin"]


def _pdf(path: Path | BinaryIO) -> str:
    import pypdf

    return "".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


def _docx(path: Path | BinaryIO) -> str:
    import docx

    document = docx.Document(path if not isinstance(path, Path) else str(path))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([paragraph.text for paragraph in document.paragraphs] + cells)


def _xlsx(path: Path) -> str:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    text = "\n".join(
        "\t".join(str(value) for value in row if value is not None)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
    )
    workbook.close()
    return text


def _pptx(path: Path) -> str:
    import pptx

    presentation = pptx.Presentation(str(path))
    return "\n".join(
        shape.text_frame.text for slide in presentation.slides for shape in slide.shapes if shape.has_text_frame
    )


def _odf(path: Path) -> str:
    from lxml import etree

    with zipfile.ZipFile(path) as archive:
        return "".join(etree.fromstring(archive.read("content.xml")).itertext())


def _rtf(path: Path) -> str:
    from striprtf.striprtf import rtf_to_text

    return str(rtf_to_text(path.read_bytes().decode("latin-1"), errors="replace"))  # type: ignore[no-untyped-call]


def _html(path: Path) -> str:
    import lxml.html

    document = lxml.html.document_fromstring(path.read_bytes())
    for element in document.iter("script", "style"):
        element.drop_tree()
    return str(document.text_content())


def _text_of(data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return "" if best is None else str(best)


def _text(path: Path) -> str:
    return _text_of(path.read_bytes())


def _eml(path: Path) -> str:
    with open(path, "rb") as stream:
        message = email.message_from_binary_file(stream, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    text = str(body.get_content()) if body is not None else ""
    for attachment in message.iter_attachments():
        data = attachment.get_payload(decode=True)
        if isinstance(data, bytes) and (attachment.get_filename() or "").endswith(".docx"):
            text += _docx(io.BytesIO(data))
    return text


def _zip(path: Path) -> str:
    parts = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            data = archive.read(info)
            suffix = Path(info.filename).suffix
            if suffix == ".txt":
                parts.append(_text_of(data))
            elif suffix in (".pdf", ".docx"):
                parts.append((_pdf if suffix == ".pdf" else _docx)(io.BytesIO(data)))
    return "\n".join(parts)


def _tesseract_cli(path: Path) -> str:
    environment = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    command = ["tesseract", str(path), "-", "-l", LIMITS.ocr_languages]
    return subprocess.run(command, capture_output=True, check=True, env=environment).stdout.decode()


DIRECT: dict[str, Callable[[Path], str]] = {
    "pdf": _pdf,
    "docx": _docx,
    "xlsx": _xlsx,
    "pptx": _pptx,
    "odf": _odf,
    "rtf": _rtf,
    "html": _html,
    "eml": _eml,
    "text": _text,
    "zip": _zip,
    "image (OCR)": _tesseract_cli,
}


@dataclass
class Figure:
    kind: str
    files: int
    megabytes: float
    direct_seconds: float
    pool_seconds: float
    peak_bytes: int
    states: dict[str, int]

    def row(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "files": self.files,
            "MB": round(self.megabytes, 2),
            "direct files/s": round(self.files / self.direct_seconds, 1),
            "pool files/s": round(self.files / self.pool_seconds, 1),
            "ratio": round(self.direct_seconds / self.pool_seconds, 2),
            "peak MB": round(self.peak_bytes / 1e6),
            "states": self.states,
        }


def measure(kind: str, paths: list[Path], repeat: int, rounds: int) -> Figure:
    """The best of ``rounds`` alternating passes each way (the host is shared and noisy)."""
    direct = DIRECT[kind]
    for path in paths:
        direct(path)  # imports and caches, untimed (the pool's worker warms up before it is ready)
    started = time.perf_counter()
    for path in paths:
        direct(path)
    once = time.perf_counter() - started
    # Fast types get more files: a pass of a few milliseconds would measure the scheduler.
    repeat = max(repeat, min(MAX_REPEAT, math.ceil(MIN_PASS_SECONDS / max(once, 1e-6))))
    work = [path for _ in range(repeat) for path in paths]
    size = sum(path.stat().st_size for path in work) / 1e6
    states: dict[str, int] = {}
    direct_seconds = pool_seconds = float("inf")
    with ExtractionPool(1, LIMITS) as pool:
        pool.extract(paths[0], name=paths[0].name, content_type="")  # the worker is started, untimed
        for _ in range(rounds):
            started = time.perf_counter()
            for path in work:
                direct(path)
            direct_seconds = min(direct_seconds, time.perf_counter() - started)
            started = time.perf_counter()
            for path in work:
                state = pool.extract(path, name=path.name, content_type="").state
                states[state] = states.get(state, 0) + 1
            pool_seconds = min(pool_seconds, time.perf_counter() - started)
        peak = pool.peak_rss_bytes
    return Figure(kind, len(work), size, direct_seconds, pool_seconds, peak, states)


def round_trip(root: Path) -> tuple[float, float]:
    """Seconds per file of an empty text file in process and through the pool: the fixed cost."""
    path = root / "empty.txt"
    with ExtractionPool(1, LIMITS) as pool:
        pool.extract(path, name=path.name, content_type="")
        best_direct = best_pool = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(100):
                extract_file(path, name=path.name, content_type="", limits=LIMITS)
            best_direct = min(best_direct, (time.perf_counter() - started) / 100)
            started = time.perf_counter()
            for _ in range(100):
                pool.extract(path, name=path.name, content_type="")
            best_pool = min(best_pool, (time.perf_counter() - started) / 100)
    return best_direct, best_pool


def hostile(root: Path) -> dict[str, Any]:
    """Peaks over the hostile files: default limits, then the PNG bomb with only the memory limit."""
    reasons = {}
    with ExtractionPool(1, LIMITS) as pool:
        for name in HOSTILE:
            result = pool.extract(root / name, name=name, content_type="")
            said = result.reason if result.state != "extracted" else " ".join(result.text.split())[:120]
            reasons[name] = f"{result.state}: {said}"
        peak = pool.peak_rss_bytes
    loose = replace(LIMITS, max_image_pixels=10**10)
    with ExtractionPool(1, loose) as pool:
        result = pool.extract(root / "bomb.png", name="bomb.png", content_type="")
        reasons["bomb.png, no pixel bound"] = f"{result.state}: {result.reason}"
        peak_loose = pool.peak_rss_bytes
    tight = replace(loose, memory_bytes=TIGHT_MEMORY)
    with ExtractionPool(1, tight) as pool:
        result = pool.extract(root / "bomb.png", name="bomb.png", content_type="")
        reasons["bomb.png, no pixel bound, tight memory"] = f"{result.state}: {result.reason}"
        peak_tight = pool.peak_rss_bytes
    return {"reasons": reasons, "peak_bytes": peak, "peak_loose_bytes": peak_loose, "peak_tight_bytes": peak_tight}


def report(figures: list[Figure], bad: dict[str, Any], trip: tuple[float, float], setup: str) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    limit_mb = LIMITS.memory_bytes / 1e6
    lines = [
        BEGIN,
        "## Extraction (`bench/extract.py`)",
        "",
        f"{when}, {setup}, {os.cpu_count()} cores, Python {platform.python_version()}; the seeded corpus of "
        "`bench/attachment_corpus.py`, each type's files (repeated to make a pass of 0.5 s or more) extracted "
        "in turn by the same library called directly in "
        "the bench's process, then through an `ExtractionPool` of **one** worker (spawned, under the time and "
        f"memory limits: {LIMITS.seconds:g} s, {limit_mb:,.0f} MB (1 GiB) `RLIMIT_AS`); images: the `tesseract` "
        "command "
        f"(`-l {LIMITS.ocr_languages}`, one thread) against the pool's pytesseract. Ratio = direct time / pool "
        f"time (target {TARGET:.0%} or more). The direct calls are each library's plain text call; the "
        "extractors sometimes do more (HTML: visible text only, with its lines; text: the charset found for "
        "every file; e-mail: every attachment). Images are one page each: their files/s are OCR pages/s. "
        "Peak = the worker's maximum resident set (`VmHWM`), or its tesseract's.",
        "",
        "| type | files | MB | direct files/s | pool files/s | direct MB/s | pool MB/s | pool / direct | peak MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for figure in figures:
        ratio = figure.direct_seconds / figure.pool_seconds
        met = "met" if ratio >= TARGET else "missed"
        lines.append(
            f"| {figure.kind} | {figure.files} | {figure.megabytes:.2f} | {figure.files / figure.direct_seconds:,.1f} "
            f"| {figure.files / figure.pool_seconds:,.1f} | {figure.megabytes / figure.direct_seconds:,.2f} "
            f"| {figure.megabytes / figure.pool_seconds:,.2f} | {ratio:.0%} ({met}) | {figure.peak_bytes / 1e6:,.0f} |"
        )
    lines += [
        "",
        f"The pool's fixed cost per file, an empty text file: {trip[0] * 1e3:.2f} ms in process, "
        f"{trip[1] * 1e3:.2f} ms through the pool (the request and the answer between two processes): "
        "files that take the library only a few milliseconds cannot reach 80% through any worker process.",
    ]
    peak = max([figure.peak_bytes for figure in figures] + [bad["peak_bytes"], bad["peak_loose_bytes"]])
    tight_met = bad["peak_tight_bytes"] <= TIGHT_MEMORY
    lines += [
        "",
        f"Hostile files, default limits (peak {bad['peak_bytes'] / 1e6:,.0f} MB): "
        + "; ".join(f"`{name}` {reason}" for name, reason in bad["reasons"].items() if "no pixel" not in name)
        + ".",
        "",
        "The PNG bomb (12,000 x 12,000) with its pixel bound lifted: under the default memory limit "
        f"{bad['reasons']['bomb.png, no pixel bound']} (decoded and OCRed, peak {bad['peak_loose_bytes'] / 1e6:,.0f}"
        f" MB); under a {TIGHT_MEMORY / 1e6:,.0f} MB limit "
        f"{bad['reasons']['bomb.png, no pixel bound, tight memory']} (peak {bad['peak_tight_bytes'] / 1e6:,.0f} MB). "
        f"Largest peak of any worker in this run: {peak / 1e6:,.0f} MB against the limit of {limit_mb:,.0f} MB "
        f"({'met' if peak <= LIMITS.memory_bytes else 'missed'}); the tight run's peak against its own limit: "
        f"{'met' if tight_met else 'missed'}.",
        "",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10, help="extractions of each document per type")
    parser.add_argument("--ocr-repeat", type=int, default=2, help="extractions of each image (one page each)")
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument("--scale", type=int, default=20, help="document size: about 20 * scale paragraphs")
    parser.add_argument("--rounds", type=int, default=3, help="alternating passes each way; the best counts")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "archivist-bench-extract")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    # Built in a child: a worker's children inherit its peak, and this process would hold the bombs.
    command = [sys.executable, "-m", "bench.attachment_corpus", str(args.workdir), "--scale", str(args.scale)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    root = args.workdir
    figures = []
    for kind in args.types.split(","):
        repeat = args.ocr_repeat if kind == "image (OCR)" else args.repeat
        figure = measure(kind, [root / name for name in TYPES[kind]], repeat, args.rounds)
        print(json.dumps(figure.row(), ensure_ascii=False), flush=True)
        figures.append(figure)
    trip = round_trip(root)
    print(json.dumps({"round trip ms": [round(seconds * 1e3, 3) for seconds in trip]}), flush=True)
    bad = hostile(root)
    print(json.dumps(bad, ensure_ascii=False), flush=True)
    setup = (
        f"--scale {args.scale} --repeat {args.repeat} --ocr-repeat {args.ocr_repeat}, best of {args.rounds} rounds, "
        f"load average {load:.1f} at the start"
    )
    section = report(figures, bad, trip, setup)
    print(section)
    if args.write:
        write_section(section, BEGIN, END)


if __name__ == "__main__":
    main()
