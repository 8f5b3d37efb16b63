"""Export formats by name (the API's and the CLI's ``format`` values)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from exports.base import ExportFormat

# name -> (module, class): imported on first use, so one format's dependencies (reportlab for
# the PDF) cost nothing to an export that does not use it.
_FORMATS: dict[str, tuple[str, str]] = {
    "jsonl": ("exports.jsonl", "JsonlFormat"),
    "csv": ("exports.csv_dat", "CsvDatFormat"),
    "edrm": ("exports.edrm", "EdrmFormat"),
    "lync": ("exports.lync", "LyncXmlFormat"),
    "actiance": ("exports.actiance", "ActianceFormat"),
    "rsmf": ("exports.rsmf", "RsmfFormat"),
    "pdf": ("exports.pdf_report", "PdfReportFormat"),
}
FORMAT_NAMES: tuple[str, ...] = tuple(_FORMATS)


class UnknownFormat(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown export format {name!r}; formats are {', '.join(FORMAT_NAMES)}")


def export_format(name: str) -> ExportFormat:
    if name not in _FORMATS:
        raise UnknownFormat(name)
    module, attribute = _FORMATS[name]
    factory: Callable[[], ExportFormat] = getattr(import_module(module), attribute)
    return factory()
