"""The thread links of an export's messages, read from the archive one room at a time.

Every format walks the selection room by room; :class:`SelectionThreads` answers the room's
links (:func:`archive.threads.links_of` over the room's hit messages) in one query and keeps the
last room's, so a format asks once per room and looks each message up in a dict after that.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine

from archive.threads import links_of
from exports.documents import MessageThread
from exports.selection import Selection
from ingest.db import read_only


class SelectionThreads:
    def __init__(self, engine: Engine, selection: Selection) -> None:
        self.engine = engine
        self.selection = selection
        self._room: str | None = None
        self._links: Mapping[str, MessageThread] = {}

    def __call__(self, room_id: str) -> Mapping[str, MessageThread]:
        if room_id != self._room:
            ids = self.selection.room_hits(room_id).message_ids if room_id in self.selection.rooms else frozenset()
            with read_only(self.engine) as connection:
                found = links_of(connection, ids)
            self._links = {
                mid: MessageThread(link.thread_id, link.parent_id, link.source) for mid, link in found.items()
            }
            self._room = room_id
        return self._links
