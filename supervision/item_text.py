"""The text an item's policy evaluated, and its matched spans marked.

A match's offsets (:class:`~supervision.model.TermMatch`) are character positions in the text
the adapter evaluated: for ``field`` ``text`` the message version of the item's event (a post
or an edit), for ``attachment`` the extracted text of the file of the item's ``file_text``
event (kept in the file store). :func:`pieces` cuts that text at the matches' offsets into
plain and matched pieces, which the pages escape and wrap in ``<mark>`` (never HTML built from
the text here); overlapping matches are joined, offsets outside the text are left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, select

from archive.file_store import FileMissing, FileStore, FileStoreError
from archive.schema import archive_file_texts, archive_files, archive_message_versions, archive_messages

MAX_SHOWN = 200_000
"""Characters of an attachment's text shown (its matches are shown wherever they are: past
these, each with :data:`CONTEXT` characters either side, the rest elided)."""
CONTEXT = 300
"""Characters shown either side of an attachment's match past :data:`MAX_SHOWN`."""
ELIDED = "\n[…]\n"
"""The plain piece standing for text left out."""


@dataclass(frozen=True)
class Piece:
    text: str
    terms: tuple[str, ...] = ()
    """The term ids matching this piece; empty for plain text."""


@dataclass(frozen=True)
class EvaluatedText:
    field: Literal["text", "attachment"]
    text: str | None
    """None when the archive no longer holds it (disposed of, or the file store lacks it). An
    attachment's is what is shown of it: the text of ``pieces``."""
    pieces: list[Piece] = dataclasses.field(default_factory=list)
    name: str | None = None
    """The attachment's file name."""
    file_event_id: str | None = None
    problem: str | None = None
    """Why the text is not shown."""


def pieces(text: str, matches: Sequence[dict[str, Any]], wanted: str = "text") -> list[Piece]:
    """``text`` cut at the ``wanted`` field's matches: plain and matched pieces, in order."""
    spans = sorted(
        (int(m["start"]), min(int(m["end"]), len(text)), str(m.get("term_id", "")))
        for m in matches
        if m.get("field", "text") == wanted and 0 <= int(m["start"]) < int(m["end"]) and int(m["start"]) < len(text)
    )
    joined: list[tuple[int, int, list[str]]] = []
    for start, end, term in spans:
        if joined and start < joined[-1][1]:
            last = joined[-1]
            joined[-1] = (last[0], max(last[1], end), [*last[2], term] if term not in last[2] else last[2])
        else:
            joined.append((start, end, [term]))
    cut: list[Piece] = []
    position = 0
    for start, end, terms in joined:
        if start > position:
            cut.append(Piece(text[position:start]))
        cut.append(Piece(text[start:end], tuple(terms)))
        position = end
    if position < len(text) or not cut:
        cut.append(Piece(text[position:]))
    return cut


def _field(matches: Sequence[dict[str, Any]]) -> Literal["text", "attachment"]:
    """The attachment when every match with a position is in it (a match without one, such as
    a word found in the file's name, has no say)."""
    placed = [m for m in matches if int(m.get("end", 0)) > int(m.get("start", 0))]
    return "attachment" if placed and all(m.get("field") == "attachment" for m in placed) else "text"


def _last_end(matches: Sequence[dict[str, Any]]) -> int:
    return max((int(m["end"]) for m in matches if m.get("field") == "attachment"), default=0)


def _elided(cut: list[Piece]) -> list[Piece]:
    """``cut`` with the plain text past :data:`MAX_SHOWN` characters shortened to
    :data:`CONTEXT` characters either side of each match (the matches all kept)."""
    shown: list[Piece] = []
    position = 0
    for index, piece in enumerate(cut):
        start, position = position, position + len(piece.text)
        if piece.terms or position <= MAX_SHOWN:
            shown.append(piece)
            continue
        head = piece.text[: max(MAX_SHOWN - start, 0)]
        if index > 0 and cut[index - 1].terms:
            head = piece.text[: max(len(head), CONTEXT)]
        tail = piece.text[-CONTEXT:] if index + 1 < len(cut) else ""
        if len(head) + len(tail) >= len(piece.text):
            shown.append(piece)
        else:
            shown.append(Piece(head + ELIDED + tail))
    return shown


def evaluated_text(
    engine: Engine, store: FileStore, event_id: str, message_id: str, matches: Sequence[dict[str, Any]]
) -> EvaluatedText:
    """The text the item's event gave the policy, cut into pieces at its matches. A sampled item
    (no matches) shows the message's text."""
    wanted = _field(matches)
    with engine.connect() as connection:
        if wanted == "attachment":
            row = connection.execute(
                select(archive_file_texts.c.file_event_id, archive_file_texts.c.text_sha256, archive_files.c.name)
                .join(archive_files, archive_files.c.event_id == archive_file_texts.c.file_event_id, isouter=True)
                .where(archive_file_texts.c.event_id == event_id)
            ).first()
            if row is None or row.text_sha256 is None:
                return EvaluatedText(wanted, None, problem="the archive holds no text extracted for this attachment")
            try:
                wanted_characters = max(MAX_SHOWN, _last_end(matches) + CONTEXT)
                with store.open(row.text_sha256) as stream:  # at most 4 bytes a character
                    whole = stream.read(4 * wanted_characters).decode("utf-8", errors="replace")[:wanted_characters]
            except (FileMissing, FileStoreError) as error:
                return EvaluatedText(
                    wanted, None, name=row.name, file_event_id=row.file_event_id, problem=f"the file store: {error}"
                )
            cut = _elided(pieces(whole, matches, wanted))
            text = "".join(piece.text for piece in cut)
            return EvaluatedText(wanted, text, cut, name=row.name, file_event_id=row.file_event_id)
        version = connection.execute(
            select(archive_message_versions.c.text).where(archive_message_versions.c.event_id == event_id)
        ).scalar()
        if version is None:
            version = connection.execute(
                select(archive_messages.c.text).where(archive_messages.c.message_id == message_id)
            ).scalar()
    if version is None:
        return EvaluatedText(wanted, None, problem="the archive no longer holds this message")
    return EvaluatedText(wanted, version, pieces(version, matches, wanted))
