"""Uploaded files: a lexicon term matches exactly the files the Tantivy backend finds, by their
names and their extracted text."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.index_adapter import TantivyIndexAdapter
from archive.fs_file_store import FsFileStore
from ingest.events import FileUploadEvent
from search.query_parser import parse_query
from search.tantivy_backend import all_hits
from supervision.lexicon import LexiconSet, PolicyLexicon, message_of_file
from supervision.model import LexiconTerm
from tests.attachment_events import file_text, upload
from tests.supervision.lexicon.test_conformance import EUROPEAN, irc_posts

NAMES = ["report.pdf", "Q3 Rendite.docx", "garantie_vertrag.pdf", "notes.txt", "whatsapp-export.zip", "東京の取引.xlsx"]
CONTENT_TYPES = ["application/pdf", "application/octet-stream", "text/plain"]


def uploads() -> list[tuple[FileUploadEvent, str]]:
    texts = EUROPEAN + [post.message.text for post in irc_posts()[:40]]
    files = []
    for number, text in enumerate(texts):
        name = NAMES[number % len(NAMES)]
        event = upload(name, number, content=f"{number}:{text}".encode(), content_type=CONTENT_TYPES[number % 3])
        files.append((event, text))
    return files


FILES = uploads()
QUERIES = [
    "whatsapp OR handy",
    "attachment:(garant* OR guarant*)",
    "current:report",
    "file:rendite",
    "file:garantie*",
    "report",
    "東京",
    "has:file ubuntu",
    "has:file",
    "filetype:pdf",
    "filetype:txt OR filetype:zip",
    "type:file_upload -ubuntu",
    "from:alice",  # filters alone: posts only, so no file
    "attachment:ubuntu -file:notes",
    '"geld zurück" OR "call me"',
]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lexicon-files")
    store = FsFileStore(folder / "files")
    events = [event for uploaded, text in FILES for event in (uploaded, file_text(uploaded, text, store))]
    adapter = TantivyIndexAdapter(folder / "index", file_store=store)
    assert all(result is None for result in adapter.write(events))
    adapter.close()
    return folder / "index"


def test_every_query_matches_the_files_the_index_finds(index_dir: Path) -> None:
    lexicons = {q: PolicyLexicon(terms=(LexiconTerm(id="t", expression=q),)) for q in QUERIES}
    policies = LexiconSet.compile(lexicons)
    matched: dict[str, set[str]] = {query: set() for query in QUERIES}
    for uploaded, text in FILES:
        for query in policies.verdicts(message_of_file(uploaded, text)):
            matched[query].add(f"file:{uploaded.event_id}")
    differences = {}
    for query in QUERIES:
        indexed = {hit.message_id for hit in all_hits(index_dir, parse_query(query))}
        if indexed != matched[query]:
            differences[query] = (len(indexed), len(matched[query]), sorted(indexed ^ matched[query])[:2])
    assert differences == {}
    assert sum(1 for hits in matched.values() if hits) >= len(QUERIES) - 1
