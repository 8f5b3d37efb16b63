"""The queue and item pages through the test client: who may open them, the views and SLA ages,
the matched text marked (and escaped), each action as a plain form post (CSRF checked), the
comment a breach and an escalation need, the bulk close, and the audit entries they write."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from adapters.archive import ArchiveAdapter
from archive.app_schema import audit_log
from archive.fs_file_store import FsFileStore
from archive.principals import ROLES
from search_api.deps import PERMISSIONS
from supervision import queue
from supervision.items import NewItem, add_items
from supervision.model import TermMatch
from tests.attachment_events import file_text, upload
from tests.supervision.queues.items import desk_events, items_of, make_policy
from tests.web.conftest import WebSite, build_site, csrf_of, sign_in


@pytest.fixture
def site(tmp_path: Path) -> WebSite:
    return build_site(tmp_path, desk_events())


@pytest.fixture
def item_ids(site: WebSite) -> list[str]:
    policy = make_policy(site.services.engine)
    return items_of(site.services.engine, policy, desk_events(), datetime.now(UTC) - timedelta(hours=30))


@pytest.fixture
def web(site: WebSite) -> Iterator[TestClient]:
    with TestClient(site.app, follow_redirects=False) as client:
        sign_in(client, site.tokens["supervisor"])
        yield client


def _last_changes(site: WebSite, count: int) -> list[dict[str, Any]]:
    with site.services.engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.document)
            .where(audit_log.c.action.like("supervision_item_%"), audit_log.c.action != "supervision_item_view")
            .order_by(audit_log.c.seq.desc())
            .limit(count)
        ).scalars()
        return [json.loads(row) for row in reversed(list(rows))]


def test_who_may_open_the_pages(site: WebSite, item_ids: list[str]) -> None:
    for role in ROLES:
        with TestClient(site.app, follow_redirects=False) as client:
            sign_in(client, site.tokens[role])
            allowed = role in PERMISSIONS["supervision_read"]
            for path in ("/supervision", f"/supervision/items/{item_ids[0]}"):
                assert client.get(path).status_code == (200 if allowed else 403), (role, path)


def test_the_queue_shows_views_sla_ages_and_overdue(web: TestClient, item_ids: list[str]) -> None:
    page = web.get("/supervision")
    assert page.status_code == 200
    assert page.text.count("data-queue-row") == 3
    assert page.text.count('class="overdue-mark"') == 3
    assert "30 h" in page.text
    assert 'aria-current="page">All open (3)' in page.text
    assert web.get("/supervision?view=mine").text.count("data-queue-row") == 0
    web.post(
        f"/supervision/items/{item_ids[0]}",
        data={"csrf": csrf_of(page.text), "do": "start", "view": "open"},
    )
    assert web.get("/supervision?view=mine").text.count("data-queue-row") == 1
    assert web.get("/supervision?view=unassigned").text.count("data-queue-row") == 2
    assert web.get("/supervision?view=closed").text.count("data-queue-row") == 0
    # One reviewer's queue, and the links and forms keep it.
    theirs = web.get("/supervision?view=open&reviewer=web+supervisor")
    assert theirs.text.count("data-queue-row") == 1
    assert f"/supervision/items/{item_ids[0]}?view=open&amp;reviewer=web+supervisor" in theirs.text
    assert '<input type="hidden" name="reviewer" value="web supervisor">' in theirs.text
    assert web.get("/supervision?view=open&reviewer=nobody").text.count("data-queue-row") == 0
    assert web.get("/supervision?cursor=junk").status_code == 422


def test_the_item_page_marks_the_matches_escaped_in_the_conversation(web: TestClient, item_ids: list[str]) -> None:
    page = web.get(f"/supervision/items/{item_ids[1]}")
    assert page.status_code == 200
    assert 'returns of 12% &lt;b&gt;<mark title="g1">guarantee</mark>d&lt;/b&gt; &amp; more' in page.text
    assert "Guarantees (version 1)" in page.text
    assert "lunch at noon?" in page.text  # the conversation around it
    for key in ("s", "n", "f", "b", "r", "e"):
        assert f'aria-keyshortcuts="{key}"' in page.text
    assert 'data-queue-nav="j"' in page.text
    assert 'data-queue-nav="k"' in page.text


def test_actions_as_form_posts_need_csrf_and_comments(web: TestClient, site: WebSite, item_ids: list[str]) -> None:
    first, second, third = item_ids
    page = web.get(f"/supervision/items/{first}?view=open")
    csrf = csrf_of(page.text)
    assert web.post(f"/supervision/items/{first}", data={"do": "start"}).status_code == 403
    refused = web.post(f"/supervision/items/{first}", data={"csrf": csrf, "do": "close:breach", "view": "open"})
    assert refused.status_code == 422
    assert "Write a comment: one is required to close as breach." in refused.text
    assert 'aria-invalid="true"' in refused.text
    refused = web.post(f"/supervision/items/{first}", data={"csrf": csrf, "do": "escalate", "comment": " "})
    assert refused.status_code == 422
    assert "required to escalate" in refused.text
    done = web.post(
        f"/supervision/items/{first}",
        data={"csrf": csrf, "do": "close:breach", "comment": "promised 12%", "view": "open"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/supervision/items/{second}?view=open"  # on to the next item
    again = web.post(f"/supervision/items/{first}", data={"csrf": csrf, "do": "close:no_issue", "view": "open"})
    assert again.status_code == 409
    assert "is closed" in again.text
    escalated = web.post(f"/supervision/items/{second}", data={"csrf": csrf, "do": "escalate", "comment": "look"})
    assert escalated.status_code == 303
    assert escalated.headers["location"] == f"/supervision/items/{second}?view=open"
    [closing, escalating] = _last_changes(site, 2)
    assert closing["details"]["after"] == {"state": "closed", "disposition": "breach", "assignee": "web supervisor"}
    assert escalating["action"] == "supervision_item_escalate"
    assert escalating["details"]["comment"] == "look"
    assert "promised 12%" in web.get(f"/supervision/items/{first}").text  # its history
    auditor = TestClient(site.app, follow_redirects=False)
    with auditor:
        sign_in(auditor, site.tokens["auditor"])
        assert auditor.post(f"/supervision/items/{third}", data={"csrf": "x", "do": "start"}).status_code == 403
    assert queue.get_item(site.services.engine, third).item.state == "pending"


def test_bulk_close_as_false_positive(web: TestClient, site: WebSite, item_ids: list[str]) -> None:
    page = web.get("/supervision")
    csrf = csrf_of(page.text)
    assert web.post("/supervision/bulk-close", data={"id": item_ids[:2]}).status_code == 403
    assert web.post("/supervision/bulk-close", data={"csrf": csrf}).status_code == 422
    done = web.post(
        "/supervision/bulk-close", data={"csrf": csrf, "id": item_ids[:2], "comment": "newsletter", "view": "open"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/supervision?view=open"
    closes = _last_changes(site, 2)
    assert sorted(entry["details"]["item_id"] for entry in closes) == sorted(item_ids[:2])
    assert all(entry["details"]["after"]["disposition"] == "false_positive" for entry in closes)
    assert web.get("/supervision").text.count("data-queue-row") == 1
    again = web.post("/supervision/bulk-close", data={"csrf": csrf, "id": item_ids[:1]})
    assert again.status_code == 409


def test_an_attachment_match_is_marked_on_the_attachment_text_and_a_sample_shows_its_message(
    web: TestClient, site: WebSite, tmp_path: Path
) -> None:
    engine = site.services.engine
    policy = make_policy(engine)
    said = "Minutes <draft>\nWe guarantee the fund."
    shared = upload("minutes.docx", room="desk")
    extracted = file_text(shared, said, FsFileStore(tmp_path / "files"))  # the site's file store
    ArchiveAdapter(engine).write([shared, extracted])
    start = said.index("guarantee")
    sample = desk_events()[2]
    common: dict[str, Any] = {
        "policy_id": policy.id,
        "policy_version": 1,
        "room_id": "room:desk",
        "sender": "user:alice",
    }
    with engine.begin() as connection:
        attachment_item, sampled_item = add_items(
            connection,
            [
                NewItem(
                    **common,
                    event_id=str(extracted.event_id),
                    message_id=f"file:{shared.event_id}",
                    sent_at=extracted.occurred_at,
                    reason="lexicon",
                    matches=(TermMatch(term_id="g1", field="attachment", start=start, end=start + 9, matched="x"),),
                ),
                NewItem(
                    **common,
                    event_id=str(sample.event_id),
                    message_id=sample.message.id,
                    sent_at=sample.occurred_at,
                    reason="sample",
                ),
            ],
            datetime.now(UTC),
        )
    page = web.get(f"/supervision/items/{attachment_item}")
    assert page.status_code == 200
    assert "Attachment text: minutes.docx" in page.text
    assert 'Minutes &lt;draft&gt;\nWe <mark title="g1">guarantee</mark> the fund.' in page.text
    assert "The archive holds no conversation for this message." in page.text
    page = web.get(f"/supervision/items/{sampled_item}")
    assert "drawn by the sampling rate" in page.text
    assert "lunch at noon?</blockquote>" in page.text
    assert "<mark" not in page.text
