"""Attachment text is searched like message text, on both backends (issue 18): exact hit sets
over real IRC messages and uploaded files whose extracted text is made of other IRC messages
(and of multilingual text), the ``file_text`` events delivered before or after their uploads.

The oracle evaluates the query over each document's fields: words (and ``current:``) over a
message's text, a file's name and its attachment text; ``attachment:`` over attachment text
only; ``file:`` over file names only. Tantivy answers for real; Elasticsearch through its
translation (:func:`search.es_query.search_body`), evaluated by the simulator
(tests/search_api/es_simulator.py) over the documents ``adapters.es_actions`` writes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from adapters.es_actions import bulk_actions
from adapters.index_adapter import TantivyIndexAdapter
from archive.fs_file_store import FsFileStore
from bench.multilingual_corpus import generate, query_words
from ingest.events import Event, FileUploadEvent, PostEvent
from ingest.irc import read_irc_file
from search import tantivy_schema as fields
from search.es_query import search_body
from search.query_ast import And, Current, Filter, Near, Node, Not, Or, Phrase, Prefix, Term, Within
from search.query_parser import parse_query
from search.tantivy_backend import all_hits
from tests.attachment_events import file_text, upload
from tests.search_api import es_simulator, script_oracle
from tests.search_api.reference import Message, matches, message_of
from tests.search_api.test_tantivy_conformance import DEMO_LOGS

LOG = "2005-02-08.train-a.raw.txt"
NAMES = [
    ("install guide.pdf", "application/pdf"),
    ("Ubuntu Release Notes.docx", "application/octet-stream"),
    ("screenshot-12.PNG", "image/png"),
    ("grub_config", "text/plain"),
    ("東京取引.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("notes", "application/pdf"),
]
MULTILINGUAL = generate(48)
TOPICS = ["apt-get install", "grub", "lilo", "sudo", "install", "ubuntu"]


@dataclass(frozen=True)
class Doc:
    """What the oracle knows of one document: a message, or an uploaded file."""

    message_id: str
    person: Message
    """Sender, room and time (the filters), with no words."""
    text: str
    attachment: str = ""
    file_name: str | None = None
    file_type: str = ""
    events: tuple[Event, ...] = ()
    """A file's upload and ``file_text`` events (what Elasticsearch's documents are written from)."""

    def words(self, field: str) -> tuple[str, ...]:
        value = {"text": self.text, "attachment": self.attachment, "file_name": self.file_name or ""}[field]
        return tuple(fields.text_terms(value))


def corpus(store: FsFileStore) -> tuple[list[Event], list[Doc]]:
    events = list(read_irc_file(DEMO_LOGS / LOG))
    posts = [e for e in events if isinstance(e, PostEvent)]
    chance = random.Random(18)
    docs = [Doc(p.message.id, message_of(p), p.message.text) for p in posts]
    uploads: list[Event] = []
    texts: list[Event] = []
    for number in range(48):
        name, content_type = NAMES[number % len(NAMES)]
        moment = chance.choice(posts)
        uploaded = upload(
            name,
            seconds=(moment.occurred_at - posts[0].occurred_at).total_seconds(),
            content=f"file {number}".encode(),
            content_type=content_type,
            room=moment.room.id.removeprefix("room:"),
            actor=moment.actor.id.removeprefix("user:"),
        )
        uploaded = uploaded.model_copy(update={"occurred_at": moment.occurred_at})
        assert isinstance(uploaded, FileUploadEvent)
        uploads.append(uploaded)
        if number % 8 == 7:
            text = ""  # no text yet: found by name only
        elif number % 4 == 3:
            text = "\n".join(m.text for m in MULTILINGUAL[number % 12 :: 12])
        else:
            # Lines on the queries' topics, among others: every query finds something.
            topical = chance.choice(TOPICS)
            lines = [chance.choice([p for p in posts if topical in p.message.text.lower()])]
            lines += [chance.choice(posts) for _ in range(chance.randint(1, 5))]
            text = "\n".join(post.message.text for post in lines)
        described: tuple[Event, ...] = (uploaded,)
        if text:
            texts.append(file_text(uploaded, text, store))
            described = (uploaded, texts[-1])
        person = replace(message_of_file(uploaded), tokens=())
        docs.append(
            Doc(
                f"file:{uploaded.event_id}",
                person,
                name,
                attachment=text,
                file_name=name,
                file_type=fields.file_type(name, content_type),
                events=described,
            )
        )
    mixed = uploads + texts
    chance.shuffle(mixed)  # texts arrive before and after their uploads, in other batches
    return events + mixed, docs


def message_of_file(uploaded: FileUploadEvent) -> Message:
    return Message(
        message_id=f"file:{uploaded.event_id}",
        tokens=(),
        mentions=frozenset(),
        hashtags=frozenset(),
        sender_id=uploaded.actor.id,
        sender_name=uploaded.actor.name or "",
        room_id=uploaded.room.id,
        room_name=uploaded.room.name or "",
        sent=uploaded.occurred_at,
    )


EVERYWHERE = ("text", "attachment")
SCOPES = {"attachment": ("attachment",), "file": ("file_name",)}


def holds(node: Node, doc: Doc, scope: tuple[str, ...] = EVERYWHERE) -> bool:
    """The oracle."""
    match node:
        case Term() | Phrase() | Prefix() | Near():
            return any(matches(node, replace(doc.person, tokens=doc.words(field))) for field in scope)
        case Current(item):
            return holds(item, doc, ("text",))
        case Within(field, item):
            return holds(item, doc, SCOPES[field])
        case Filter("has", _):
            return doc.file_name is not None
        case Filter("filetype", value):
            return doc.file_type == value
        case Not(item):
            return not holds(item, doc, scope)
        case And(items):
            return all(holds(item, doc, scope) for item in items)
        case Or(items):
            return any(holds(item, doc, scope) for item in items)
    return matches(node, doc.person)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Doc]]:
    folder = tmp_path_factory.mktemp("attachments")
    store = FsFileStore(folder / "files")
    events, docs = corpus(store)
    adapter = TantivyIndexAdapter(folder / "index", file_store=store)
    try:
        for start in range(0, len(events), 250):
            batch = events[start : start + 250]
            assert list(adapter.write(batch)) == [None] * len(batch)
    finally:
        adapter.close()
    return folder / "index", docs


QUERIES = [
    "install",
    "ubuntu install",
    "install*",
    '"apt-get install"',
    "sudo NEAR/3 install",
    "attachment:install",
    'attachment:"apt-get install"',
    "attachment:(grub OR lilo)",
    "attachment:install*",
    "attachment:(sudo NEAR/3 install)",
    "attachment:ubuntu -current:ubuntu",
    "install -attachment:install",
    "current:install",
    "file:guide",
    "file:ubu*",
    'file:"release notes"',
    "file:grub OR attachment:grub",
    "filetype:pdf",
    "filetype:PNG",
    "filetype:.docx",
    "filetype:txt",
    "has:file",
    "has:file -attachment:the",
    "NOT has:file the",
    "from:Agrajag OR attachment:the",
    "from:Agrajag",
    "in:#ubuntu -from:Agrajag",
    "in:#ubuntu attachment:the",
    "東京",
    "attachment:資料",
    "資料 OR 東京",
    "file:東京",
    "attachment:(会議 OR 회의)",
]


def names_type(node: Node) -> bool:
    match node:
        case Filter("has" | "type", _):
            return True
        case Not(item) | Current(item) | Within(_, item):
            return names_type(item)
        case And(items) | Or(items):
            return any(names_type(item) for item in items)
    return False


def has_words(node: Node) -> bool:
    match node:
        case Term() | Phrase() | Prefix() | Near() | Within() | Filter("filetype", _):
            return True
        case Not(item) | Current(item):
            return has_words(item)
        case And(items) | Or(items):
            return any(has_words(item) for item in items)
    return False


def expected(docs: list[Doc], query: str) -> set[str]:
    """The oracle's hits: files only for a query with words or naming a type (the product rule)."""
    node = parse_query(query)
    files_too = names_type(node) or has_words(node)
    return {doc.message_id for doc in docs if (files_too or doc.file_name is None) and holds(node, doc)}


@pytest.mark.parametrize("query", QUERIES)
def test_tantivy_gives_exactly_the_oracles_hits(built: tuple[Path, list[Doc]], query: str) -> None:
    index_dir, docs = built
    assert {hit.message_id for hit in all_hits(index_dir, parse_query(query))} == expected(docs, query)


def test_the_corpus_exercises_every_field(built: tuple[Path, list[Doc]]) -> None:
    _, docs = built
    sizes = {query: len(expected(docs, query)) for query in QUERIES}
    assert ", ".join(query for query in QUERIES if sizes[query] == 0) == "", sizes
    assert sizes["install"] > sizes["attachment:install"] > 0
    assert sizes["install"] > sizes["current:install"]
    assert sizes["install -attachment:install"] < sizes["install"]


def es_documents(docs: list[Doc]) -> list[es_simulator.Document]:
    """The documents of the messages index (the fields queries read): a file's from the bulk
    actions ``adapters.es_actions`` writes for its upload and its ``file_text`` (the upload's
    fields, then the text the file_text script sets)."""
    out = []
    for doc in docs:
        person = doc.person
        keywords = {
            "sender_keys": fields.person_keys(person.sender_id, person.sender_name),
            "room_keys": fields.room_keys(person.room_id, person.room_name),
        }
        if doc.file_name is None:
            out.append(es_simulator.document(doc.message_id, doc.text, keywords))
            continue
        texts = {1: fields.searchable(doc.attachment)} if len(doc.events) > 1 else {}
        updates = [a.body for a in bulk_actions(doc.events, "t", texts) if "update" in a.header]
        upload_fields = updates[0]["script"]["params"]["upload"]
        attachment = updates[1]["script"]["params"]["attachment"] if len(updates) > 1 else ""
        assert upload_fields["text"] == upload_fields["file_name"]
        keywords["file_type"] = (upload_fields["file_type"],)
        out.append(es_simulator.file_document(doc.message_id, upload_fields["file_name"], attachment, keywords))
    return out


@pytest.mark.parametrize("query", QUERIES)
def test_the_elasticsearch_translation_gives_exactly_the_oracles_hits(
    built: tuple[Path, list[Doc]], query: str
) -> None:
    _, docs = built
    translated = search_body(parse_query(query))["query"]
    found = {d.message_id for d in es_documents(docs) if es_simulator.matches(translated, d)}
    assert found == expected(docs, query)


MULTILINGUAL_QUERIES = [word for word in query_words() if " " not in word][:20]


@pytest.mark.parametrize("word", MULTILINGUAL_QUERIES)
def test_attachment_text_in_every_script_is_found_as_message_text_is(built: tuple[Path, list[Doc]], word: str) -> None:
    """The brute-force script oracle (no analyzer) over the attachment texts."""
    index_dir, docs = built
    files = [doc for doc in docs if doc.file_name is not None and doc.attachment]
    wanted = {doc.message_id for doc in files if script_oracle.finds(word, doc.attachment)}
    query = f'attachment:"{word}"'
    assert {hit.message_id for hit in all_hits(index_dir, parse_query(query))} == wanted
    translated = search_body(parse_query(query))["query"]
    assert {d.message_id for d in es_documents(files) if es_simulator.matches(translated, d)} == wanted
