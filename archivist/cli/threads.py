"""``archivist threads``: the reply links of the archive's messages (docs/threads.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from adapters.thread_adapter import rebuild as rebuild_threads
from archive.threads import rooms_with_messages
from archivist import wiring
from archivist.cli.common import audit_cli, fail, load_settings, out

app = typer.Typer(no_args_is_help=True, help="Threads: which message each message answers.")


@app.command()
def rebuild(
    room: Annotated[str | None, typer.Option(help="Rebuild one room (its id) instead of every room.")] = None,
) -> None:
    """Rewrite the thread links from the archive (they are derived): the platform's replies where
    the room has them, the disentangler's links in flat rooms. Run it after changing the model,
    after enabling the threads adapter on an existing archive, or after messages arrived out of
    order; stop the processors first (a batch linking the same room meanwhile would wait for, or
    collide with, the rebuild's transaction)."""
    engine = wiring.staging_store(load_settings()).engine
    if room is not None:
        with engine.connect() as connection:
            if room not in rooms_with_messages(connection):
                fail(f"no messages in room {room!r}")
    report = rebuild_threads(engine, room_id=room)
    audit_cli(
        engine,
        "threads_rebuild",
        {
            "room": room,
            "rooms": report.rooms,
            "messages": report.messages,
            "explicit": report.explicit,
            "modelled": report.modelled,
        },
    )
    out.print(
        f"threads rebuilt: {report.messages} messages in {report.rooms} rooms "
        f"({report.explicit} from the platform's replies, {report.modelled} by the model)",
        highlight=False,
    )
