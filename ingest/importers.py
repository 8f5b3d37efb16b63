"""Importers of other systems' chat history, found through the ``archivist.importers`` entry-point group.

A third party adds an importer by shipping a distribution with an entry point in that group
naming a factory ``() -> Importer`` (the class will do); ``archivist import NAME FILE...`` then
reads those files and publishes their events like ``archivist publish``, and nothing in this
repository changes. :mod:`ingest.irc` is the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Protocol, cast

from ingest.producer import Located, Rejected
from plugins import did_you_mean, registered, registered_names

GROUP = "archivist.importers"


class Importer(Protocol):
    """Reads one kind of file into events. One instance serves one import: it may count what it
    reads (for :meth:`notes`) as :meth:`items` goes."""

    name: str
    """Its name on the command line: ``archivist import irc``."""
    reads: str
    """What files it reads, for the command's help (``IRC logs (*.raw.txt, date in the file name).``)."""
    description: str
    """The command's help: the first line says what it imports, the rest what it does with lines it cannot."""

    def check(self, path: Path) -> None:
        """Raise ``ValueError`` (the message names the file) if ``path`` cannot be one of its
        files, judged without reading it: every file is checked before any is read."""
        ...

    def items(self, paths: Iterable[Path]) -> Iterator[Located | Rejected]:
        """The events of ``paths`` with where each comes from, and what cannot be imported (a
        bad line, a file that cannot be read, one with nothing to import), in file order."""
        ...

    def notes(self) -> list[str]:
        """What the operator should know once :meth:`items` is done that is neither an event nor
        a rejection (lines of no known kind that were skipped, ...)."""
        ...


ImporterFactory = Callable[[], Importer]


class UnknownImporter(ValueError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(
            f"unknown importer {name!r}{did_you_mean(name, known)}; known importers: {', '.join(sorted(known))}"
        )


def known_importer_names() -> list[str]:
    return registered_names(GROUP)


def _entry_point(name: str) -> EntryPoint:
    found = registered(GROUP, name)
    if found is None:
        raise UnknownImporter(name, known_importer_names())
    return found


def load_importer(name: str) -> Importer:
    """A new importer of the kind registered as ``name`` (only that plug-in is imported)."""
    factory = cast(ImporterFactory, _entry_point(name).load())
    return factory()
