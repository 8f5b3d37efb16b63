"""``archivist import``: chat history from other systems."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from archivist.cli.common import err, fail, require_files
from archivist.cli.events import run_producer
from ingest.irc import IrcImportStats, date_from_log_name, read_irc_items
from ingest.producer import Located, Rejected

app = typer.Typer(no_args_is_help=True, help="Import chat history from other systems.")


@app.command("irc")
def import_irc(
    files: Annotated[list[Path], typer.Argument(help="IRC logs (*.raw.txt, date in the file name).")],
) -> None:
    """Import IRC channel logs: messages, actions, joins, leaves, quits and nick changes.

    Lines of no known kind are counted and reported; lines that cannot be imported (an
    impossible time, an invalid event, a line over the limit) are rejected by FILE:LINE, and a
    file with nothing to import is an error."""
    require_files(files)
    for path in files:
        try:
            date_from_log_name(path.name)
        except ValueError as error:
            fail(str(error))
    stats = {path: IrcImportStats() for path in files}
    try:
        run_producer(_irc_items(files, stats), "import irc")
    finally:
        _report_irc_lines(stats)


def _irc_items(files: Iterable[Path], stats: dict[Path, IrcImportStats]) -> Iterator[Located | Rejected]:
    for path in files:
        try:
            yield from read_irc_items(path, stats[path])
        except OSError as error:
            yield Rejected(path.name, f"cannot read the file: {error.strerror or error}")
            continue
        if stats[path].events == 0 and stats[path].rejected == 0:
            found = f"{stats[path].skipped} lines of no known kind" if stats[path].skipped else "the file is empty"
            yield Rejected(path.name, f"nothing to import ({found}): is this an IRC log?")


def _report_irc_lines(stats: dict[Path, IrcImportStats]) -> None:
    for path, counted in stats.items():
        if counted.skipped:
            lines = ", ".join(str(n) for n in counted.first_skipped)
            more = ", ..." if counted.skipped > len(counted.first_skipped) else ""
            err.print(
                f"skipped {counted.skipped} lines of {path.name} of no known kind (not a message, action, notice, "
                f"join, leave, quit or rename): lines {lines}{more}",
                highlight=False,
                markup=False,
            )
