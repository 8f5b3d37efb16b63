"""The Concordance DAT load file of a production, ``messages.dat``: one row per document.

**Encoding** (Concordance's default delimiters, which Relativity's import takes as they are):
UTF-8 with a byte-order mark, a header row, every field between text qualifiers ``þ``
(U+00FE), fields separated by U+0014, CRLF line ends, and a line break inside a field written
as ``®`` (U+00AE; ``\\r\\n``, ``\\r`` and ``\\n`` each become one ``®``, so a reader gets ``\\n``
back). Concordance has no escape character, so the three characters that carry structure cannot
appear literally in a field: a literal ``þ`` is written ``th`` (its usual transliteration),
U+0014 is written U+FFFD, and a literal ``®`` is written ``(R)``; and a CR or CRLF line break
reads back as LF. The format's report names every column so altered (its losses).

**Rows.** Relativity's load file specification: "a flat, document-level load file ... each line
should represent one document". The documents are the production's (:mod:`exports.documents`):
every parent (a conversation slice or a message, by the production's unit), then its
attachments, in control-number order. Joins, leaves and read receipts are context inside a
document, never rows. :data:`DAT_FIELDS` says what each column holds, its format and whose
convention it follows; ``messages_fields.csv`` beside the DAT lists the same (:func:`field_list`).

**Texts.** A parent's ``TEXTPATH`` names ``documents_text/<BEGDOC>.txt``: the document's text
(:func:`exports.transcript.document_text`, UTF-8 without a byte-order mark), the same bytes EDRM
and the PDF use; ``MD5HASH`` and ``SHA256HASH`` are of those bytes. The text files are listed with
their SHA-256 in ``documents_text.sha256`` (``<hex>  <path>`` lines, which ``sha256sum -c``
checks), and that file in the manifest, as ``messages_text.sha256`` lists the CSV's texts. An
attachment's ``TEXTPATH`` names its extracted text (``TEXT/<sha256>.txt``) and ``NATIVEPATH`` its
native (``NATIVES/...``, :mod:`exports.natives`); its hashes are of the native.

Sources of the conventions (each field's ``convention`` names one):

- Relativity, "Load file specifications" (help.relativity.com, Import/Export): document-level
  rows, a header row, the UTF-8 byte-order mark, extracted text and natives given as file paths.
- Concordance DAT defaults: qualifier þ (254), separator U+0014 (20), newline ® (174).
- U.S. DOJ Antitrust Division, "Metadata fields & family record specifications": BEGDOC#,
  ENDDOC#, PARENTID (the parent's start Bates, only in child records), the family range, FROM,
  TO, CUSTDIAN (custodians, multi-entry).
- FTC Bureau of Competition, "Production Guide" (preparing native files): BEGBATES/ENDBATES,
  CUSTODIAN, FILENAME and FILESIZE as load file fields (Concordance field names).
- Relativity's RSMF 2.0 fields (X-RSMF-Custodian, X-RSMF-Participants, X-RSMF-BeginDate,
  X-RSMF-EndDate, X-RSMF-AttachmentCount, X-RSMF-EventCount): the short-message ones.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from archive.people import label
from exports.documents import Document
from exports.natives import Placed
from exports.presence import person
from formats.time_zones import iso_local
from ingest.events import (
    Actor,
    DeleteEvent,
    EditEvent,
    Event,
    FileUploadEvent,
    PostEvent,
)

DAT_FILE = "messages.dat"
FIELDS_FILE = "messages_fields.csv"
"""The field list beside the DAT: every column, its meaning, format and convention."""
DOCUMENT_TEXT_DIR = "documents_text"
"""Where each parent document's text is (``TEXTPATH``), next to the load file."""
DOCUMENT_SUMS_FILE = "documents_text.sha256"
"""The SHA-256 of every document text, one ``<hex>  <path>`` line each (``sha256sum -c``)."""

BOM = "\ufeff"
QUALIFIER = "\u00fe"
SEPARATOR = "\u0014"
NEWLINE_MARK = "\u00ae"
LINE_END = "\r\n"
_FIELD_JOIN = QUALIFIER + SEPARATOR + QUALIFIER
_STRUCTURAL = (QUALIFIER, SEPARATOR, NEWLINE_MARK)
_LITERAL_SUBSTITUTES = str.maketrans({QUALIFIER: "th", SEPARATOR: "\ufffd", NEWLINE_MARK: "(R)"})
_NEWLINES_TO_MARK = str.maketrans({"\n": NEWLINE_MARK, "\r": NEWLINE_MARK})
_NOTHING: tuple[int, ...] = ()


def dat_field(value: str) -> tuple[str, bool]:
    """``value`` as a DAT field (without qualifiers), and whether a literal þ, U+0014 or ® in it
    had to be substituted."""
    substituted = any(ch in value for ch in _STRUCTURAL)
    if substituted:
        value = value.translate(_LITERAL_SUBSTITUTES)
    if "\r" in value or "\n" in value:
        value = value.replace("\r\n", "\n").translate(_NEWLINES_TO_MARK)
    return value, substituted


def dat_record(fields: Sequence[str]) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """One DAT line (CRLF included); the indexes of the fields in which a literal þ, U+0014 or ®
    had to be substituted; and of those whose CR or CRLF line break reads back as LF."""
    joined = _FIELD_JOIN.join(fields)
    separators = len(fields) - 1
    plain = (
        joined.count(SEPARATOR) == separators
        and joined.count(QUALIFIER) == 2 * separators
        and NEWLINE_MARK not in joined
        and "\n" not in joined
        and "\r" not in joined
    )
    if plain:
        return QUALIFIER + joined + QUALIFIER + LINE_END, _NOTHING, _NOTHING
    cleaned = [dat_field(value) for value in fields]
    line = QUALIFIER + _FIELD_JOIN.join(value for value, _ in cleaned) + QUALIFIER + LINE_END
    substituted = tuple(index for index, (_, literal) in enumerate(cleaned) if literal)
    carriage_returns = tuple(index for index, value in enumerate(fields) if "\r" in value)
    return line, substituted, carriage_returns


def dat_line(fields: Sequence[str]) -> tuple[str, bool]:
    """One DAT line (CRLF included), and whether any field needed a literal substitution."""
    line, substituted, _ = dat_record(fields)
    return line, bool(substituted)


def read_dat(text: str) -> list[list[str]]:
    """Rows of a DAT load file as this module writes it (BOM optional; ``®`` read as ``\\n``)."""
    rows = []
    for line in text.removeprefix(BOM).split(LINE_END):
        if not line:
            continue
        if not (line.startswith(QUALIFIER) and line.endswith(QUALIFIER)):
            raise ValueError(f"a DAT line must begin and end with the qualifier: {line[:80]!r}")
        rows.append([value.replace(NEWLINE_MARK, "\n") for value in line[1:-1].split(_FIELD_JOIN)])
    return rows


# --- the columns ----------------------------------------------------------------------------

RELATIVITY = "Relativity load file specifications (document-level load file)"
CONCORDANCE = "Concordance DAT field"
DOJ = "DOJ Antitrust Division metadata specification"
FTC = "FTC Bureau of Competition production guide"
RSMF = "Relativity short message (RSMF 2.0) field"
ARCHIVIST = "Archivist (no common convention)"
_PEOPLE = (
    "'; '-separated, each person 'Name (id)' (the id alone when no name was recorded); a ';' inside a name or id "
    "is written U+FF1B (fullwidth semicolon), a loss the report names"
)
_DATE = "ISO 8601 with microseconds and the UTC offset of the production's zone (Z in UTC)"


@dataclass(frozen=True)
class Field:
    """One column of the DAT: its name, what it holds, its format and whose convention it follows."""

    name: str
    meaning: str
    format: str
    convention: str


DAT_FIELDS: tuple[Field, ...] = (
    Field("BEGDOC", "The document's control (Bates) number", "prefix + zero-padded number", f"{DOJ} (BEGDOC#)"),
    Field(
        "ENDDOC",
        "The document's last control number: the same as BEGDOC (document-level numbering; pages of an image "
        "carry BEGDOC and a page suffix, see the OPT)",
        "control number",
        f"{DOJ} (ENDDOC#); {FTC} (ENDBATES)",
    ),
    Field(
        "BEGATTACH",
        "The family's first control number: the parent's BEGDOC",
        "control number",
        f"{CONCORDANCE}; {DOJ} (family range)",
    ),
    Field(
        "ENDATTACH",
        "The family's last control number: the last attachment's BEGDOC (the parent's own when it has none)",
        "control number",
        f"{CONCORDANCE}; {DOJ} (family range)",
    ),
    Field(
        "PARENT_DOCID",
        "An attachment's parent: the BEGDOC of the document holding its upload; empty for parents",
        "control number or empty",
        f"{DOJ} (PARENTID, only in child records)",
    ),
    Field(
        "ATTACHMENT_COUNT",
        "A parent's number of attachments (its children); 0 for an attachment",
        "integer",
        f"{RSMF} (X-RSMF-AttachmentCount)",
    ),
    Field(
        "DOC_TYPE",
        "conversation (a room on one day of the production's zone), message (a message with its versions, "
        "deletion, reads and context) or attachment (an uploaded file)",
        "conversation | message | attachment",
        f"{DOJ} (record type)",
    ),
    Field(
        "CUSTODIAN",
        "The first of the document's custodians: the case's custodians who took part in it or were present in the "
        "room at its start (in the case's order), else the senders",
        "'Name (id)'",
        f"{FTC} (CUSTODIAN); {RSMF} (X-RSMF-Custodian)",
    ),
    Field("ALL_CUSTODIANS", "Every custodian of the document", _PEOPLE, f"{DOJ} (CUSTDIAN, multi-entry)"),
    Field("FROM", "Who wrote: the senders of the posts, edits and uploads", _PEOPLE, f"{DOJ} (FROM)"),
    Field(
        "TO",
        "The participants who are not senders (for a message: who read, edited or deleted it, its named "
        "recipients and the actors of its context; not the room's whole audience)",
        _PEOPLE,
        f"{DOJ} (TO)",
    ),
    Field(
        "PARTICIPANTS",
        "A conversation: everyone present at its start, who acted in it, or was named a recipient. A message: who "
        "took part (wrote, edited, deleted or read it, or was named a recipient) and its context's actors, not the "
        "room's whole audience (a custodian present without taking part is in CUSTODIAN, not here)",
        _PEOPLE,
        f"{RSMF} (X-RSMF-Participants)",
    ),
    Field(
        "DATE_SENT",
        "When the document's first message, edit, deletion or upload was sent (an attachment: its upload)",
        _DATE,
        f"{DOJ} (DOCDATE/TIMESENT, as one value with its offset)",
    ),
    Field("DATE_BEGIN", "The time of the document's first event", _DATE, f"{RSMF} (X-RSMF-BeginDate)"),
    Field("DATE_END", "The time of the document's last event", _DATE, f"{RSMF} (X-RSMF-EndDate)"),
    Field("TIME_ZONE", "The production's time zone, which every date is in", "IANA zone name", ARCHIVIST),
    Field("CONVERSATION", "The room", "'Room name (room id)' (the id alone when unnamed)", ARCHIVIST),
    Field("ROOM_ID", "The room's id", "text", ARCHIVIST),
    Field("MESSAGE_ID", "A message document's message id; empty for the others", "text or empty", ARCHIVIST),
    Field(
        "VERSION_COUNT",
        "How many versions of messages the document holds (posts and edits; a message: 1 + its edits here)",
        "integer",
        ARCHIVIST,
    ),
    Field("EDITED", "Whether the document holds an edit", "Y | N", ARCHIVIST),
    Field(
        "DELETED",
        "Y when the document holds a deletion, or a version of a message deleted anywhere in this production "
        "(a deleted message's post is never shown N); else N",
        "Y | N",
        ARCHIVIST,
    ),
    Field("FILE_NAME", "An attachment's file name, as uploaded", "text", f"{FTC} (FILENAME)"),
    Field("FILE_SIZE", "An attachment's size, as the upload declared it", "integer, bytes", f"{FTC} (FILESIZE)"),
    Field("FILE_SHA256", "The SHA-256 the upload sealed", "64 hex digits", ARCHIVIST),
    Field("FILE_CONTENT_TYPE", "An attachment's media type, as uploaded", "media type", ARCHIVIST),
    Field(
        "TEXTPATH",
        "The document's text: a parent's is documents_text/<BEGDOC>.txt (its transcript, exact UTF-8); an "
        "attachment's its extracted text TEXT/<sha256>.txt (empty when none was extracted)",
        "path relative to the load file",
        f"{RELATIVITY} (extracted text as a file location)",
    ),
    Field(
        "NATIVEPATH",
        "An attachment's native, NATIVES/<sha256><.ext>, when the export holds it; else empty",
        "path relative to the load file",
        f"{RELATIVITY} (native file path)",
    ),
    Field(
        "NATIVE_STATE",
        "Whether the native is in the export: included, or why not",
        "included | pending | missing | altered | not_exported",
        ARCHIVIST,
    ),
    Field(
        "EXTRACTION_STATE",
        "The state of an attachment's extracted text",
        "extracted | empty | unsupported | failed | pending | missing | altered | not_exported",
        ARCHIVIST,
    ),
    Field(
        "MD5HASH",
        "MD5 of the native for an attachment (empty when its bytes are not in the export); of the TEXTPATH "
        "file's bytes for a parent",
        "32 hex digits",
        "the usual production field name (no published specification consulted names it)",
    ),
    Field(
        "SHA256HASH",
        "SHA-256 of the native for an attachment (the sealed hash); of the TEXTPATH file's bytes for a parent",
        "64 hex digits",
        ARCHIVIST,
    ),
    Field(
        "EVENT_IDS",
        "The archive's event ids the document holds, in time order (events.jsonl and messages.csv have them)",
        "'; '-separated UUIDs",
        ARCHIVIST,
    ),
    Field("EVENT_COUNT", "How many events the document holds", "integer", f"{RSMF} (X-RSMF-EventCount)"),
)
DAT_COLUMNS: tuple[str, ...] = tuple(f.name for f in DAT_FIELDS)
DELETED_COLUMN = DAT_COLUMNS.index("DELETED")


def field_list() -> bytes:
    """``messages_fields.csv``: one row per DAT column (``FIELD``, ``MEANING``, ``FORMAT``,
    ``CONVENTION``), RFC 4180 with CRLF, UTF-8 with a byte-order mark."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=LINE_END)
    writer.writerow(("FIELD", "MEANING", "FORMAT", "CONVENTION"))
    writer.writerows((f.name, f.meaning, f.format, f.convention) for f in DAT_FIELDS)
    return (BOM + out.getvalue()).encode()


LIST_SEPARATOR = "; "
"""What separates the people of a multi-entry field (``ALL_CUSTODIANS``, ``FROM``, ``TO``,
``PARTICIPANTS``) and the ids of ``EVENT_IDS``."""
SEMICOLON_SUBSTITUTE = "\uff1b"
"""What a ``;`` inside a person's name or id is written as in the people fields (U+FF1B FULLWIDTH
SEMICOLON), so that splitting a field on ``; `` finds each person once."""
PEOPLE_COLUMNS = ("CUSTODIAN", "ALL_CUSTODIANS", "FROM", "TO", "PARTICIPANTS")


def listed(actor: Actor) -> str:
    """``Name (id)`` as a people field lists it: a ``;`` in it written as U+FF1B."""
    name = person(actor)
    return name.replace(";", SEMICOLON_SUBSTITUTE) if ";" in name else name


def _people(actors: Iterable[Actor]) -> str:
    return LIST_SEPARATOR.join(listed(actor) for actor in actors)


def _custodians(document: Document) -> list[str]:
    return [listed(actor) for actor in document.custodian_people]


def _has_semicolon(actors: Iterable[Actor]) -> bool:
    return any(";" in person(actor) for actor in actors)


def semicolons_substituted(document: Document) -> list[str]:
    """The people columns of ``document``'s row in which a ``;`` of a name or id was written as
    U+FF1B (:func:`listed`): each a loss of the format."""
    custodians, senders = document.custodian_people, document.senders
    if not (_has_semicolon(custodians) or _has_semicolon(senders) or _has_semicolon(document.participants)):
        return []
    sender_ids = {actor.id for actor in senders}
    return [
        column
        for column, actors in (
            ("CUSTODIAN", custodians[:1]),
            ("ALL_CUSTODIANS", custodians),
            ("FROM", senders),
            ("TO", [actor for actor in document.participants if actor.id not in sender_ids]),
            ("PARTICIPANTS", document.participants),
        )
        if _has_semicolon(actors)
    ]


def _when(event: Event, zone: ZoneInfo) -> str:
    return iso_local(event.occurred_at, zone)


_CONTENT = (PostEvent, EditEvent, DeleteEvent, FileUploadEvent)


def _common(document: Document, zone: ZoneInfo) -> list[str]:
    """BEGDOC .. ROOM_ID of any document."""
    custodians = _custodians(document)
    senders = {actor.id for actor in document.senders}
    present = [(actor.id, listed(actor)) for actor in document.participants]
    events = document.events
    sent = next((e for e in events if isinstance(e, _CONTENT)), events[0])
    room = document.room
    parent = document.parent
    return [
        document.control,
        document.control,
        document.family_begin,
        document.family_end,
        parent.control if parent is not None else "",
        str(len(document.children)),
        document.kind,
        custodians[0] if custodians else "",
        LIST_SEPARATOR.join(custodians),
        _people(document.senders),
        LIST_SEPARATOR.join(name for actor_id, name in present if actor_id not in senders),
        LIST_SEPARATOR.join(name for _, name in present),
        _when(sent, zone),
        _when(events[0], zone),
        _when(events[-1], zone),
        zone.key,
        label(room.name, room.id),
        room.id,
    ]


def parent_row(document: Document, zone: ZoneInfo, textpath: str, md5: str, sha256: str, event_ids: str) -> list[str]:
    """The row of a parent document (conversation or message) whose text is at ``textpath``
    with those hashes; ``event_ids``: its events' ids, ``; ``-separated. ``DELETED`` says
    whether it holds a deletion; the format makes it ``Y`` too when a message it holds is deleted
    in a later document."""
    versions = edited = 0
    deletion = False
    for event in document.events:
        if isinstance(event, PostEvent):
            versions += 1
        elif isinstance(event, EditEvent):
            versions += 1
            edited += 1
        elif isinstance(event, DeleteEvent):
            deletion = True
    return [
        *_common(document, zone),
        document.message_id or "",
        str(versions),
        "Y" if edited else "N",
        "Y" if deletion else "N",
        "",
        "",
        "",
        "",
        textpath,
        "",
        "",
        "",
        md5,
        sha256,
        event_ids,
        str(len(document.events)),
    ]


def attachment_row(document: Document, zone: ZoneInfo, native: Placed, text: Placed) -> list[str]:
    """The row of an attachment document: its file, native and extracted text."""
    upload = document.upload
    assert upload is not None
    info = upload.file
    return [
        *_common(document, zone),
        "",
        "0",
        "N",
        "N",
        info.name,
        str(info.size),
        info.sha256,
        info.content_type,
        text.path or "",
        native.path or "",
        native.state,
        text.state,
        native.md5 or "",
        info.sha256,
        str(upload.event_id),
        "1",
    ]


__all__ = [
    "BOM",
    "DAT_COLUMNS",
    "DAT_FIELDS",
    "DAT_FILE",
    "DELETED_COLUMN",
    "DOCUMENT_SUMS_FILE",
    "DOCUMENT_TEXT_DIR",
    "FIELDS_FILE",
    "LINE_END",
    "LIST_SEPARATOR",
    "NEWLINE_MARK",
    "PEOPLE_COLUMNS",
    "QUALIFIER",
    "SEMICOLON_SUBSTITUTE",
    "SEPARATOR",
    "Field",
    "attachment_row",
    "dat_field",
    "dat_line",
    "dat_record",
    "field_list",
    "listed",
    "parent_row",
    "read_dat",
    "semicolons_substituted",
]
