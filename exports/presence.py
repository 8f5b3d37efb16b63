"""Who is present in a conversation as the export goes, and how a person is named.

The one rule of who is present is :func:`ingest.events.present_by`: in a direct conversation the
recipients of a message are present from the first message that names them, though they never
wrote. Formats that list participants take them from it; formats with a transcript (EDRM, the
PDF) also say, at that first message, that the recipient is present, as a join would
(:class:`Presence`). People are named as the name of the moment and the id, ``Ann (user:ann)``,
as the pages name them (:func:`person`): a name alone is not a person (two people were "Sam",
one person was "Alice Smith" and later "Alice (NY)").
"""

from __future__ import annotations

from archive.people import label
from ingest.events import Actor, Event, LeaveEvent, present_by


def person(actor: Actor) -> str:
    """``Ann (user:ann)``; the id alone when the event carries no other name."""
    return label(actor.name, actor.id)


class Presence:
    """The people present in the current room of an export (events in export order: a room's
    events together, in time order), to tell when a message's recipient becomes present."""

    def __init__(self) -> None:
        self.room: str | None = None
        self.present: set[str] = set()

    def newly_present(self, event: Event) -> list[Actor]:
        """The recipients ``event`` makes present who were not (not seen doing anything in the
        room since they last left); the event's actor is then present too (gone, for a leave)."""
        if event.room.id != self.room:
            self.room, self.present = event.room.id, set()
        if isinstance(event, LeaveEvent):
            self.present.discard(event.actor.id)
            return []
        self.present.add(event.actor.id)  # whoever does anything in the room is there
        fresh = [party for party in present_by(event)[1:] if party.id not in self.present]
        self.present.update(party.id for party in fresh)
        return fresh
