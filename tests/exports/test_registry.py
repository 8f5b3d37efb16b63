"""The ``archivist.exports`` entry-point group and its registry."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from exports.base import ExportFormat
from exports.registry import FORMAT_NAMES, GROUP, UnknownFormat, export_format


def test_every_declared_format_loads_and_is_an_export_format_named_as_registered() -> None:
    declared = list(entry_points(group=GROUP))
    assert declared, "no export format is declared: is the distribution installed?"
    for entry_point in declared:
        writer = export_format(entry_point.name)
        assert isinstance(writer, ExportFormat)
        assert writer.name == entry_point.name
    assert sorted(FORMAT_NAMES) == sorted(entry_point.name for entry_point in declared)


def test_the_built_in_formats_keep_the_order_the_api_and_the_pages_list() -> None:
    assert FORMAT_NAMES[:7] == ("jsonl", "csv", "edrm", "lync", "actiance", "rsmf", "pdf")


def test_each_call_is_a_fresh_writer() -> None:
    assert export_format("jsonl") is not export_format("jsonl")


def test_an_unknown_format_names_the_closest_and_every_known_one() -> None:
    with pytest.raises(
        UnknownFormat, match=r"unknown export format 'pfd' \(did you mean 'pdf'\?\); formats are jsonl, "
    ):
        export_format("pfd")


def test_an_unknown_format_with_no_close_name_suggests_nothing() -> None:
    with pytest.raises(UnknownFormat) as raised:
        export_format("docx")
    assert "did you mean" not in str(raised.value)
    assert str(raised.value).endswith(f"formats are {', '.join(FORMAT_NAMES)}")


def test_only_the_named_format_is_imported() -> None:
    """An export without the PDF does not pay for reportlab."""
    check = (
        "import sys; from exports.registry import export_format; export_format('jsonl'); "
        "print('exports.pdf_report' in sys.modules, 'reportlab' in sys.modules)"
    )
    completed = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert completed.stdout.split() == ["False", "False"]
