"""Events in: the event contract's schema, publishing files of events, synthetic traffic."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from archive import attachments
from archive.attachments import ReceivedVia
from archive.file_folder import hash_folder, store_from_folder
from archive.file_store import FileRefused, FileStoreError
from archivist import wiring
from archivist.cli.common import err, fail, load_settings, out, require_files
from ingest.events import Event, FileUploadEvent, event_json_schema
from ingest.producer import FeedReport, Located, Rejected, feed, read_jsonl, write_jsonl
from ingest.simulate import simulate_events

app = typer.Typer()

SHOWN_PROBLEMS = 20


@app.command()
def schema() -> None:
    """Print the JSON Schema of the event contract."""
    print(json.dumps(event_json_schema(), indent=2, ensure_ascii=False))


def run_producer(items: Iterable[Event | Located | Rejected], what: str, *, progress_lines: bool = True) -> FeedReport:
    """Feed ``items`` to RabbitMQ (or staging), then report what was accepted, rejected and in
    conflict; exit 1 if anything was not accepted."""
    settings = load_settings()
    sink = wiring.event_sink(settings)
    target = "RabbitMQ" if settings.broker_url else "staging"

    def progress(report: FeedReport) -> None:
        # Printed only after the chunk is durable: a killed producer never over-reports.
        print(f"accepted {report.accepted} events into {target}", flush=True)

    try:
        report = feed(sink, items, chunk_size=settings.batch_size, on_progress=progress if progress_lines else None)
    finally:
        sink.close()
    for label, problems in (("rejected", report.rejected), ("conflict", report.conflicts)):
        for problem in problems[:SHOWN_PROBLEMS]:
            err.print(f"{label} {problem.where}: {problem.reason}", highlight=False, markup=False)
        if len(problems) > SHOWN_PROBLEMS:
            err.print(f"... and {len(problems) - SHOWN_PROBLEMS} more {label}", highlight=False, markup=False)
    conflicts = f", {len(report.conflicts)} conflicts" if report.conflicts else ""
    out.print(f"{what}: {report.accepted} events accepted, {len(report.rejected)} rejected{conflicts}", highlight=False)
    if report.rejected or report.conflicts:
        raise typer.Exit(1)
    return report


@app.command()
def publish(
    files: Annotated[list[Path], typer.Argument(help="JSON Lines files, one event per line.")],
    natives: Annotated[
        Path | None,
        typer.Option(
            "--files",
            help="A folder holding the uploaded files' bytes: each file_upload event's file is found in it by "
            "SHA-256 and stored before the events are published.",
        ),
    ] = None,
) -> None:
    """Validate and publish events (to RabbitMQ, or straight into staging when no broker is set).

    Bad lines are reported as FILE:LINE with the reason and the command exits 1; so does an
    event whose event_id is recorded already with other content (a conflict). With a broker,
    conflicts are found by the consumer and dead-lettered with the reason.

    With ``--files DIR``, every regular file under DIR is hashed, and the bytes of each
    ``file_upload`` being published are put in the file store (and recorded) before any event
    is published; uploads whose bytes are not in DIR are listed (they stay pending until their
    bytes arrive), and so are the files no event refers to. A link leading out of DIR and a file
    that cannot be read stop the command before anything is published."""
    require_files(files)

    def items() -> Iterator[Located | Rejected]:
        for path in files:
            yield from read_jsonl(path)

    if natives is not None:
        hand_over_natives(items(), natives, "publish")
    run_producer(items(), "publish")


def hand_over_natives(items: Iterable[Located | Rejected], folder_path: Path, received_via: ReceivedVia) -> None:
    """Store the bytes of the uploads among ``items`` found in ``folder_path`` (see ``publish``);
    exit 1, having published nothing, on a problem with the folder or a file in it."""
    if not folder_path.is_dir():
        fail(f"--files: {folder_path} is not a folder")
    folder = hash_folder(folder_path)
    for problem in folder.problems:
        err.print(f"--files: {problem}", highlight=False, markup=False)
    if folder.problems:
        fail(f"--files: {len(folder.problems)} problems in {folder_path}; nothing was published", 1)
    for path in folder.skipped:
        err.print(f"--files: skipped {path}: not a regular file", highlight=False, markup=False)
    uploads = [
        (item.where, item.event)
        for item in items
        if isinstance(item, Located) and isinstance(item.event, FileUploadEvent)
    ]
    wanted = {event.file.sha256 for _where, event in uploads}
    settings = load_settings()
    engine = wiring.staging_store(settings).engine
    try:
        stored = store_from_folder(
            engine,
            wiring.file_store(settings),
            folder,
            wanted,
            received_via=received_via,
            max_bytes=settings.max_file_bytes,
        )
    except (FileRefused, OSError, FileStoreError) as error:
        fail(f"--files: {error}; nothing was published", 1)
    with engine.connect() as connection:
        held = attachments.stored_natives(connection, wanted)
    pending = [(where, event) for where, event in uploads if event.file.sha256 not in held]
    for where, event in pending[:SHOWN_PROBLEMS]:
        line = f"pending {where}: {event.file.name} ({event.file.sha256}) is not in {folder_path}"
        err.print(line, highlight=False, markup=False)
    if len(pending) > SHOWN_PROBLEMS:
        err.print(f"... and {len(pending) - SHOWN_PROBLEMS} more pending", highlight=False, markup=False)
    unreferenced = sorted(path for sha256, path in folder.by_sha256.items() if sha256 not in wanted)
    for path in unreferenced[:SHOWN_PROBLEMS]:
        err.print(f"unreferenced {path}: no file_upload event names it", highlight=False, markup=False)
    if len(unreferenced) > SHOWN_PROBLEMS:
        err.print(f"... and {len(unreferenced) - SHOWN_PROBLEMS} more unreferenced", highlight=False, markup=False)
    created = sum(1 for put in stored if put.created)
    out.print(
        f"files: {len(stored)} stored ({created} new), {len(pending)} uploads pending (bytes not in "
        f"{folder_path}), {len(unreferenced)} files no event refers to",
        highlight=False,
        markup=False,
    )


@app.command()
def simulate(
    events: Annotated[int, typer.Option(min=0, help="How many events to generate.")] = 10_000,
    rooms: Annotated[int, typer.Option(min=1, help="Rooms (plus some IM conversations).")] = 10,
    users: Annotated[int, typer.Option(min=2, help="People taking part.")] = 50,
    seed: Annotated[int, typer.Option(help="Same seed, same events.")] = 0,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write JSON Lines here instead of publishing.")
    ] = None,
) -> None:
    """Generate realistic synthetic traffic (joins, posts, mentions, reads, edits, files, ...)."""
    generated = simulate_events(events=events, rooms=rooms, users=users, seed=seed)
    if output is not None:
        count = write_jsonl(generated, output)
        out.print(f"wrote {count} events to {output}", highlight=False)
        return
    run_producer(generated, "simulate")
