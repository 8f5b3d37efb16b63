"""Loss tallies: counted per field with a few example events, however the events are added."""

from __future__ import annotations

from exports.base import FormatReport, LossTally
from ingest.events import Event, parse_event
from tests.exports.conftest import event_payload


def test_adding_events_tallies_as_adding_their_ids() -> None:
    """write_format counts a field a format cannot carry with add_event, which makes an event's
    id a string only while examples are wanted: the same counts and examples as add."""
    events: list[Event] = [
        parse_event(event_payload(i % 9, "post", message={"id": f"m{i}", "text": "x"})) for i in range(40)
    ]
    by_id, by_event = LossTally("f", "why", "there"), LossTally("f", "why", "there")
    for index, event in enumerate(events):
        field = "event field source.server" if index % 3 else "event field actor.email"
        by_id.add(field, str(event.event_id))
        by_event.add_event(field, event)
    reports = FormatReport("f"), FormatReport("f")
    by_id.report_to(reports[0])
    by_event.report_to(reports[1])
    assert reports[0].losses == reports[1].losses
    assert [(loss.field, loss.count, len(loss.events)) for loss in reports[1].losses] == [
        ("event field actor.email", 14, 3),  # events 0, 3 and 6 again and again: each an example once
        ("event field source.server", 26, 5),
    ]
