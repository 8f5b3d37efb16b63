"""``archivist import FORMAT FILE...``: chat history from other systems, one subcommand per
importer of the ``archivist.importers`` entry-point group (:mod:`ingest.importers`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from archivist.cli.common import err, fail, require_files
from archivist.cli.events import hand_over_natives, run_producer
from ingest.importers import Importer, UnknownImporter, known_importer_names, load_importer


class ImporterCommands(TyperGroup):
    """The subcommands of ``archivist import``: one per importer, built when it is named, so an
    importer costs the other commands nothing (not even its import) and an unknown name is a
    clear error with a suggestion."""

    # typer vendors click and keeps its Context and Command types private: Any stands for them.
    def list_commands(self, ctx: Any) -> list[str]:
        return known_importer_names()

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        try:
            importer = load_importer(cmd_name)
        except UnknownImporter as error:
            fail(str(error))
        return typer.main.get_command(_importer_app(importer))


app = typer.Typer(cls=ImporterCommands, no_args_is_help=True, help="Import chat history from other systems.")


def _importer_app(importer: Importer) -> typer.Typer:
    """A typer app of one command, ``importer``'s, with its help."""
    single = typer.Typer(add_completion=False)

    def run(files: list[Path], natives: Path | None = None) -> None:
        import_files(importer, files, natives)

    # The argument's help is the importer's, known only now: typer reads it from the annotation.
    run.__annotations__["files"] = Annotated[list[Path], typer.Argument(help=importer.reads)]
    run.__annotations__["natives"] = Annotated[
        Path | None,
        typer.Option(
            "--files",
            help="A folder holding the uploaded files' bytes, stored (by SHA-256) before the events are published, "
            "as with `archivist publish --files`.",
        ),
    ]
    single.command(importer.name, help=importer.description)(run)
    return single


def import_files(importer: Importer, files: list[Path], natives: Path | None = None) -> None:
    """Check every file, then publish their events like ``archivist publish`` (exit 1 if any
    item is rejected); ``importer``'s notes are shown however that ends. With ``natives``, the
    bytes of the uploads found in that folder are stored first (``publish --files``), read
    through an importer of their own (one instance serves one pass)."""
    require_files(files)
    for path in files:
        try:
            importer.check(path)
        except ValueError as error:
            fail(escape(str(error)))
    if natives is not None:
        hand_over_natives(load_importer(importer.name).items(files), natives, "import")
    try:
        run_producer(importer.items(files), f"import {importer.name}")
    finally:
        for note in importer.notes():
            err.print(note, highlight=False, markup=False)
