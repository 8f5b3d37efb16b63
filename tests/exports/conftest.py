"""Fixtures shared by the export format tests: a context, in-memory files, and events (every
event type with awkward text, simulated traffic, and the real Ubuntu IRC logs), all in export
order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exports.base import ExportContext, MemoryExportFiles, export_order
from ingest.events import Event, parse_event
from ingest.irc import read_irc_file
from ingest.simulate import simulate_events

IRC_DIR = Path(__file__).resolve().parents[2] / "archivist" / "demo_data" / "ubuntu-irc"
DAY_ONE = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
_NAMESPACE = uuid.UUID("2f6c1a9e-7d3b-4c58-9e01-5a7b3c2d1e0f")

AWKWARD_TEXTS: tuple[str, ...] = (
    "שלום עולם, מה שלומך?",
    "launch 🚀🔥 done 👍🏽",
    "line one\nline two\r\nline three\rline four",
    'quotes "double", commas, and ; semicolons',
    "þorn þ, DC4 \x14 here, Registered®, and þ\x14þ together",
    "<xml> & 'entities' </xml>",
    "",
)


def event_payload(index: int, kind: str, *, room: str = "room:trading", day: int = 0, **fields: Any) -> dict[str, Any]:
    """A valid event of ``kind`` as a JSON-ready dict, ``index`` seconds into day ``day``."""
    actor_index = index % 3
    names = ("Dana Levi דנה", "Zoë Müller", "bot")
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid5(_NAMESPACE, f"{room}:{day}:{index}")),
        "type": kind,
        "occurred_at": (DAY_ONE + timedelta(days=day, seconds=index, microseconds=123_456)).isoformat(),
        "room": {"id": room, "name": "#trading-desk" if room == "room:trading" else None, "kind": "room"},
        "actor": {
            "id": f"user:{actor_index}",
            "name": names[actor_index] if actor_index != 2 else None,
            "email": f"u{actor_index}@example.com" if actor_index != 1 else None,
            "internal": actor_index != 1,
        },
        "source": {"server": "pchat01.example.com"},
        **fields,
    }


def _varied_payloads() -> list[dict[str, Any]]:
    file_info = {"name": "Q3 forecast ®.xlsx", "size": 12_345, "sha256": "a" * 64, "content_type": "application/vnd"}
    payloads = [event_payload(0, "room_update", room_update={"name": "#trading-desk", "created": True})]
    payloads.append(event_payload(1, "join"))
    shown = {"rule_id": "rec", "version": 2, "locale": "he-IL", "text": "השיחה מוקלטת"}
    payloads.append(event_payload(2, "disclaimer", disclaimer=shown))
    for offset, text in enumerate(AWKWARD_TEXTS):
        payloads.append(event_payload(10 + offset, "post", message={"id": f"msg:{offset}", "text": text}))
    payloads.append(event_payload(30, "edit", message={"id": "msg:0", "text": "שלום! edited once"}))
    payloads.append(event_payload(31, "edit", message={"id": "msg:0", "text": "edited twice\nwith a newline"}))
    payloads.append(event_payload(32, "delete", message={"id": "msg:1"}))
    payloads.append(event_payload(33, "read", read={"message_id": "msg:2"}))
    payloads.append(event_payload(34, "read", read={}))
    payloads.append(event_payload(35, "file_upload", file={**file_info, "url": "https://files.example.com/q3"}))
    payloads.append(event_payload(36, "file_download", file=file_info))
    decision = {"action": "room_post", "outcome": "deny", "mode": "block", "wall_ids": ["w1"], "targets": ["user:9"]}
    payloads.append(event_payload(37, "policy_decision", decision=decision))
    payloads.append(event_payload(38, "leave"))
    # The same room the next day (edits an earlier day's message), and a second room.
    payloads.append(event_payload(0, "post", day=1, message={"id": "msg:d2", "text": "day two"}))
    payloads.append(event_payload(1, "edit", day=1, message={"id": "msg:0", "text": "edited a third time"}))
    payloads.append(event_payload(0, "post", room="im:1:2", message={"id": "msg:im", "text": "private 🤫"}))
    return payloads


@pytest.fixture
def export_context() -> ExportContext:
    return ExportContext(
        export_id="5f0c6f3e-8a55-4a39-9d7a-0f0b3f8d7c21",
        created_at=DAY_ONE + timedelta(days=30),
        requested_by="compliance@example.com",
        query="room:trading",
        case_name="Matter 42 — Müller v. שלום",
        custodians=("user:0",),
    )


@pytest.fixture
def memory_files() -> MemoryExportFiles:
    return MemoryExportFiles()


@pytest.fixture
def varied_events() -> list[Event]:
    """Every event type, in two rooms and over two days, with Hebrew, emoji, newlines, quotes, XML
    characters and the DAT's structural characters in the text, and a file without a URL."""
    return sorted((parse_event(p) for p in _varied_payloads()), key=export_order)


@pytest.fixture(scope="session")
def simulated_events() -> list[Event]:
    """3,000 simulated events (edits, deletions, files, disclaimers, Unicode names) in export order."""
    return sorted(simulate_events(events=3_000, rooms=4, users=12, seed=7), key=export_order)


@pytest.fixture(scope="session")
def irc_events() -> list[Event]:
    """The real Ubuntu IRC logs shipped as demo data (CC BY 4.0), in export order."""
    events: list[Event] = []
    for path in sorted(IRC_DIR.glob("*.raw.txt")):
        events.extend(read_irc_file(path))
    return sorted(events, key=export_order)
