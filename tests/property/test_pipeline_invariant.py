"""The pipeline invariant, property-based: any events validation accepts end archived, and
nothing one of them stored breaks processing, search, an export or ``archivist verify``.

Hypothesis writes events as a producer would (JSON), with the extremes: ``occurred_at`` in
years 1 and 9999, every control character but NUL in every string field, right-to-left,
CJK and emoji text, strings of 100 KB, integers up to the archive's bound, ids repeated with
other content. Each example goes through the whole embedded pipeline, on SQLite and on
PostgreSQL: validation and staging (as the sink does), the processor with the default
adapters, the search API on the Tantivy index with facets, every export format, and
``archivist verify``. It holds when:

* every accepted event is archived (the first content staged under its id), and none is left
  failed or parked in staging, so none was held back by a neighbour;
* every search answers (200, or a 4xx saying why the query is refused: never a 500);
* every export format completes;
* ``archivist verify`` exits 0.

The normal run tries ``ARCHIVIST_PROPERTY_EXAMPLES`` examples per database (default 8, about
half a minute for both); set it higher for a longer run. A failing example is reported as
generated (its problems listed); ``ARCHIVIST_PROPERTY_SHRINK=1`` shrinks it first, which runs
the pipeline many more times.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, MetaData, Table, delete, select
from typer.testing import CliRunner, Result

from adapters.base import AdapterContext
from adapters.processor import BatchProcessor
from adapters.registry import build_adapters
from archive.principals import create_token
from archive.schema import archive_events
from archivist.cli import app as cli
from archivist.migrate import upgrade
from archivist.settings import Settings, get_settings
from exports.package import ExportRequest, build_export
from exports.registry import FORMAT_NAMES
from ingest.db import create_db_engine
from ingest.errors import InvalidEvent
from ingest.events import MAX_INTEGER, PRODUCER_EVENT_TYPES, Event, admit_event_json, event_to_json
from ingest.sink import StagingSink
from ingest.staging import StagingStore, staged_events
from search.backends import TantivySearchBackend
from search_api.app import create_app
from search_api.deps import AppServices
from tests.services import fresh_postgres_database

EXAMPLES = int(os.environ.get("ARCHIVIST_PROPERTY_EXAMPLES", "8"))
SHRINK = os.environ.get("ARCHIVIST_PROPERTY_SHRINK", "") not in ("", "0")

# --- what a producer may send -------------------------------------------------------------------

CONTROLS = "".join(chr(c) for c in [*range(1, 32), 0x7F, *range(0x80, 0xA0)])
"""Every control character but NUL (C0, DEL, C1)."""
SCRIPTS = (
    "שלום עולם ‏مرحبا بالعالم‎",  # right-to-left, with the marks
    "漢字かなカナ한국어中文",
    "👍🏽🚀👨‍👩‍👧‍👦🏳️‍🌈 done",
    "e\u0301 \u200b\u200d\ufeff \u2028\u2029",  # combining, zero-width, BOM, separators
    "<b>&amp;</b> ]]> \"'",
)
HUGE = 100_000


def _huge(seed: str) -> str:
    return (seed * (HUGE // max(1, len(seed)) + 1))[:HUGE]


_characters = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])
_plain = st.text(_characters, max_size=30)
_extreme = st.one_of(
    st.just(CONTROLS),
    st.sampled_from(SCRIPTS),
    st.sampled_from([*SCRIPTS, CONTROLS, "x y"]).map(_huge),
    st.lists(st.sampled_from([*CONTROLS, *"".join(SCRIPTS), " ", "a", "#", "@"]), max_size=20).map("".join),
)
text_value = st.one_of(_plain, _extreme)
"""Any string a producer may put in a field (NUL aside: validation's business)."""
non_empty = text_value.filter(bool)
maybe_text = st.none() | text_value

_EPOCH_ENDS = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(1800, 1, 1, tzinfo=UTC),
    datetime(1970, 1, 1, tzinfo=UTC),
]
_offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


@st.composite
def occurred_at(draw: st.DrawFn) -> str:
    """An RFC 3339 time validation accepts: the extremes in UTC, anything between in any offset."""
    if draw(st.booleans()):
        moment = draw(st.sampled_from(_EPOCH_ENDS))
    else:
        moment = draw(
            st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC))
        ).astimezone(draw(_offsets))
    written = moment.isoformat()
    return written.replace("+00:00", "Z") if draw(st.booleans()) else written


def _optional(draw: st.DrawFn, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without the None values, some of which a producer leaves out."""
    return {k: v for k, v in fields.items() if v is not None and draw(st.booleans())} | {
        k: v for k, v in fields.items() if v is not None and k in _REQUIRED
    }


_REQUIRED = {"id", "text", "name", "size", "sha256", "rule_id", "version", "locale", "action", "outcome", "mode"}
_sha256 = st.binary(min_size=32, max_size=32).map(bytes.hex)
_integer = st.one_of(st.integers(0, MAX_INTEGER), st.sampled_from([0, 1, MAX_INTEGER]))


@st.composite
def event_body(draw: st.DrawFn, message_ids: list[str]) -> dict[str, Any]:
    """The type and type-specific part of an event (message ids drawn from a small pool, so
    that edits and deletes meet the posts they refer to)."""
    kind = draw(st.sampled_from(PRODUCER_EVENT_TYPES))
    message_id = draw(st.sampled_from(message_ids) | non_empty)
    body: dict[str, Any] = {"type": kind}
    if kind in ("post", "edit"):
        body["message"] = _optional(
            draw,
            {"id": message_id, "text": draw(text_value), "format": draw(st.sampled_from(["text/plain", "text/html"]))},
        )
    elif kind == "delete":
        body["message"] = {"id": message_id}
    elif kind == "read":
        body["read"] = _optional(draw, {"message_id": message_id})
    elif kind in ("file_upload", "file_download"):
        body["file"] = _optional(
            draw,
            {
                "name": draw(non_empty),
                "size": draw(_integer),
                "sha256": draw(_sha256),
                "content_type": draw(text_value),
                "url": draw(maybe_text),
            },
        )
    elif kind == "disclaimer":
        body["disclaimer"] = {
            "rule_id": draw(non_empty),
            "version": draw(st.integers(1, MAX_INTEGER)),
            "locale": draw(non_empty),
            "text": draw(text_value),
        }
    elif kind == "policy_decision":
        body["decision"] = _optional(
            draw,
            {
                "action": draw(st.sampled_from(["im", "room_join", "room_post", "file_share"])),
                "outcome": draw(st.sampled_from(["allow", "deny"])),
                "mode": draw(st.sampled_from(["block", "alert", "log"])),
                "wall_ids": draw(st.lists(text_value, max_size=3)),
                "targets": draw(st.lists(text_value, max_size=3)),
            },
        )
    elif kind == "room_update":
        body["room_update"] = _optional(
            draw, {"name": draw(maybe_text), "description": draw(maybe_text), "created": draw(st.booleans())}
        )
    return body


@st.composite
def producer_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1 to 8 events as JSON-ready dicts; some repeat an earlier event's id (with other
    content, or the same)."""
    rooms = draw(st.lists(non_empty, min_size=1, max_size=3))
    actors = draw(st.lists(non_empty, min_size=1, max_size=3))
    message_ids = draw(st.lists(non_empty, min_size=1, max_size=3))
    events: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 8))):
        if events and draw(st.integers(0, 5)) == 0:
            earlier = draw(st.sampled_from(events))
            events.append(earlier if draw(st.booleans()) else {**earlier, "occurred_at": draw(occurred_at())})
            continue
        room = _optional(
            draw,
            {
                "id": draw(st.sampled_from(rooms)),
                "name": draw(maybe_text),
                "kind": draw(st.sampled_from(["room", "im"])),
            },
        )
        actor = _optional(
            draw,
            {
                "id": draw(st.sampled_from(actors)),
                "name": draw(maybe_text),
                "email": draw(maybe_text),
                "internal": draw(st.booleans()),
            },
        )
        event = {
            "schema_version": 1,
            "event_id": str(draw(st.uuids())),
            "occurred_at": draw(occurred_at()),
            "room": room,
            "actor": actor,
            **draw(event_body(message_ids)),
        }
        if draw(st.booleans()):
            event["source"] = _optional(draw, {"server": draw(maybe_text)})
        events.append(event)
    return events


# --- the pipeline -------------------------------------------------------------------------------


@dataclass
class Pipeline:
    """One database (SQLite or PostgreSQL), emptied before each example."""

    url: str
    engine: Engine
    data_dir: Path
    tables: list[Table]

    def reset(self, example: str) -> Path:
        with self.engine.begin() as connection:
            for table in reversed(self.tables):
                connection.execute(delete(table))
        data_dir = self.data_dir / example
        data_dir.mkdir(parents=True)
        return data_dir


@pytest.fixture(scope="module")
def postgres_pipeline_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        upgrade(create_db_engine(url))
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def pipeline(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
        upgrade(create_db_engine(url))
    else:
        url = request.getfixturevalue("postgres_pipeline_url")
    monkeypatch.setenv("ARCHIVIST_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = create_db_engine(url)
    schema = MetaData()
    schema.reflect(engine)
    tables = [t for t in schema.sorted_tables if t.name != "alembic_version"]
    yield Pipeline(url, engine, tmp_path / "examples", tables)
    engine.dispose()


def accepted_events(payloads: list[dict[str, Any]]) -> tuple[list[Event], list[str]]:
    """What validation accepts, as the consumer parses it (the JSON body), and why it refused
    the others."""
    accepted: list[Event] = []
    refused: list[str] = []
    for payload in payloads:
        try:
            accepted.append(admit_event_json(json.dumps(payload, ensure_ascii=False).encode()))
        except InvalidEvent as error:
            refused.append(str(error))
    return accepted, refused


def violations(pipeline: Pipeline, data_dir: Path, events: list[Event]) -> list[str]:
    """Everything that breaks the invariant for ``events``, each with what went wrong."""
    problems: list[str] = []
    store = StagingStore(pipeline.engine)
    sink = StagingSink(store)
    first: dict[str, str] = {}
    for event in events:  # one by one, as separate producers would: the first content staged is kept
        first.setdefault(str(event.event_id), event_to_json(event))
        sink.submit([event])

    adapters = build_adapters(Settings().adapters, AdapterContext(engine=pipeline.engine, data_dir=data_dir))
    processor = BatchProcessor(pipeline.engine, adapters)
    try:
        while processor.process_batch().claimed:
            pass
    finally:
        processor.close()
        for adapter in adapters:
            adapter.close()

    with pipeline.engine.connect() as connection:
        left = connection.execute(
            select(staged_events.c.event_id, staged_events.c.parked, staged_events.c.last_error)
        ).all()
        archived = dict(connection.execute(select(archive_events.c.event_id, archive_events.c.payload)).all())
    for row in left:
        problems.append(f"event {row.event_id} not delivered (parked: {row.parked}): {row.last_error}")
    for event_id, payload in first.items():
        if event_id not in archived:
            problems.append(f"event {event_id} is not archived")
        elif archived[event_id] != payload:
            problems.append(f"event {event_id} is archived with other content than was first staged")
    if set(archived) - set(first):
        problems.append(f"archived events nobody sent: {sorted(set(archived) - set(first))}")

    problems += search_problems(pipeline, data_dir, events)
    problems += export_problems(pipeline, data_dir)
    verified = _archivist("verify")
    if verified.exit_code != 0:
        problems.append(f"archivist verify exited {verified.exit_code}: {verified.output[-2000:]}")
    return problems


def _archivist(*arguments: str) -> Result:
    """The CLI, leaving the logging set-up as it found it (the CLI points its handler at the
    runner's captured output, which is closed once the command returns)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return CliRunner().invoke(cli, list(arguments))
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def search_queries(events: list[Event]) -> list[str]:
    """Everything in the archive, then queries built from what the events hold (some of which
    the language refuses, with a 4xx)."""
    queries = ["sent>=0001-01-01", "type:post OR type:edit OR type:file_upload"]
    for event in events[:3]:
        queries.append(f'in:"{event.room.id}"')
        queries.append(f'from:"{event.actor.id}"')
        text = getattr(getattr(event, "message", None), "text", None)
        if text:
            words = re.findall(r"\w+", text[:1000])
            if words:
                queries.append(words[0])
            queries.append(json.dumps(text[:200]))
    return queries


def search_problems(pipeline: Pipeline, data_dir: Path, events: list[Event]) -> list[str]:
    problems: list[str] = []
    store = StagingStore(pipeline.engine)
    services = AppServices(engine=pipeline.engine, index_dir=data_dir / "index", sink=StagingSink(store))
    token = create_token(pipeline.engine, "legal", "property suite")
    query = "(none yet)"
    try:
        with TestClient(create_app(services), raise_server_exceptions=False) as client:
            for query in search_queries(events):
                answer = client.post(
                    "/api/v1/search",
                    json={"query": query, "size": 50, "facets": True},
                    headers={"Authorization": f"Bearer {token}"},
                )
                must_answer = query.startswith(("sent>=", "type:"))
                if answer.status_code >= 500 or (must_answer and answer.status_code != 200):
                    problems.append(f"search {query[:80]!r} answered {answer.status_code}: {answer.text[:500]}")
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # a Rust panic in Tantivy is a BaseException, past the app's handlers
        problems.append(f"search {query[:80]!r} raised {_described(error)}")
    return problems


EXPORT_SECONDS = float(os.environ.get("ARCHIVIST_PROPERTY_EXPORT_SECONDS", "120"))
"""How long the exports of one example (a handful of events) may take before the suite calls
them stuck: far beyond what they need (well under a second), so only a runaway trips it."""


def export_problems(pipeline: Pipeline, data_dir: Path) -> list[str]:
    """Every export format over everything archived, in a forked child: an export that runs
    away (a pathological input) is reported as not completing instead of stalling the suite."""
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_export_every_format, args=(pipeline.url, data_dir, sending), daemon=True)
    child.start()
    sending.close()
    problems: list[str] = []
    try:
        if receiving.poll(EXPORT_SECONDS):
            problems = receiving.recv()
        else:
            problems = [
                f"the exports did not complete within {EXPORT_SECONDS:.0f} s (the last started: {_last_zip(data_dir)})"
            ]
    except EOFError:
        problems = [f"the export process died (exit code {child.exitcode})"]
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiving.close()
    return problems


def _last_zip(data_dir: Path) -> str:
    partial = sorted((data_dir / "exports").glob("*.partial"))
    return partial[-1].name if partial else "none"


def _export_every_format(url: str, data_dir: Path, answer: Connection) -> None:
    engine = create_db_engine(url)  # the parent's pooled connections are not for a forked child
    backend = TantivySearchBackend(data_dir / "index")
    problems: list[str] = []
    for name in FORMAT_NAMES:
        request = ExportRequest(
            export_id=str(uuid.uuid4()),
            query="sent>=0001-01-01",
            formats=(name,),
            requested_by="property",
            role="legal",
        )
        try:
            build_export(engine, backend, request, data_dir / "exports" / f"{name}.zip")
        except BaseException as error:  # a Rust panic in Tantivy is a BaseException
            problems.append(f"export {name} failed: {_described(error)}")
    answer.send(problems)
    answer.close()


def _described(error: BaseException) -> str:
    where = traceback.extract_tb(error.__traceback__)[-1]
    return f"{error.__class__.__name__}: {str(error)[:300]} (at {Path(where.filename).name}:{where.lineno})"


# --- the property -------------------------------------------------------------------------------

_counter = iter(range(10**9))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,  # the failing input as a @reproduce_failure blob: its strings run to 100 KB
    # Shrinking runs the whole pipeline hundreds of times (about a second each): only when asked.
    phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if SHRINK else [])],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(payloads=producer_events())
def test_every_accepted_event_is_archived_searchable_exportable_and_verified(
    pipeline: Pipeline, payloads: list[dict[str, Any]]
) -> None:
    events, _refused = accepted_events(payloads)
    data_dir = pipeline.reset(f"example-{next(_counter)}")
    problems = violations(pipeline, data_dir, events)
    assert not problems, "\n".join(problem[:600] for problem in problems)
