"""``archivist directory``: the users and groups that policies name."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from archivist import wiring
from archivist.cli.common import audit_cli, fail, load_settings, out
from policies.directory_import import DirectoryFileError, parse_directory
from policies.store import PolicyConflict, PolicyStore

app = typer.Typer(no_args_is_help=True, help="The directory of users and groups that policies name.")


@app.command("import")
def directory_import(
    files: Annotated[list[Path], typer.Argument(help="Users and groups: .csv (by header), .json or .jsonl files.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Remove users and groups that the files leave out.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count, change nothing.")] = False,
) -> None:
    """Create or update users and groups from directory files, all in one transaction."""
    contents: list[tuple[str, bytes]] = []
    for path in files:
        try:
            contents.append((path.name, path.read_bytes()))
        except OSError as error:
            fail(escape(f"cannot read {path}: {error.strerror or error}"))
    try:
        directory = parse_directory(contents)
    except DirectoryFileError as error:
        fail(escape(f"nothing imported:\n{error}"))
    engine = wiring.staging_store(load_settings()).engine
    try:
        counts = PolicyStore(engine).import_directory(directory, replace=replace, dry_run=dry_run)
    except PolicyConflict as error:
        fail(escape(f"nothing imported: {error}"))
    c = counts
    out.print(
        f"users: {c.users_created} created, {c.users_updated} updated, {c.users_unchanged} unchanged, "
        f"{c.users_removed} removed\ngroups: {c.groups_created} created, {c.groups_updated} updated, "
        f"{c.groups_unchanged} unchanged, {c.groups_removed} removed",
        highlight=False,
    )
    if dry_run:
        out.print("dry run: nothing was changed", highlight=False)
        return
    files_audited = [{"name": name, "sha256": hashlib.sha256(data).hexdigest()} for name, data in contents]
    audit_cli(engine, "directory_import", {**counts.as_dict(), "replace": replace, "files": files_audited})
