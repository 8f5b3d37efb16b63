"""The ingest invariant (issue 15), checked on random and hostile events on every producer path.

For any JSON a producer can send, exactly one of: it is staged (or recognised as a copy of an
event recorded already), or it is rejected with a reason a person can read (a dead letter
with ``x-archivist-error``, a per-event error in the HTTP answer, a ``file:line`` from
``archivist publish``). Its valid neighbours are never held back; nothing answers 500 and the
consumer never stops.

Paths: (a) the validation function itself, against oracles of its own (time range, storable
strings, size); (b) the real consumer on RabbitMQ with PostgreSQL staging; (c) ``POST
/api/v1/events`` through FastAPI's TestClient; (d) ``archivist publish`` through the CLI runner.
Each example is one batch (or file) mixing valid events, hostile ones (extreme and overflowing
times and offsets, years 1 and 9999, NUL, control characters and lone surrogates in every string
field, huge strings, wrong JSON types in every field, missing and unknown fields, bytes that are
not JSON) and events under ids recorded already, with the same or with other content (some of
them archived before the batch).

Examples per test: ``ARCHIVIST_PROPERTY_EXAMPLES`` (default 60 in process; the RabbitMQ test runs
a tenth of it, at least 6), so a longer run is ``ARCHIVIST_PROPERTY_EXAMPLES=2000 pytest
tests/property/test_ingest_invariant.py``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kombu import Connection
from typer.testing import CliRunner

from adapters.archive import ArchiveAdapter
from archive.hashchain import event_payload_hash
from archive.principals import create_token
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from ingest.consumer import ConsumerOptions, StagingConsumer
from ingest.errors import InvalidEvent
from ingest.events import (
    EARLIEST,
    LATEST,
    MAX_EVENT_BYTES,
    PRODUCER_EVENT_TYPES,
    Event,
    admit_event_json,
    event_to_json,
)
from ingest.publisher import OutgoingMessage, Publisher
from ingest.sink import StagingSink
from ingest.staging import StagingStore, payload_digest
from ingest.topology import ERROR_HEADER, Topology, broker_depths
from search_api.app import create_app
from search_api.deps import AppServices
from tests.services import AMQP_URL

EXAMPLES = int(os.environ.get("ARCHIVIST_PROPERTY_EXAMPLES", "60"))
BROKER_EXAMPLES = max(6, EXAMPLES // 10)
IN_PROCESS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
WITH_BROKER = settings(
    max_examples=BROKER_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_REASON = 2000
BOM = b"\xef\xbb\xbf"

# --- generating events ---------------------------------------------------------------------------

FILE = {"name": "q3.xlsx", "size": 1024, "sha256": "a" * 64, "content_type": "application/vnd.ms-excel"}
TYPE_FIELDS: dict[str, dict[str, Any]] = {
    "join": {},
    "leave": {},
    "post": {"message": {"id": "m1", "text": "hello @ann #q3", "mentions": ["ann"], "hashtags": ["q3"]}},
    "edit": {"message": {"id": "m1", "text": "hello again"}},
    "delete": {"message": {"id": "m1"}},
    "read": {"read": {"message_id": "m1"}},
    "file_upload": {"file": FILE},
    "file_download": {"file": FILE | {"url": "https://files.example.com/q3.xlsx"}},
    "disclaimer": {"disclaimer": {"rule_id": "r1", "version": 2, "locale": "de-DE", "text": "Achtung"}},
    "policy_decision": {
        "decision": {"action": "room_join", "outcome": "deny", "mode": "block", "wall_ids": ["w1"], "targets": ["u"]}
    },
    "room_update": {"room_update": {"name": "#desk", "description": "the desk", "created": True}},
}
COMMON = {
    "room": {"id": "room:desk", "name": "#desk", "kind": "room"},
    "actor": {"id": "user:ann", "name": "Ann", "email": "ann@example.com"},
    "source": {"server": "pchat01.example.com"},
}

zones = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
edge_days = st.sampled_from(
    [(datetime(1, 1, 1), datetime(1, 1, 2)), (datetime(9999, 12, 30), datetime(9999, 12, 31, 23, 59, 59, 999999))]
)
times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999), timezones=zones),
    edge_days.flatmap(lambda edge: st.datetimes(min_value=edge[0], max_value=edge[1], timezones=zones)),
).map(lambda moment: moment.isoformat())
occurred_ats = st.one_of(
    times,
    st.sampled_from(
        [
            "0001-01-01T00:00:00+00:01",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
            "9999-12-31T23:59:59.999999+00:00",
            "0001-01-01T00:00:00-00:00",
            "1800-01-01T00:00:00Z",
            "2026-02-30T10:00:00Z",
            "2026-11-22T09:15:02",
            "2026-11-22T24:00:00Z",
            "2026-11-22T09:15:02+24:00",
            "yesterday",
        ]
    ),
)
HUGE = "x" * (MAX_EVENT_BYTES + 10)
LARGE = "y" * 200_000
hostile_text = st.text(
    alphabet=st.sampled_from(
        ["\x00", "\ud800", "\udfff", "\x01", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff", "a", " ", "é", "😀"]
    ),
    max_size=12,
)
strings = st.one_of(st.text(max_size=30), hostile_text, st.sampled_from(["", HUGE, LARGE]))
wrong_values: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 1.5, 2**63, 10**30, "", "x", [1], {"a": 1}, [], {}, [[[]]]]),
    strings,
)


def paths(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path into a JSON value (objects and arrays), the value's own first."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def string_paths(value: Any) -> list[tuple[str | int, ...]]:
    return [path for path in paths(value) if isinstance(at(value, path), str)]


def at(value: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def replaced(value: Any, path: tuple[str | int, ...], new: Any, *, delete: bool = False) -> Any:
    copy = json.loads(json.dumps(value))
    parent = at(copy, path[:-1])
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return copy


@dataclass(frozen=True)
class Draft:
    """An event before its id is known: ids are made per run (see :func:`materialise`), so a
    replayed example never meets the events an earlier run left in the store."""

    slot: int
    """Drafts with the same slot share an event_id: copies and conflicts."""
    body: dict[str, Any]
    mutation: tuple[str, tuple[str | int, ...], Any] | None = None
    """("set" or "delete", path, value) applied after the id is filled in; ("raw", (), bytes)
    replaces the whole body with bytes that need not be JSON."""


@st.composite
def drafts(draw: st.DrawFn, *, raw: bool) -> Draft:
    event_type = draw(st.sampled_from(PRODUCER_EVENT_TYPES))
    body = json.loads(json.dumps({"schema_version": 1, "type": event_type, **COMMON, **TYPE_FIELDS[event_type]}))
    body["occurred_at"] = draw(occurred_ats)
    slot = draw(st.integers(0, 4))
    kind = draw(st.sampled_from(["valid", "text", "string", "wrong", "delete", "unknown"] + (["raw"] if raw else [])))
    if kind == "valid":
        return Draft(slot, body)
    if kind == "text":  # a storable text that differs between drafts of one slot: conflicts
        path = draw(st.sampled_from(string_paths(body)))
        return Draft(slot, replaced(body, path, draw(st.text(max_size=20))))
    if kind == "string":
        path = draw(st.sampled_from(string_paths(body)))
        return Draft(slot, body, ("set", path, draw(strings)))
    every = [*list(paths(body)), ("schema_version",), ("event_id",), ("type",)]
    if kind == "wrong":
        return Draft(slot, body, ("set", draw(st.sampled_from(every)), draw(wrong_values)))
    if kind == "delete":
        return Draft(slot, body, ("delete", draw(st.sampled_from(every)), None))
    if kind == "unknown":
        parents = [()] + [p for p in paths(body) if isinstance(at(body, p), dict)]
        name = draw(st.text(min_size=1, max_size=10))
        return Draft(slot, body, ("set", (*draw(st.sampled_from(parents)), name), draw(wrong_values)))
    garbage = draw(st.one_of(st.binary(max_size=40), st.sampled_from([b"[1]", b"null", b'"event"', b"{", b"\xff\xfe"])))
    return Draft(slot, body, ("raw", (), garbage.replace(b"\n", b" ")))


@dataclass(frozen=True)
class Batch:
    drafts: list[Draft]
    archived: list[Draft]
    """Valid drafts archived before the batch: their slots' later drafts meet the archive."""


def batches(*, raw: bool, max_size: int = 12) -> st.SearchStrategy[Batch]:
    return st.builds(
        Batch,
        st.lists(drafts(raw=raw), min_size=1, max_size=max_size).flatmap(
            # Exact copies of earlier drafts: the idempotent duplicates.
            lambda items: st.lists(st.sampled_from(items), max_size=3).map(lambda copies: items + copies)
        ),
        st.lists(drafts(raw=False).map(lambda d: Draft(d.slot, d.body)), max_size=2),
    )


def materialise(draft: Draft, salt: uuid.UUID) -> bytes | dict[str, Any] | Any:
    """The draft as sent: a JSON value (or raw bytes), with this run's event id."""
    body = dict(draft.body, event_id=str(uuid.uuid5(salt, str(draft.slot))))
    if draft.mutation is None:
        return body
    action, path, value = draft.mutation
    if action == "raw":
        return value
    return replaced(body, path, value, delete=action == "delete")


def encoded(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


# --- the oracle ------------------------------------------------------------------------------------


@dataclass
class Expected:
    """What must become of each input, in order: staged (new), a copy, invalid or a conflict."""

    outcomes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    staged: set[str] = field(default_factory=set)


def expect(inputs: list[bytes], archived: list[Event]) -> Expected:
    recorded = {str(e.event_id): event_to_json(e) for e in archived}
    expected = Expected()
    for body in inputs:
        try:
            event = admit_event_json(body)
        except InvalidEvent as error:
            expected.outcomes.append("invalid")
            expected.reasons.append(error.reason)
            continue
        event_id, payload = str(event.event_id), event_to_json(event)
        expected.reasons.append("")
        if event_id not in recorded:
            recorded[event_id] = payload
            expected.staged.add(event_id)
            expected.outcomes.append("new")
        else:
            expected.outcomes.append("copy" if recorded[event_id] == payload else "conflict")
    return expected


def archived_events(batch: Batch, salt: uuid.UUID) -> list[Event]:
    first_per_slot = {d.slot: d for d in reversed(batch.archived)}
    return [admit_event_json(encoded(materialise(d, salt))) for d in first_per_slot.values() if valid(d, salt)]


def valid(draft: Draft, salt: uuid.UUID) -> bool:
    try:
        admit_event_json(encoded(materialise(draft, salt)))
    except InvalidEvent:
        return False
    return True


def readable(reason: str) -> bool:
    return bool(reason) and reason.isprintable() and len(reason) <= MAX_REASON


def ids_of(batch: Batch, salt: uuid.UUID) -> set[str]:
    return {str(uuid.uuid5(salt, str(d.slot))) for d in [*batch.drafts, *batch.archived]}


# --- (a) the validation function -------------------------------------------------------------------


def utc_in_range(text: Any) -> bool | None:
    """Whether an RFC 3339 time is within years 1..9999 once in UTC (None: not such a time)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None or (offset := moment.utcoffset()) is None:
        return None
    try:
        (moment.replace(tzinfo=None) - offset).replace(tzinfo=UTC)
    except OverflowError:
        return False
    return True


def unstorable_strings(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(unstorable_strings(k) or unstorable_strings(v) for k, v in value.items())
    if isinstance(value, list):
        return any(unstorable_strings(item) for item in value)
    return False


@IN_PROCESS
@given(draft=drafts(raw=True))
def test_a_validation_accepts_only_what_every_store_can_keep_and_explains_the_rest(draft: Draft) -> None:
    sent = materialise(draft, uuid.uuid4())
    body = encoded(sent)
    try:
        event = admit_event_json(body)
    except InvalidEvent as error:
        assert readable(error.reason), error.reason
        error.reason.encode("utf-8")  # it must fit in an AMQP header
        assert not error.reason.startswith("could not be validated"), "a validator raised: a bug, though caught"
        return
    except BaseException as error:  # the invariant's first half: nothing but InvalidEvent escapes
        pytest.fail(f"validation raised {type(error).__name__}: {error}")
    assert isinstance(sent, dict)
    assert len(body) <= MAX_EVENT_BYTES
    assert not unstorable_strings(sent), "a NUL or lone surrogate was accepted"
    assert utc_in_range(sent["occurred_at"]) is not False, "a time outside years 1..9999 in UTC was accepted"
    assert EARLIEST <= event.occurred_at <= LATEST
    assert event.occurred_at.utcoffset() == timedelta(0)
    stored = event_to_json(event)
    stored.encode("utf-8")
    assert "\\u0000" not in stored
    assert admit_event_json(stored) == event, "what is stored reads back as the same event"
    assert payload_digest(stored) == event_payload_hash(stored), "staging's conflict check hashes as the archive does"


# --- (b) the consumer on RabbitMQ ------------------------------------------------------------------


def drain_dead_letters(topology: Topology) -> list[tuple[bytes, dict[str, Any]]]:
    found = []
    with Connection(AMQP_URL) as connection:
        channel = connection.channel()
        topology.declare(channel)  # the first example drains before anything declared it
        while (message := channel.basic_get(topology.dead_letter_queue, no_ack=True)) is not None:
            # py-amqp hands over an empty body as "" (a str), whatever was sent
            body = message.body if isinstance(message.body, bytes) else message.body.encode()
            found.append((body, dict(message.headers or {})))
    return found


@pytest.mark.integration
@WITH_BROKER
@given(batch=batches(raw=True), batch_size=st.integers(1, 8))
def test_b_the_consumer_stages_or_dead_letters_every_message_and_never_stops(
    postgres_store: StagingStore, topology: Topology, batch: Batch, batch_size: int
) -> None:
    drain_dead_letters(topology)  # what an earlier, failed example left (while shrinking)
    salt = uuid.uuid4()
    archived = archived_events(batch, salt)
    if archived:
        ArchiveAdapter(postgres_store.engine).write(archived)
    bodies = [encoded(materialise(d, salt)) for d in batch.drafts]
    expected = expect(bodies, archived)
    with Publisher(AMQP_URL, topology) as publisher:
        publisher.publish(OutgoingMessage("post", body) for body in bodies)

    consumer = StagingConsumer(
        AMQP_URL,
        postgres_store,
        topology,
        ConsumerOptions(batch_size=batch_size, prefetch=2 * batch_size, idle_timeout=0.3),
    )
    stats = consumer.run()  # a crash would raise here

    assert stats.received == len(bodies)
    assert postgres_store.event_ids() & ids_of(batch, salt) == expected.staged, "a valid neighbour was held back"
    dead = drain_dead_letters(topology)
    refused = [b for b, outcome in zip(bodies, expected.outcomes, strict=True) if outcome in {"invalid", "conflict"}]
    assert Counter(body for body, _ in dead) == Counter(refused)
    reasons = {b: r for b, r, o in zip(bodies, expected.reasons, expected.outcomes, strict=True) if o == "invalid"}
    for body, headers in dead:
        reason = headers.get(ERROR_HEADER)
        assert isinstance(reason, str), headers
        assert readable(reason), reason
        if body in reasons:
            assert reason == reasons[body]
        else:
            assert reason.startswith("conflict: event_id "), reason
    assert broker_depths(AMQP_URL, topology) == (0, 0)


# --- (c) POST /api/v1/events -----------------------------------------------------------------------


@pytest.fixture
def api(sqlite_store: StagingStore, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    services = AppServices(engine=sqlite_store.engine, index_dir=tmp_path / "index", sink=StagingSink(sqlite_store))
    headers = {"Authorization": f"Bearer {create_token(sqlite_store.engine, 'ingest', 'property')}"}
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        yield client, headers


@IN_PROCESS
@given(batch=batches(raw=False))
def test_c_the_http_route_answers_for_every_event_and_never_fails(
    api: tuple[TestClient, dict[str, str]], sqlite_store: StagingStore, batch: Batch
) -> None:
    client, headers = api
    salt = uuid.uuid4()
    archived = archived_events(batch, salt)
    if archived:
        ArchiveAdapter(sqlite_store.engine).write(archived)
    items = [materialise(d, salt) for d in batch.drafts]
    expected = expect([encoded(item) for item in items], archived)

    response = client.post(
        "/api/v1/events", content=json.dumps(items), headers=headers | {"Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text
    result = response.json()
    statuses = {error["index"]: error for error in result["rejected"]}
    for index, (outcome, reason) in enumerate(zip(expected.outcomes, expected.reasons, strict=True)):
        if outcome in {"new", "copy"}:
            assert index not in statuses, (index, statuses.get(index))
        else:
            assert statuses[index]["status"] == ("invalid" if outcome == "invalid" else "conflict")
            assert readable(statuses[index]["reason"])
            if outcome == "invalid":
                assert statuses[index]["reason"] == reason
    assert len(statuses) == len(result["rejected"])
    assert result["accepted"] == sum(outcome in {"new", "copy"} for outcome in expected.outcomes)
    assert sqlite_store.event_ids() & ids_of(batch, salt) == expected.staged


# --- (d) archivist publish -------------------------------------------------------------------------


@IN_PROCESS
@given(batch=batches(raw=True, max_size=9), bom=st.booleans())
def test_d_publish_stages_every_valid_line_and_names_every_other_by_file_and_line(
    tmp_path: Path, batch: Batch, bom: bool
) -> None:
    salt = uuid.uuid4()
    store = wiring.staging_store(get_settings())
    archived = archived_events(batch, salt)
    if archived:
        ArchiveAdapter(store.engine).write(archived)
    lines = [encoded(materialise(d, salt)) for d in batch.drafts]
    # One byte-order mark is taken off the file's first line (a line may be a BOM itself).
    read_as = [((BOM if bom else b"") + lines[0]).removeprefix(BOM), *lines[1:]]
    counted = [(number, line) for number, line in enumerate(read_as, start=1) if line.strip()]
    expected = expect([line for _, line in counted], archived)
    path = tmp_path / f"{salt}.jsonl"
    path.write_bytes((BOM if bom else b"") + b"\n".join(lines) + b"\n")

    result = CliRunner().invoke(app, ["publish", str(path)])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    refused = [o for o in expected.outcomes if o in {"invalid", "conflict"}]
    assert result.exit_code == (1 if refused else 0), result.output
    accepted = sum(o in {"new", "copy"} for o in expected.outcomes)
    invalid = expected.outcomes.count("invalid")
    assert f"publish: {accepted} events accepted, {invalid} rejected" in result.output
    for (number, _line), outcome in zip(counted, expected.outcomes, strict=True):
        label = {"invalid": "rejected", "conflict": "conflict"}.get(outcome)
        if label is not None:
            assert f"{label} {path.name}:{number}: " in result.output, (number, outcome, result.output)
    assert store.event_ids() & ids_of(batch, salt) == expected.staged
    store.engine.dispose()
