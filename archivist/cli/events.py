"""Events in: the event contract's schema, publishing files of events, synthetic traffic."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from archivist import wiring
from archivist.cli.common import err, load_settings, out, require_files
from ingest.events import Event, event_json_schema
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
) -> None:
    """Validate and publish events (to RabbitMQ, or straight into staging when no broker is set).

    Bad lines are reported as FILE:LINE with the reason and the command exits 1; so does an
    event whose event_id is recorded already with other content (a conflict). With a broker,
    conflicts are found by the consumer and dead-lettered with the reason."""
    require_files(files)

    def items() -> Iterator[Located | Rejected]:
        for path in files:
            yield from read_jsonl(path)

    run_producer(items(), "publish")


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
