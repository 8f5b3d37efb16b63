"""Lync compliance XML export: valid against the adapter's schema, one file per room-day."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from exports.base import ExportContext, Loss, MemoryExportFiles
from exports.lync import LyncXmlFormat
from formats.lync_xml import in_format, render, stable_number
from formats.xml_text import ESCAPE_EXACT, ESCAPE_LOSS
from ingest.events import Event

XSD_PATH = Path(__file__).resolve().parents[2] / "adapters" / "schemas" / "lync_compliance.xsd"
SCHEMA = etree.XMLSchema(etree.parse(str(XSD_PATH)))


def export(events: list[Event], context: ExportContext, **options: int) -> tuple[MemoryExportFiles, list[Loss]]:
    files = MemoryExportFiles()
    report = LyncXmlFormat(**options).write(iter(events), files, context)
    assert report.events == len(events)
    assert report.items == len(files.contents)
    assert [f.sha256 for f in report.files] == [f.sha256 for f in files.written]
    for path, data in files.contents.items():
        assert path.startswith("lync/pchat-")
        SCHEMA.assertValid(etree.fromstring(data))
    assert report.warnings == []  # what Lync cannot carry is a loss (issue 17)
    return files, report.losses


def messages(files: MemoryExportFiles) -> list[tuple[str, str]]:
    found = []
    for path in sorted(files.contents):
        for element in etree.fromstring(files.contents[path]).iter("Message"):
            found.append((element.get("type", ""), element.get("content", "")))
    return found


def test_one_file_per_room_day_with_every_format_event(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    files, warnings = export(varied_events, export_context)
    # room:trading on two days, im:1:2 on one.
    assert len(files.contents) == 3
    expected = [e for e in varied_events if in_format(e)]
    assert len(messages(files)) == len(expected)
    assert ("CHAT", "שלום עולם, מה שלומך?") in messages(files)
    assert ("CHAT", "launch 🚀🔥 done 👍🏽") in messages(files)
    left_out = {loss.field: loss.count for loss in warnings if "no element" in loss.why}
    assert left_out == {
        f"Lync XML: {kind} events": count
        for kind, count in [("delete", 1), ("disclaimer", 1), ("edit", 3), ("policy_decision", 1), ("room_update", 1)]
    }
    assert all("CSV, DAT and EDRM" in loss.exact_value_in for loss in warnings if "no element" in loss.why)
    assert CHANGED_LOSS in [loss.why for loss in warnings]
    # The DC4 (U+0014) of one text.
    assert [(loss.count, loss.unit) for loss in warnings if loss.why == ESCAPE_LOSS] == [(1, "files")]


# The Lync format has no element or attribute for an edit or a deletion (the message types of
# adapters/schemas/lync_compliance.xsd are JOIN, PART, CHAT, BACKCHAT, FILEUPLOAD, FILEDOWNLOAD):
# the transcript shows such a message as first posted, and the report names each one by its Lync
# id and archive id, so a reviewer can find it.
CHANGED_LOSS = (
    "the Lync format cannot mark an edit or a deletion; 2 messages were changed after they were posted "
    "and read in the transcript as first posted (Lync id = archive message id: changes): "
    f"{stable_number('msg:0')} = msg:0: edited 3 times; {stable_number('msg:1')} = msg:1: deleted"
)


def test_edited_and_deleted_messages_keep_their_text_and_are_named_in_the_report(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    files, warnings = export(varied_events, export_context)
    chats = {
        element.get("id"): element.get("content")
        for data in files.contents.values()
        for element in etree.fromstring(data).iter("Message")
        if element.get("type") == "CHAT"
    }
    # Never a rewritten text: the post's words as posted, no "edited"/"deleted" added.
    assert chats[str(stable_number("msg:0"))] == "שלום עולם, מה שלומך?"
    assert chats[str(stable_number("msg:1"))] == "launch 🚀🔥 done 👍🏽"
    changed = next(loss for loss in warnings if loss.why == CHANGED_LOSS)
    assert (changed.count, changed.unit) == (2, "messages")
    assert "VERSION and DELETED" in changed.exact_value_in
    edits_and_deletes = {str(e.event_id) for e in varied_events if e.type in ("edit", "delete")}
    assert changed.events
    assert set(changed.events) <= edits_and_deletes


def test_files_are_what_the_adapter_renders_and_sort_by_time(
    simulated_events: list[Event], export_context: ExportContext
) -> None:
    files, _ = export(simulated_events, export_context, max_events_per_file=200)
    firsts: list[str] = []
    for path in sorted(files.contents):
        root = etree.fromstring(files.contents[path])
        assert len(root.findall("Conversation")) == 1
        assert len(root.findall("Conversation/Messages/Message")) <= 200
        firsts.append(str(root.xpath("string(Conversation/StartTimeUTC/@string)")))
    assert firsts == sorted(firsts)
    assert sum(1 for e in simulated_events if in_format(e)) == len(messages(files))
    in_lync = [e for e in simulated_events if in_format(e)]
    first_day = (in_lync[0].room.id, in_lync[0].occurred_at.date())
    first_file = [e for e in in_lync if (e.room.id, e.occurred_at.date()) == first_day][:200]
    assert files.contents[files.written[0].path] == render(first_file)


def test_real_irc_logs(irc_events: list[Event], export_context: ExportContext) -> None:
    files, warnings = export(irc_events, export_context)
    # Real IRC text has control characters (a backspace, mIRC colours): escaped, and said so.
    assert [(loss.why, loss.exact_value_in) for loss in warnings] == [(ESCAPE_LOSS, ESCAPE_EXACT)]
    assert len(messages(files)) == len(irc_events)


def test_events_out_of_export_order_are_refused(varied_events: list[Event], export_context: ExportContext) -> None:
    with pytest.raises(ValueError, match="not in export order"):
        LyncXmlFormat().write(reversed(varied_events), MemoryExportFiles(), export_context)


def test_a_file_holds_at_least_one_event() -> None:
    with pytest.raises(ValueError, match="1 or more"):
        LyncXmlFormat(max_events_per_file=0)
