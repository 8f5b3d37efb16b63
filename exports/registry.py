"""Export formats by name (the API's and the CLI's ``format`` values), found through the
``archivist.exports`` entry-point group.

A third party adds a format by shipping a distribution with an entry point in that group naming
a factory ``() -> ExportFormat`` (the class will do); nothing in this repository changes. Only
the format an export names is imported, so one format's dependencies (reportlab for the PDF)
cost nothing to an export that does not use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from exports.base import ExportFormat
from plugins import did_you_mean, registered, registered_names

GROUP = "archivist.exports"

# Entry points come in no useful order: the built-in formats keep the order the API and the
# pages have always listed them in; any others follow by name.
_LISTED_FIRST = ("jsonl", "csv", "edrm", "lync", "actiance", "rsmf", "pdf")


def known_format_names() -> tuple[str, ...]:
    names = set(registered_names(GROUP))
    first = [name for name in _LISTED_FIRST if name in names]
    return (*first, *sorted(names - set(first)))


FORMAT_NAMES: tuple[str, ...] = known_format_names()


class UnknownFormat(ValueError):
    def __init__(self, name: str, known: Sequence[str] = FORMAT_NAMES) -> None:
        super().__init__(f"unknown export format {name!r}{did_you_mean(name, known)}; formats are {', '.join(known)}")


def export_format(name: str) -> ExportFormat:
    """A new writer of the format registered as ``name`` (only that plug-in is imported)."""
    found = registered(GROUP, name)
    if found is None:
        raise UnknownFormat(name)
    factory = cast(Callable[[], ExportFormat], found.load())
    return factory()
