"""Every export format and every file-writing adapter, fed events at the edges of what the archive
holds: the first and last representable instants (0001-01-01T00:00:00Z and
9999-12-31T23:59:59.999999Z), every C0 control character, U+FFFE/U+FFFF, the control pictures the
XML escape uses, right-to-left and CJK text, and long strings, in every string field. Each format
must complete and its output must still validate: the XML against its XSD (lxml), RSMF manifests
against Relativity's own JSON Schema (jsonschema, draft 7, formats checked), JSONL and CSV/DAT by
reading them back, the PDF by opening it. Text the XML formats carry must read back exactly through
the documented escape (:mod:`formats.xml_text`).

The number of examples is ``ARCHIVIST_EXTREME_EXAMPLES`` (default 12; the issue's longer run used
more)."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import os
import tempfile
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pypdf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.actiance_adapter import ActianceAdapter
from adapters.xml_adapter import LyncXmlAdapter
from exports.base import ExportContext, FormatReport, MemoryExportFiles, export_order
from exports.csv_dat import CSV_FILE, DAT_FILE, read_dat
from exports.documents import every_document
from exports.registry import FORMAT_NAMES, export_format
from formats.xml_text import escape_xml_text, unescape_xml_text
from ingest.errors import InvalidEvent
from ingest.events import EVENT_TYPES, Event, FileDownloadEvent, FileUploadEvent, PostEvent, event_to_json, parse_event

ROOT = Path(__file__).resolve().parents[2]
LYNC_XSD = etree.XMLSchema(etree.parse(str(ROOT / "adapters" / "schemas" / "lync_compliance.xsd")))
ACTIANCE_XSD = etree.XMLSchema(etree.parse(str(ROOT / "exports" / "schemas" / "actiance.xsd")))
EDRM_XSD = etree.XMLSchema(etree.parse(str(ROOT / "exports" / "schemas" / "edrm-1.2-subset.xsd")))
RSMF_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "rsmf_schema_2_0_0.json").read_text())
RSMF_VALIDATOR = jsonschema.Draft7Validator(RSMF_SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
EXAMPLES = int(os.environ.get("ARCHIVIST_EXTREME_EXAMPLES", "12"))

FIRST = datetime(1, 1, 1, tzinfo=UTC)
LAST = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
CONTROLS = "".join(chr(code) for code in range(32)) + "\x7f\x85\u2028\u2029"
LONG = 40_000
AWKWARD = (
    CONTROLS,
    "\x00",
    "nul\x00inside",
    "\ufffe\uffff",
    "\u2400\u2426 pictures \u241b and \u2426FFFE",
    "שלום עולם \u200f\u202e override \u202c مرحبا",
    "中文 日本語 한국어 𠜎𠜱",
    "launch 🚀👍🏽 é\u0301",
    "=1+1",
    "-2",
    "@SUM(A1)",
    '<xml> & "quotes" \' ]]> </xml>',
    "þ\x14® concordance",
    "line\r\nbreaks\rand\nmore",
    "\t leading tab",
    "x" * LONG,
    ("שלום\x07" * (LONG // 5))[:LONG],
    "中" * LONG,
)
TEXT = st.one_of(
    st.sampled_from(AWKWARD),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    st.lists(st.sampled_from(AWKWARD[:-3]), min_size=2, max_size=4).map("".join),
)
NON_EMPTY = TEXT.filter(bool)
MOMENT = st.one_of(
    st.sampled_from([FIRST, LAST]), st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC))
)
# "post" first, so that a failing example shrinks to a post.
KINDS = ("post", *(kind for kind in EVENT_TYPES if kind != "post"))


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    message_id = draw(st.sampled_from(["m1", "m2"]) | NON_EMPTY)
    file = {
        "name": draw(NON_EMPTY),
        "size": draw(st.integers(0, 2**53 - 1)),
        "sha256": "a" * 64,
        "content_type": draw(TEXT),
        "url": draw(st.none() | TEXT),
    }
    by_kind: dict[str, dict[str, Any]] = {
        "post": {"message": {"id": message_id, "text": draw(TEXT)}},
        "edit": {"message": {"id": message_id, "text": draw(TEXT)}},
        "delete": {"message": {"id": message_id}},
        "read": {"read": {"message_id": draw(st.none() | st.just(message_id))}},
        "file_upload": {"file": file},
        "file_download": {"file": file},
        "disclaimer": {"disclaimer": {"rule_id": draw(NON_EMPTY), "version": 1, "locale": "en", "text": draw(TEXT)}},
        "policy_decision": {
            "decision": {
                "action": "room_post",
                "outcome": "deny",
                "mode": "block",
                "wall_ids": draw(st.lists(TEXT, max_size=2)),
                "targets": draw(st.lists(TEXT, max_size=2)),
            }
        },
        "room_update": {"room_update": {"name": draw(st.none() | TEXT), "description": draw(st.none() | TEXT)}},
        "supervision_hit": {
            "hit": {
                "item_id": draw(NON_EMPTY),
                "policy_id": draw(NON_EMPTY),
                "policy_version": 1,
                "policy_name": draw(TEXT),
                "evaluated_event_id": str(draw(st.uuids())),
                "evaluated_type": "post",
                "evaluated_message": message_id,
                "reason": draw(st.sampled_from(["lexicon", "sample"])),
                "matches": [{"term_id": draw(NON_EMPTY), "start": 0, "end": 1, "matched": draw(TEXT)[:1000]}],
            }
        },
    }
    fields = by_kind.get(kind, {})
    return {
        "schema_version": 1,
        "event_id": str(draw(st.uuids())),
        "type": kind,
        "occurred_at": draw(MOMENT).isoformat(),
        "room": {
            "id": draw(st.sampled_from(["room:a", "im:1:2"]) | NON_EMPTY),
            "name": draw(st.none() | TEXT),
            "kind": draw(st.sampled_from(["room", "im"])),
        },
        "actor": {
            "id": draw(st.sampled_from(["user:1", "user:2"]) | NON_EMPTY),
            "name": draw(st.none() | TEXT),
            "email": draw(st.none() | TEXT),
            "internal": draw(st.booleans()),
        },
        "source": draw(st.none() | st.builds(lambda server: {"server": server}, st.none() | TEXT)),
        **fields,
    }


def archived(raw: list[dict[str, Any]]) -> list[Event]:
    """The events the archive would hold (one a producer could not send is left out), in export order."""
    events = []
    for payload in raw:
        try:
            events.append(parse_event(payload))
        except InvalidEvent:
            continue
    return sorted(events, key=export_order)


def check_jsonl(contents: dict[str, bytes], events: list[Event]) -> None:
    lines = contents["events.jsonl"].decode().split("\n")  # \n only: U+2028 or U+0085 may stand inside a line
    assert lines.pop() == ""
    assert lines == [event_to_json(event) for event in events]


def check_csv(contents: dict[str, bytes], events: list[Event]) -> None:
    rows = list(csv.reader(io.StringIO(contents[CSV_FILE].decode("utf-8-sig"), newline="")))
    assert len(rows) == len(events) + 1
    # Issue 19: the DAT has one row per document (each parent, then its attachments), and the
    # parents' EVENT_IDS hold every event once.
    table = read_dat(contents[DAT_FILE].decode("utf-8"))
    expected = list(every_document(CONTEXT.documents(iter(events), FormatReport("csv"))))
    assert [row[0] for row in table[1:]] == [document.control for document in expected]
    ids = table[0].index("EVENT_IDS")
    held = [
        i for row, d in zip(table[1:], expected, strict=True) if d.kind != "attachment" for i in row[ids].split("; ")
    ]
    assert sorted(held) == sorted(str(event.event_id) for event in events)


def check_edrm(contents: dict[str, bytes], events: list[Event]) -> None:
    EDRM_XSD.assertValid(etree.fromstring(contents["edrm.xml"]))
    assert any(path.startswith("text/") for path in contents) == bool(events)


def check_lync(contents: dict[str, bytes], events: list[Event]) -> None:
    chats = []
    for path, content in contents.items():
        assert path.startswith("lync/")
        document = etree.fromstring(content)
        LYNC_XSD.assertValid(document)
        chats += [m.get("content") or "" for m in document.iterfind(".//Messages/Message[@type='CHAT']")]
    assert sorted(unescape_xml_text(chat) for chat in chats) == sorted(
        e.message.text for e in events if isinstance(e, PostEvent)
    )


def check_actiance(contents: dict[str, bytes], events: list[Event]) -> None:
    names = []
    for content in contents.values():
        document = etree.fromstring(content)
        ACTIANCE_XSD.assertValid(document)
        names += [unescape_xml_text(n.text or "") for n in document.iterfind(".//FileTransferStarted/UserFileName")]
    assert sorted(names) == sorted(e.file.name for e in events if isinstance(e, FileUploadEvent | FileDownloadEvent))


def check_rsmf(contents: dict[str, bytes], events: list[Event]) -> None:
    for path, content in contents.items():
        if not path.endswith(".rsmf"):
            continue  # rsmf.sha256
        message = email.message_from_bytes(content, policy=email.policy.default)
        (attachment,) = list(message.iter_attachments())
        manifest = json.loads(zipfile.ZipFile(io.BytesIO(attachment.get_content())).read("rsmf_manifest.json"))
        RSMF_VALIDATOR.validate(manifest)
    assert len(contents) >= bool(events)


def check_pdf(contents: dict[str, bytes], events: list[Event]) -> None:
    assert len(pypdf.PdfReader(io.BytesIO(contents["report.pdf"])).pages) >= 1


CHECKS = {
    "jsonl": check_jsonl,
    "csv": check_csv,
    "edrm": check_edrm,
    "lync": check_lync,
    "actiance": check_actiance,
    "rsmf": check_rsmf,
    "pdf": check_pdf,
}
CONTEXT = ExportContext(
    export_id=str(uuid.uuid4()),
    created_at=LAST,
    requested_by="auditor\x00 ‏שלום",
    query="=1 \x07",
    case_name="Matter \x1b 中文",
    custodians=("user:1\x00",),
)


def test_every_format_is_checked() -> None:
    assert set(CHECKS) == set(FORMAT_NAMES)


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(st.lists(payloads(), min_size=1, max_size=6))
def test_every_format_and_file_adapter_handles_extreme_events(raw: list[dict[str, Any]]) -> None:
    events = archived(raw)
    for name in FORMAT_NAMES:
        files = MemoryExportFiles()
        report = export_format(name).write(iter(events), files, CONTEXT)
        assert report.events == len(events), name
        CHECKS[name](files.contents, events)
    with tempfile.TemporaryDirectory() as directory:
        for adapter, schema in (
            (LyncXmlAdapter(Path(directory) / "xml"), LYNC_XSD),
            (ActianceAdapter(Path(directory) / "actiance"), ACTIANCE_XSD),
        ):
            assert list(adapter.write(events)) == [None] * len(events)
            for path in adapter.output_dir.glob("*.xml"):
                schema.assertValid(etree.parse(str(path)))


def test_the_extreme_instants_each_format_at_once() -> None:
    """The reproduction of the issue: an Actiance export of a year-9999 event (and a year-1 one)."""
    raw = [
        {
            "schema_version": 1,
            "event_id": str(uuid.UUID(int=n + 1)),
            "type": kind,
            "occurred_at": moment.isoformat(),
            "room": {"id": "room:a", "name": None, "kind": "room"},
            "actor": {"id": "user:1", "name": CONTROLS, "email": None, "internal": True},
            **extra,
        }
        for n, (moment, kind, extra) in enumerate(
            (moment, kind, extra)
            for moment in (FIRST, LAST)
            for kind, extra in (
                ("join", {}),
                ("post", {"message": {"id": "m", "text": CONTROLS}}),
                ("file_upload", {"file": {"name": CONTROLS, "size": 1, "sha256": "b" * 64}}),
                ("leave", {}),
            )
        )
    ]
    test_every_format_and_file_adapter_handles_extreme_events.hypothesis.inner_test(raw)  # type: ignore[attr-defined]


@given(st.text())
def test_the_xml_escape_reads_back_exactly_and_leaves_only_what_xml_carries(text: str) -> None:
    escaped = escape_xml_text(text)
    assert unescape_xml_text(escaped) == text
    etree.Element("a", b=escaped).text = escaped  # lxml refuses any string XML 1.0 cannot carry
    if not any(ch in text for ch in CONTROLS[:32] + "\ufffe\uffff\u2426") and not any(
        0x2400 <= ord(ch) <= 0x241F for ch in text
    ):
        assert escaped == text
