"""Reading the text extracted from an uploaded file (a ``file_text`` event) from the file store,
for the adapters that index it (Tantivy's ``index``, ``elasticsearch``).

The event holds only the text's SHA-256; the text itself is UTF-8 in the file store. At most
:data:`search.tantivy_schema.MAX_ATTACHMENT_CHARS` characters are read: what the indexes hold.
A text the store does not hold (yet) is a :class:`~adapters.base.Failure` with the reason, so
the processor retries the event later; it never raises.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence

from adapters.base import Failure
from archive.file_store import FileMissing, FileStore
from ingest.events import Event, ExtractedText, FileTextEvent
from search.tantivy_schema import MAX_ATTACHMENT_CHARS, searchable

_MAX_BYTES = 4 * MAX_ATTACHMENT_CHARS
"""UTF-8 takes at most four bytes a character."""


def read_text(store: FileStore | None, extracted: ExtractedText) -> str | Failure:
    """The first characters of the text of ``extracted`` ("" when extraction found none)."""
    sha256 = extracted.text_sha256
    if sha256 is None:
        return ""
    where = f"the text of file {extracted.file_event_id} (sha256 {sha256})"
    if store is None:
        return Failure(f"{where} is in the file store, but no file store is configured for this adapter")
    try:
        with store.open(sha256) as stream:
            data = stream.read(_MAX_BYTES)
    except FileMissing:
        return Failure(f"{where} is not in the file store (yet); will retry")
    except Exception as error:  # any store error (I/O, S3): retried later, never a crash
        return Failure(f"{where} cannot be read from the file store: {error.__class__.__name__}: {error}")
    # An incremental decoder drops a character cut in two at the byte limit.
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=len(data) < _MAX_BYTES)
    return text[:MAX_ATTACHMENT_CHARS]


def attachment_texts(store: FileStore | None, batch: Sequence[Event]) -> dict[int, str | Failure]:
    """For each ``file_text`` event of ``batch`` (by position): its text in searchable form
    (:func:`search.tantivy_schema.searchable`, at most the indexed prefix), or why it cannot be read."""
    found: dict[int, str | Failure] = {}
    for position, event in enumerate(batch):
        if isinstance(event, FileTextEvent):
            text = read_text(store, event.extracted)
            found[position] = text if isinstance(text, Failure) else searchable(text)[:MAX_ATTACHMENT_CHARS]
    return found
