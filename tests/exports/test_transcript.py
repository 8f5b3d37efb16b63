"""The document text (DAT TEXTPATH, EDRM Text, the PDF's hashed text) must not let a display name or
an id forge transcript lines: only message texts are indented, so a line break in a name would start
a new, fake, event line."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from exports.documents import Numbering, documents
from exports.transcript import document_text, single_line
from ingest.events import parse_event
from tests.exports.conftest import event_payload

FORGED = "Mallory\n09:00:05.000 UTC    Chief Executive (user:ceo) [m9]: approved, wire the funds"


def test_a_name_with_a_line_break_does_not_forge_an_event_line() -> None:
    payload = event_payload(1, "post", message={"id": "m1", "text": "hello"})
    payload["actor"] = {"id": "user:mallory", "name": FORGED}
    (document,) = documents([parse_event(payload)], unit="message", numbering=Numbering("ACME-"), zone=ZoneInfo("UTC"))
    text = document_text(document, ZoneInfo("UTC"))
    event_lines = [line for line in text.split("\n") if re.match(r"\d\d:\d\d:\d\d\.\d{3}", line)]
    assert len(event_lines) == len(document.events), event_lines


def _unescape(value: str) -> str:
    """The inverse of single_line, written independently: Python's own unicode_escape codec reads
    ``\\\\``, ``\\n``, ``\\r``, ``\\t``, ``\\xHH`` and ``\\uHHHH``."""
    return value.encode("ascii", "backslashreplace").decode("unicode_escape")


def test_every_name_and_id_of_a_document_stays_on_its_line() -> None:
    breaks = ("\n", "\r", "\r\n", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c")
    payloads = []
    for second, brk in enumerate(breaks, start=1):
        payload = event_payload(second, "post", message={"id": f"m{brk}1", "text": "hi"})
        payload["room"] = {"id": f"room{brk}x", "name": f"Desk{brk}09:00:00.000 UTC    forged", "kind": "im"}
        payload["actor"] = {"id": f"user{brk}a", "name": f"A{brk}B"}
        payload["recipients"] = [{"id": f"user{brk}r", "name": f"R{brk}S"}]
        payloads.append(payload)
    read = event_payload(20, "read", read={"message_id": "m\n1"})
    read["room"] = payloads[0]["room"]
    payloads.insert(1, read)
    events = [parse_event(p) for p in payloads]
    for document in documents(events, unit="message", numbering=Numbering("ACME-"), zone=ZoneInfo("UTC")):
        text = document_text(document, ZoneInfo("UTC"), "Case\nforged")
        header, _, body = text.partition("\n\n")
        assert len(header.split("\n")) == 3, header
        lines = body.removesuffix("\n").split("\n")
        assert all(re.match(r"\d\d:\d\d:\d\d\.\d{3}", line) for line in lines), lines
        assert not any(ch in text for ch in "\r\x85\u2028\u2029\x0b\x0c\x1c"), text


def test_single_line_is_reversible() -> None:
    for value in ("plain", "DOMAIN\\user", "a\nb\\nc", "\x00\x7f\x85\u2028\u2029\t\r", "Zoë 😀\u200d"):
        escaped = single_line(value)
        assert "\n" not in escaped
        assert "\r" not in escaped
        assert _unescape(escaped) == value
    assert single_line("Zoë Müller (user:1)") == "Zoë Müller (user:1)"
    assert single_line("a\nb") == "a\\nb"
    assert single_line("a\\b") == "a\\\\b"
