"""The overview (queue depth, last batch, wall alerts, parked help), the conversation's files,
disclaimers, versions and deletions, and the room time line (order, paging, the linked event,
day links, bad parameters, access and audit)."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kombu import Connection, Producer
from sqlalchemy import select

from adapters.archive import ArchiveAdapter
from archive import queries as archive_queries
from archive.app_schema import audit_log
from archive.schema import archive_events
from archivist import wiring
from archivist.migrate import upgrade
from archivist.settings import Settings, get_settings
from ingest.db import create_db_engine
from ingest.events import EVENT_ADAPTER, Event
from search_api.app import create_app
from search_api.web import timeline
from search_api.web.overview_page import queue_figures
from tests.services import AMQP_URL, private_topology
from tests.web.conftest import MESSAGE, WebSite, sign_in

DAY = "2009-03-03"
DELETED = "msg:irc:2009-03-03_10:41"
LAST_OF_DAY = "msg:irc:2009-03-03_10:1249"
UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1//"


def _event(kind: str, at: str, actor: str, **body: Any) -> Event:
    document = {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "occurred_at": f"{DAY}T{at}Z",
        "room": {"id": "room:ubuntu", "name": "#ubuntu"},
        "actor": {"id": f"user:{actor}", "name": actor},
        **body,
    }
    return EVENT_ADAPTER.validate_python(document)


def _decision(at: str, mode: str, outcome: str, wall: str) -> Event:
    decision = {"action": "room_post", "outcome": outcome, "mode": mode, "wall_ids": [wall], "targets": ["user:nilson"]}
    return _event("policy_decision", at, "Titan8990", decision=decision)


SHA = "ab" * 32
EXTRA: list[Event] = [
    _event(
        "disclaimer",
        "06:30:00.100",
        "Titan8990",
        disclaimer={"rule_id": "rule:mnpi", "version": 2, "locale": "en", "text": "Research is walled off."},
    ),
    _event("post", "06:30:00.050", "Titan8990", message={"id": "msg:extra:1", "text": "see the attached notes"}),
    _event(
        "file_upload",
        "06:30:00.200",
        "Titan8990",
        file={"name": "notes.pdf", "size": 2048, "sha256": SHA, "content_type": "application/pdf"},
    ),
    _decision("06:30:00.300", "alert", "allow", "wall:alerting"),
    _decision("06:30:00.400", "block", "deny", "wall:blocking"),
    _decision("06:30:00.450", "log", "allow", "wall:logging"),
    _event("edit", "06:30:00.600", "Titan8990", message={"id": MESSAGE, "text": "homecable, try netcraft.com"}),
    _event("delete", "06:30:01", "Neverb", message={"id": DELETED}),
    _event("read", "06:30:02", "homecable", read={"message_id": MESSAGE}),
]


@pytest.fixture(scope="module")
def enriched(site: WebSite) -> WebSite:
    """The demo site plus an edit, a deletion, a file, a disclaimer, wall decisions and a read."""
    add_extra_events(site)
    return site


def add_extra_events(site: WebSite) -> None:
    results = ArchiveAdapter(site.services.engine).write(EXTRA)
    assert all(result is None for result in results), results


@pytest.fixture
def officer(client: TestClient, enriched: WebSite) -> TestClient:
    sign_in(client, enriched.tokens["compliance_officer"])
    return client


def latest_audit(site: WebSite) -> dict[str, Any]:
    with site.services.engine.connect() as connection:
        latest = connection.execute(select(audit_log.c.document).order_by(audit_log.c.seq.desc()).limit(1)).scalar()
    found: dict[str, Any] = json.loads(str(latest))
    return found


def event_id_of(site: WebSite, kind: str, message_id: str) -> str:
    with site.services.engine.connect() as connection:
        rows = connection.execute(
            select(archive_events.c.event_id, archive_events.c.payload).where(archive_events.c.event_type == kind)
        ).all()
    return next(str(row.event_id) for row in rows if json.loads(row.payload).get("message", {}).get("id") == message_id)


def listed_ids(html: str) -> list[str]:
    return re.findall(r'<li id="event-([0-9a-f-]+)"', html)


# --- conversation -------------------------------------------------------------------------


def test_the_conversation_lists_files_disclaimers_versions_and_deletions(officer: TestClient) -> None:
    page = officer.get("/conversation", params={"message": MESSAGE, "n": 5})
    assert page.status_code == 200
    html = page.text
    files = html.split("Files shared (1)")[1].split("</ul>")[0]
    for fact in ("notes.pdf", "shared by Titan8990", "2048 bytes", "application/pdf", SHA):
        assert fact in files
    disclaimers = html.split("Disclaimers shown (1)")[1].split("</ul>")[0]
    assert "rule:mnpi v2 (en) to Titan8990" in disclaimers
    assert "Research is walled off." in disclaimers
    hit = html.split('id="hit"')[1].split("</details>")[0]
    assert "homecable, try netcraft.com" in hit, "the current text"
    versions = hit.split("2 versions")[1]
    assert versions.index("post by user:Titan8990") < versions.index("homecable, netcraft.com")
    assert versions.index("homecable, netcraft.com") < versions.index("edit by user:Titan8990")
    deleted = html.split('class="message deleted"')[1].split("</li>")[0]
    assert "[deleted by user:Neverb at 2009-03-03 06:30:01" in deleted
    assert "how is utility" in deleted, "the archive keeps the deleted text"


def test_the_conversation_links_to_the_time_line_at_the_hit(officer: TestClient, enriched: WebSite) -> None:
    page = officer.get("/conversation", params={"message": MESSAGE})
    post = event_id_of(enriched, "post", MESSAGE)
    link = re.search(r'<a href="([^"]+)">See in the time line</a>', page.text)
    assert link is not None
    assert link.group(1).replace("&amp;", "&") == f"/timeline?room=room%3Aubuntu&day={DAY}&hit={post}#event-{post}"


# --- time line ----------------------------------------------------------------------------


def test_the_time_line_lists_every_kind_of_event_in_order_with_the_hit_marked(
    officer: TestClient, enriched: WebSite
) -> None:
    post = event_id_of(enriched, "post", MESSAGE)
    page = officer.get("/timeline", params={"room": "room:ubuntu", "day": DAY, "hit": post})
    assert page.status_code == 200
    html = page.text
    marked = re.search(rf'<li id="event-{post}" class="tl-post hit" aria-current="true">', html)
    assert marked is not None, "the linked post is highlighted"
    assert html.count('aria-current="true"') == 1
    order = [
        html.index(text)
        for text in (
            "Titan8990 (user:Titan8990): homecable, netcraft.com",
            "disclaimer rule:mnpi v2 shown to Titan8990 (user:Titan8990)",
            "Titan8990 (user:Titan8990) shared the file notes.pdf (2048 bytes)",
            "wall check alerted on room_post by Titan8990 (user:Titan8990) "
            "(mode alert; walls wall:alerting; across user:nilson)",
            "wall check blocked room_post by Titan8990 (user:Titan8990) (mode block; walls wall:blocking",
            "wall check logged room_post",
            f"Titan8990 (user:Titan8990) edited {MESSAGE} to: homecable, try netcraft.com",
            f"Neverb (user:Neverb) deleted {DELETED} (the archive keeps its text: how is utility",
        )
    ]
    assert order == sorted(order), "in time order"
    assert "homecable read" not in html, "read receipts are left out unless asked for"
    assert "1234 events, showing 1–100 (page 1 of 13)" in html


def test_read_receipts_can_be_included(officer: TestClient) -> None:
    page = officer.get(
        "/timeline",
        params={"room": "room:ubuntu", "from": f"{DAY}T06:30:00Z", "until": f"{DAY}T06:30:05Z", "reads": "1"},
    )
    assert page.status_code == 200
    assert f"homecable (user:homecable) read {MESSAGE}" in page.text
    assert "Leave out read receipts" in page.text
    without = officer.get(
        "/timeline", params={"room": "room:ubuntu", "from": f"{DAY}T06:30:00Z", "until": f"{DAY}T06:30:05Z"}
    )
    assert len(listed_ids(page.text)) == len(listed_ids(without.text)) + 1


def test_a_from_until_window_shows_only_its_events(officer: TestClient) -> None:
    page = officer.get(
        "/timeline", params={"room": "room:ubuntu", "from": f"{DAY}T06:30:00.250Z", "until": f"{DAY}T06:30:00.500Z"}
    )
    assert page.status_code == 200
    assert len(listed_ids(page.text)) == 3, "the three wall decisions"
    assert "2009-03-03 06:30:00 to 2009-03-03 06:30:00" in page.text
    assert "2009-03-03 06:30:00" in page.text.split('class="timeline"')[1], "a span shows dates with times"


def test_the_time_line_pages_and_opens_the_page_of_a_linked_event(officer: TestClient, enriched: WebSite) -> None:
    second = officer.get("/timeline", params={"room": "room:ubuntu", "day": DAY, "page": "2"})
    assert "showing 101–200 (page 2 of 13)" in second.text
    assert 'rel="prev"' in second.text
    assert 'rel="next"' in second.text
    first_ids = listed_ids(officer.get("/timeline", params={"room": "room:ubuntu", "day": DAY}).text)
    assert not set(first_ids) & set(listed_ids(second.text))
    last = event_id_of(enriched, "post", LAST_OF_DAY)
    linked = officer.get("/timeline", params={"room": "room:ubuntu", "day": DAY, "hit": last})
    assert "(page 13 of 13)" in linked.text
    assert f'id="event-{last}" class="tl-post hit"' in linked.text
    assert listed_ids(linked.text)[-1] == last
    past = officer.get("/timeline", params={"room": "room:ubuntu", "day": DAY, "page": "99"})
    assert "(page 13 of 13)" in past.text, "a page past the end shows the last"


def test_day_links_go_to_the_nearest_days_with_activity(officer: TestClient) -> None:
    later = officer.get("/timeline", params={"room": "room:ubuntu", "day": DAY}).text
    assert "Previous day with activity (2007-09-07)" in later
    assert "No later activity in this room" in later
    assert 'href="/timeline?room=room%3Aubuntu&amp;day=2007-09-07"' in later
    earlier = officer.get("/timeline", params={"room": "room:ubuntu", "day": "2007-09-07"}).text
    assert "Next day with activity (2009-03-03)" in earlier
    empty = officer.get("/timeline", params={"room": "room:ubuntu", "day": "2008-01-01"})
    assert empty.status_code == 200
    assert "Nothing archived in this room for this span." in empty.text
    assert "Next day with activity (2009-03-03)" in empty.text


def test_without_a_day_the_time_line_opens_the_rooms_latest_day(officer: TestClient) -> None:
    page = officer.get("/timeline", params={"room": "room:ubuntu"})
    assert page.status_code == 200
    assert 'value="2009-03-03"' in page.text


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"room": "room:nowhere", "day": DAY}, 400, "There is no room &#39;room:nowhere&#39; in the archive."),
        ({"day": DAY}, 422, "Say which room"),
        ({"room": "room:ubuntu", "day": "03/03/2009"}, 422, "is not a date like 2009-03-03"),
        ({"room": "room:ubuntu", "day": "2009-02-30"}, 422, "does not exist"),
        ({"room": "room:ubuntu", "from": "yesterday"}, 422, "from &#39;yesterday&#39; is not a time"),
        ({"room": "room:ubuntu", "from": "2009-03-04", "until": "2009-03-03"}, 422, "until must be after from"),
        ({"room": "room:ubuntu", "from": "2009-01-01", "until": "2009-03-03"}, 422, "at most 31 days"),
        ({"room": "room:ubuntu", "day": DAY, "from": "2009-03-03"}, 422, "not both"),
        ({"room": "room:ubuntu", "day": DAY, "page": "two"}, 422, "is not a whole number"),
        ({"room": "room:ubuntu", "day": DAY, "page": "0"}, 422, "is not a whole number"),
    ],
)
def test_bad_parameters_answer_a_clear_page(
    officer: TestClient, params: dict[str, str], status: int, says: str
) -> None:
    page = officer.get("/timeline", params=params)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert says in page.text
    assert 'role="alert"' in page.text


def test_the_time_line_needs_the_search_permission_and_is_audited(client: TestClient, enriched: WebSite) -> None:
    assert client.get("/timeline", params={"room": "room:ubuntu"}).status_code == 303
    sign_in(client, enriched.tokens["auditor"])
    assert client.get("/timeline", params={"room": "room:ubuntu", "day": DAY}).status_code == 403
    client.cookies.clear()
    sign_in(client, enriched.tokens["legal"])
    post = event_id_of(enriched, "post", MESSAGE)
    assert client.get("/timeline", params={"room": "room:ubuntu", "day": DAY, "hit": post}).status_code == 200
    entry = latest_audit(enriched)
    assert entry["action"] == "view_timeline"
    assert entry["role"] == "legal"
    assert entry["details"] == {
        "room": "room:ubuntu",
        "from": "2009-03-03T00:00:00+00:00",
        "until": "2009-03-04T00:00:00+00:00",
        "page": 1,
        "hit": post,
    }


def test_a_tombstone_is_described_as_disposed() -> None:
    payload = {"tombstone": True, "policy": "keep-1y", "run_id": "run-7"}
    assert timeline.describe("post", payload) == "disposed of under retention policy keep-1y (run run-7)"


# --- overview -----------------------------------------------------------------------------


def test_the_overview_shows_the_last_batch_alerts_and_the_parked_help(client: TestClient, enriched: WebSite) -> None:
    sign_in(client, enriched.tokens["security_admin"])
    html = client.get("/").text
    batch = archive_queries.last_batch(enriched.services.engine)
    assert batch is not None
    assert batch["events"] == len(EXTRA)
    assert batch["archived_at"].strftime("%Y-%m-%d %H:%M:%S") in html.split('id="batch-card"')[1]
    assert f"{len(EXTRA)} events" in html.split('id="batch-card"')[1]
    assert "no broker (embedded)" in html
    alerts = html.split("Recent wall alerts and blocks")[1].split("</table>")[0]
    assert "wall:alerting" in alerts
    assert "wall:blocking" in alerts
    assert "wall:logging" not in alerts, "log-mode decisions are not alerts"
    assert alerts.index("wall:blocking") < alerts.index("wall:alerting"), "newest first"
    assert '<a href="#parked-help">0' in html
    assert 'id="parked-help"' in html
    assert "archivist retry-parked" in html


def test_alerts_are_only_for_roles_that_read_policies(client: TestClient, enriched: WebSite) -> None:
    sign_in(client, enriched.tokens["legal"])
    html = client.get("/").text
    assert "Recent wall alerts" not in html
    assert "wall:blocking" not in html


def test_an_unreachable_broker_is_said_quickly_not_a_500(enriched: WebSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_BROKER_URL", UNREACHABLE_BROKER)
    get_settings.cache_clear()
    services = replace(enriched.services, probes=wiring.probes(get_settings()))
    with TestClient(create_app(services), follow_redirects=False) as client:
        sign_in(client, enriched.tokens["admin"])
        started = time.monotonic()
        page = client.get("/")
        assert time.monotonic() - started < 4.0
    assert page.status_code == 200
    assert "broker unreachable" in page.text.split('id="queue-card"')[1]


def test_queue_figures_read_the_brokers_queues() -> None:
    with private_topology() as topology, Connection(AMQP_URL) as connection:
        channel = connection.channel()
        topology.declare(channel)
        producer = Producer(channel, exchange=topology.events_exchange())
        for number in range(3):
            producer.publish({"n": number}, routing_key="post")
        settings = Settings(broker_url=AMQP_URL, queue=topology.queue, dead_letter_queue=topology.dead_letter_queue)
        deadline = time.monotonic() + 5
        broker = wiring.probes(settings).broker
        figures = queue_figures(broker)
        while figures.events != 3 and time.monotonic() < deadline:
            time.sleep(0.1)  # a publish is routed asynchronously
            figures = queue_figures(broker)
    assert (figures.state, figures.events, figures.dead_letters) == ("ok", 3, 0)


def test_queue_figures_without_a_broker_or_with_a_dead_one() -> None:
    assert queue_figures(wiring.probes(Settings()).broker).state == "embedded"
    started = time.monotonic()
    assert queue_figures(wiring.probes(Settings(broker_url=UNREACHABLE_BROKER)).broker).state == "unreachable"
    assert time.monotonic() - started < 3.5


def test_last_batch_is_none_for_an_empty_archive(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    upgrade(engine)
    assert archive_queries.last_batch(engine) is None
