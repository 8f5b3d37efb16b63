"""An attachment longer than shown: its beginning, then each match with its context."""

from __future__ import annotations

from pathlib import Path

from adapters.archive import ArchiveAdapter
from archive.fs_file_store import FsFileStore
from ingest.staging import StagingStore
from supervision.item_text import CONTEXT, ELIDED, MAX_SHOWN, evaluated_text
from tests.attachment_events import file_text, upload


def test_the_text_between_the_shown_part_and_a_far_match_is_elided(store: StagingStore, tmp_path: Path) -> None:
    files = FsFileStore(tmp_path / "files")
    said = "".join(f"line {n} of the terms.\n" for n in range(MAX_SHOWN // 10)) + "we guarantee returns. The end."
    start = said.index("guarantee")
    shared = upload("terms.pdf", room="desk")
    extracted = file_text(shared, said, files)
    ArchiveAdapter(store.engine).write([shared, extracted])
    match = {"term_id": "g1", "field": "attachment", "start": start, "end": start + 9, "matched": "guarantee"}
    shown = evaluated_text(store.engine, files, str(extracted.event_id), f"file:{shared.event_id}", [match])
    assert shown.text is not None
    assert shown.text == said[:MAX_SHOWN] + ELIDED + said[start - CONTEXT :]
    assert [(piece.text, piece.terms) for piece in shown.pieces if piece.terms] == [("guarantee", ("g1",))]
    assert "".join(piece.text for piece in shown.pieces) == shown.text
