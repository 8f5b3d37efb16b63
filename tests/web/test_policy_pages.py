"""The policies pages through the test client: editing and removing walls (exceptions, dates,
scopes, mode, state), disclaimers (create, versions, history, preview, template errors),
groups (create, members, subgroups, the store's refusals), the what-if, roles and CSRF.

Every change must reach the store through the API's handlers, so each test checks the stored
result and the audit entry (with before and after), not just the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from policies.model import Segment
from policies.store import PolicyStore
from search_api.web.policy_forms import DisclaimerForm, FormProblems, SimulationForm, WallForm, parse_moment
from tests.web.conftest import WebSite, csrf_of, latest_change_audited, sign_in

# --- helpers ------------------------------------------------------------------------------------------


def as_role(client: TestClient, site: WebSite, role: str) -> str:
    """Sign in afresh as ``role``; the session's CSRF token."""
    client.cookies.clear()
    sign_in(client, site.tokens[role])
    return csrf_of(client.get("/").text)


def store(site: WebSite) -> PolicyStore:
    return PolicyStore(site.services.engine)


def add_wall(client: TestClient, csrf: str, name: str, side_a: str = "user:gina", side_b: str = "user:hank") -> str:
    form = {"name": name, "side_a": side_a, "side_b": side_b, "mode": "block", "scopes": ["im"], "csrf": csrf}
    response = client.post("/policies/walls", data=form)
    assert response.status_code == 303, response.text
    found = re.search(r"added=([^#&]+)", response.headers["location"])
    assert found is not None
    return found.group(1)


def wall_fields(csrf: str, version: int, **changes: Any) -> dict[str, Any]:
    """The edit form as a browser posts it: one exception row (empty unless given)."""
    fields: dict[str, Any] = {
        "csrf": csrf,
        "version": str(version),
        "name": "Gina | Hank",
        "side_a": "user:gina",
        "side_b": "user:hank",
        "mode": "block",
        "scopes": ["im"],
        "effective_from": "",
        "effective_until": "",
        "state": "enabled",
        "exception_name": "",
        "exception_who": "",
        "exception_with": "",
    }
    return {**fields, **changes}


def field_error(html: str, field_id: str) -> str:
    """The message shown next to a field (``<p class="field-error" id="<field>-error">``)."""
    found = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', html)
    assert found is not None, f"no message next to {field_id}"
    described = rf'aria-invalid="true" aria-describedby="(?:[^"]* )?{re.escape(field_id)}-error"'
    assert re.search(described, html), f"{field_id}'s message is not tied to a field"
    return found.group(1)


# --- walls --------------------------------------------------------------------------------------------


def test_editing_a_wall_sets_exceptions_dates_scopes_and_mode_audited_before_and_after(
    client: TestClient, site: WebSite
) -> None:
    csrf = as_role(client, site, "security_admin")
    wall_id = add_wall(client, csrf, "Gina | Hank")
    overview = client.get("/policies").text
    assert f'href="/policies/walls/{wall_id}"' in overview
    page = client.get(f"/policies/walls/{wall_id}")
    assert page.status_code == 200
    assert "Change this wall" in page.text
    assert "New exception" in page.text

    changed = wall_fields(
        csrf,
        1,
        name="Gina | Hank (deal)",
        mode="alert",
        scopes=["im", "room_post"],
        effective_from="2026-01-01T09:00",
        effective_until="2026-12-31",
        exception_name="Audit liaison",
        exception_who="user:gina",
        exception_with="user:hank",
    )
    response = client.post(f"/policies/walls/{wall_id}", data=changed)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/policies/walls/{wall_id}?saved=2"
    page = client.get(response.headers["location"])
    assert "Saved as version 2." in page.text
    assert "Audit liaison" in page.text
    assert 'value="2026-01-01T09:00:00"' in page.text, "the form shows the stored date again"

    wall = store(site).get_wall(wall_id)
    assert wall is not None
    assert (wall.version, wall.name, wall.mode, wall.scopes) == (2, "Gina | Hank (deal)", "alert", ("im", "room_post"))
    assert wall.effective_from == datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert wall.effective_until == datetime(2026, 12, 31, tzinfo=UTC)
    assert [(e.name, e.who, e.with_whom) for e in wall.exceptions] == [
        ("Audit liaison", (Segment(kind="user", id="user:gina"),), (Segment(kind="user", id="user:hank"),))
    ]
    audited = latest_change_audited(site)
    assert audited["action"] == "wall_update"
    assert audited["role"] == "security_admin"
    before, after = audited["details"]["before"], audited["details"]["after"]
    assert (before["version"], before["exceptions"], before["mode"]) == (1, [], "block")
    assert (after["version"], after["exceptions"][0]["name"], after["mode"]) == (2, "Audit liaison", "alert")

    removal = wall_fields(
        csrf,
        2,
        exception_name=["Audit liaison", ""],
        exception_who=["user:gina", ""],
        exception_with=["user:hank", ""],
        exception_remove="0",
    )
    assert client.post(f"/policies/walls/{wall_id}", data=removal).status_code == 303
    wall = store(site).get_wall(wall_id)
    assert wall is not None
    assert (wall.version, wall.exceptions) == (3, ())
    assert latest_change_audited(site)["details"]["before"]["exceptions"][0]["name"] == "Audit liaison"


def test_deactivating_a_wall_keeps_it_but_stops_it_blocking(client: TestClient, site: WebSite) -> None:
    csrf = as_role(client, site, "admin")
    wall_id = add_wall(client, csrf, "Ivy | Jack", "user:ivy", "user:jack")
    check = {"action": "im", "actor": "user:ivy", "targets": "user:jack", "csrf": csrf}
    assert "Blocked" in client.post("/policies/check", data=check).text
    fields = wall_fields(csrf, 1, name="Ivy | Jack", side_a="user:ivy", side_b="user:jack", state="disabled")
    assert client.post(f"/policies/walls/{wall_id}", data=fields).status_code == 303
    wall = store(site).get_wall(wall_id)
    assert wall is not None
    assert not wall.enabled
    assert "deactivated" in client.get(f"/policies/walls/{wall_id}").text
    answer = client.post("/policies/check", data=check).text
    assert "Allowed" in answer
    assert "No wall matched" in answer, "the live snapshot saw the change at once"


def test_bad_wall_input_is_shown_next_to_its_field_and_nothing_changes(client: TestClient, site: WebSite) -> None:
    csrf = as_role(client, site, "security_admin")
    wall_id = add_wall(client, csrf, "Kim | Lee", "user:kim", "user:lee")
    path = f"/policies/walls/{wall_id}"

    empty = client.post(path, data=wall_fields(csrf, 1, name=""))
    assert empty.status_code == 422
    assert "The wall was not saved" in empty.text
    assert field_error(empty.text, "wall-name") == "Give the wall a name."

    backwards = client.post(path, data=wall_fields(csrf, 1, effective_from="2026-05-01", effective_until="2026-04-01"))
    assert backwards.status_code == 422
    assert field_error(backwards.text, "wall-effective_until") == "“Until” must be later than “From”."
    assert 'value="2026-04-01"' in backwards.text, "what was typed is shown again"

    garbled = client.post(path, data=wall_fields(csrf, 1, effective_from="next tuesday"))
    assert garbled.status_code == 422
    assert "is not a date and time" in field_error(garbled.text, "wall-effective_from")

    nameless = client.post(path, data=wall_fields(csrf, 1, exception_who="user:kim"))
    assert nameless.status_code == 422
    assert field_error(nameless.text, "wall-exception_0") == "Exception 1: give it a name."

    unknown = client.post(path, data=wall_fields(csrf, 1, side_a="group:no-such-group"))
    assert unknown.status_code == 409, "the store's refusal, with the API's status"
    assert "names unknown group group:no-such-group" in unknown.text

    wall = store(site).get_wall(wall_id)
    assert wall is not None
    assert wall.version == 1, "no refused edit was stored"

    assert client.post(path, data=wall_fields(csrf, 1, name="Kim | Lee v2")).status_code == 303
    stale = client.post(path, data=wall_fields(csrf, 1, name="Kim | Lee from an old tab"))
    assert stale.status_code == 409
    assert "Someone changed this wall (now version 2)" in stale.text
    assert 'value="Kim | Lee from an old tab"' in stale.text
    wall = store(site).get_wall(wall_id)
    assert wall is not None
    assert wall.name == "Kim | Lee v2"


def test_removing_a_wall_needs_the_confirmation_and_is_audited(client: TestClient, site: WebSite) -> None:
    csrf = as_role(client, site, "security_admin")
    wall_id = add_wall(client, csrf, "To be removed", "user:mo", "user:ned")
    unconfirmed = client.post(f"/policies/walls/{wall_id}/delete", data={"csrf": csrf})
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm" in unconfirmed.text
    assert store(site).get_wall(wall_id) is not None
    removed = client.post(f"/policies/walls/{wall_id}/delete", data={"csrf": csrf, "confirm": "yes"})
    assert removed.status_code == 303
    assert f"Wall <code>{wall_id}</code> removed." in client.get(removed.headers["location"]).text
    assert store(site).get_wall(wall_id) is None
    audited = latest_change_audited(site)
    assert audited["action"] == "wall_delete"
    assert (audited["details"]["before"]["name"], audited["details"]["after"]) == ("To be removed", None)
    assert client.get(f"/policies/walls/{wall_id}").status_code == 404
    assert client.post(f"/policies/walls/{wall_id}/delete", data={"csrf": csrf, "confirm": "yes"}).status_code == 404


# --- disclaimers --------------------------------------------------------------------------------------


def disclaimer_fields(csrf: str, texts: dict[str, str], **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "csrf": csrf,
        "name": "Recorded line",
        "trigger": "conversation_start",
        "group_id": "",
        "default_locale": "en",
        "state": "enabled",
        "text_locale": [*texts, ""],
        "text_body": [*texts.values(), ""],
    }
    return {**fields, **changes}


TWO_LOCALES = {
    "en": "Hello {{ actor }}: {{ room }} is recorded.",
    "fr": "Bonjour {{ actor }} : {{ room }} est enregistré.",
}


def create_disclaimer(client: TestClient, csrf: str, texts: dict[str, str] = TWO_LOCALES, **changes: Any) -> str:
    response = client.post("/policies/disclaimers", data=disclaimer_fields(csrf, texts, **changes))
    assert response.status_code == 303, response.text
    found = re.match(r"/policies/disclaimers/([^?]+)\?saved=1$", response.headers["location"])
    assert found is not None
    return found.group(1)


def preview_text(html: str) -> str:
    found = re.search(r'<blockquote class="disclaimer-text" lang="[^"]*">([^<]*)</blockquote>', html)
    assert found is not None, "no preview on the page"
    return found.group(1)


def test_a_disclaimer_with_two_locales_is_created_audited_and_previewed_per_locale(
    client: TestClient, site: WebSite
) -> None:
    csrf = as_role(client, site, "security_admin")
    rule_id = create_disclaimer(client, csrf)
    rule = store(site).get_disclaimer(rule_id)
    assert rule is not None
    assert (rule.version, rule.texts) == (1, TWO_LOCALES)
    audited = latest_change_audited(site)
    assert (audited["action"], audited["details"]["before"]) == ("disclaimer_create", None)
    assert audited["details"]["after"]["texts"]["fr"] == TWO_LOCALES["fr"]
    assert "Recorded line" in client.get("/policies/disclaimers").text

    page = client.get(f"/policies/disclaimers/{rule_id}")
    assert page.status_code == 200
    assert preview_text(page.text) == "Hello Alice Example: Example room is recorded."
    french = client.get(
        f"/policies/disclaimers/{rule_id}", params={"locale": "fr", "participants": "Zoé, Yann", "room": "Salle 3"}
    )
    assert preview_text(french.text) == "Bonjour Zoé : Salle 3 est enregistré."
    canadian = client.get(f"/policies/disclaimers/{rule_id}", params={"locale": "fr-CA"})
    assert preview_text(canadian.text).startswith("Bonjour")
    assert "there is no text for fr-CA" in canadian.text
    german = client.get(f"/policies/disclaimers/{rule_id}", params={"locale": "de"})
    assert preview_text(german.text).startswith("Hello"), "falls back to the default locale"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Hello {{ actor", "Template error: unexpected end of template"),
        ("Hello {{ nobody }}", "Template error: 'nobody' is undefined"),
        ("{{ actor.upper() }}", "Template error: "),
    ],
)
def test_a_template_error_is_shown_next_to_its_text_and_nothing_is_stored(
    client: TestClient, site: WebSite, template: str, message: str
) -> None:
    csrf = as_role(client, site, "security_admin")
    before = len(store(site).disclaimers())
    response = client.post("/policies/disclaimers", data=disclaimer_fields(csrf, {"en": "Fine.", "fr": template}))
    assert response.status_code == 422
    assert "The disclaimer was not created" in response.text
    shown = field_error(response.text, "disclaimer-text_1")
    assert shown.startswith(message.replace("'", "&#39;")), shown
    assert 'aria-invalid="true" aria-describedby="texts-help disclaimer-text_1-error"' in response.text
    assert len(store(site).disclaimers()) == before


def test_a_new_version_keeps_the_history_and_old_versions_preview(client: TestClient, site: WebSite) -> None:
    csrf = as_role(client, site, "admin")
    rule_id = create_disclaimer(client, csrf, name="Versioned")
    path = f"/policies/disclaimers/{rule_id}"
    changed = disclaimer_fields(
        csrf,
        {"en": "Hi {{ actor|upper }}.", "fr": "Salut.", "de": "Hallo {{ participants|join(', ') }}."},
        name="Versioned",
        version="1",
        text_remove="1",
    )
    response = client.post(path, data=changed)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{path}?saved=2"
    rule = store(site).get_disclaimer(rule_id)
    assert rule is not None
    assert (rule.version, sorted(rule.texts)) == (2, ["de", "en"])
    audited = latest_change_audited(site)
    assert audited["action"] == "disclaimer_update"
    assert (audited["details"]["before"]["version"], audited["details"]["after"]["version"]) == (1, 2)

    page = client.get(path).text
    assert "Version 2 (current)" in page
    assert "Version 1, saved" in page
    assert preview_text(page) == "Hi ALICE EXAMPLE."
    old = client.get(path, params={"version": "1", "locale": "fr"}).text
    assert preview_text(old) == "Bonjour Alice Example : Example room est enregistré."
    german = client.get(path, params={"locale": "de"}).text
    assert preview_text(german) == "Hallo Alice Example, Bob Example."

    stale = client.post(path, data={**changed, "name": "From an old tab"})
    assert stale.status_code == 409
    assert "Someone saved version 2 after you opened version 1" in stale.text
    broken = client.post(path, data=disclaimer_fields(csrf, {"en": "{% if %}"}, version="2"))
    assert broken.status_code == 422
    assert field_error(broken.text, "disclaimer-text_0").startswith("Template error:")
    rule = store(site).get_disclaimer(rule_id)
    assert rule is not None
    assert rule.version == 2


def test_bad_disclaimer_input_gets_a_clear_message(client: TestClient, site: WebSite) -> None:
    csrf = as_role(client, site, "security_admin")
    post = "/policies/disclaimers"
    response = client.post(post, data=disclaimer_fields(csrf, TWO_LOCALES, name=""))
    assert (response.status_code, field_error(response.text, "disclaimer-name")) == (422, "Give the disclaimer a name.")
    response = client.post(post, data=disclaimer_fields(csrf, {"fr": "Bonjour."}))
    assert response.status_code == 422
    assert "The default locale en has no text: use one of fr." in field_error(
        response.text, "disclaimer-default_locale"
    )
    response = client.post(post, data=disclaimer_fields(csrf, {"fr": "Un.", "FR": "Deux."}, default_locale="fr"))
    assert response.status_code == 422
    assert "FR is there twice" in field_error(response.text, "disclaimer-text_1")
    response = client.post(post, data=disclaimer_fields(csrf, TWO_LOCALES, trigger="group_membership"))
    assert response.status_code == 422
    assert "needs the group" in field_error(response.text, "disclaimer-group_id")
    response = client.post(
        post, data=disclaimer_fields(csrf, TWO_LOCALES, trigger="group_membership", group_id="group:nobody")
    )
    assert response.status_code == 409
    assert "names unknown group group:nobody" in response.text
    response = client.post(post, data=disclaimer_fields(csrf, {"en fr": "Hello."}, default_locale="en fr"))
    assert response.status_code == 422
    assert "String should match pattern" in field_error(response.text, "disclaimer-text_0")


# --- groups -------------------------------------------------------------------------------------------


def create_group(client: TestClient, csrf: str, group_id: str, **fields: str) -> str:
    form = {"csrf": csrf, "id": group_id, "name": fields.pop("name", group_id), **fields}
    response = client.post("/policies/groups", data=form)
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location.split("?", 1)[0]


def test_groups_are_created_and_members_and_subgroups_change_audited(client: TestClient, site: WebSite) -> None:
    csrf = as_role(client, site, "security_admin")
    traders = create_group(client, csrf, "group:traders", name="Traders", members="user:ann, user:bob")
    assert traders == "/policies/groups/group%3Atraders"
    page = client.get(f"{traders}?done=created")
    assert page.status_code == 200
    assert "Group created." in page.text
    assert "user:ann" in page.text
    audited = latest_change_audited(site)
    assert (audited["action"], audited["details"]["before"]) == ("directory_group_put", None)
    assert audited["details"]["after"]["members"] == ["user:ann", "user:bob"]

    assert (
        client.post(traders, data={"csrf": csrf, "change": "add_members", "members": "user:cy user:ann"}).status_code
        == 303
    )
    assert "Members added." in client.get(f"{traders}?done=add_members").text
    removed = client.post(traders, data={"csrf": csrf, "change": "remove_members", "remove_members": ["user:ann"]})
    assert removed.status_code == 303
    group = store(site).get_group("group:traders")
    assert group is not None
    assert group.members == ("user:bob", "user:cy")
    audited = latest_change_audited(site)
    assert audited["details"]["before"]["members"] == ["user:ann", "user:bob", "user:cy"]
    assert audited["details"]["after"]["members"] == ["user:bob", "user:cy"]

    create_group(client, csrf, "group:desk-1")
    assert (
        client.post(traders, data={"csrf": csrf, "change": "add_subgroups", "subgroups": "group:desk-1"}).status_code
        == 303
    )
    assert client.post(traders, data={"csrf": csrf, "change": "rename", "name": "Trading floor"}).status_code == 303
    group = store(site).get_group("group:traders")
    assert group is not None
    assert (group.name, group.subgroups) == ("Trading floor", ("group:desk-1",))
    assert (
        client.post(
            traders, data={"csrf": csrf, "change": "remove_subgroups", "remove_subgroups": "group:desk-1"}
        ).status_code
        == 303
    )
    group = store(site).get_group("group:traders")
    assert group is not None
    assert group.subgroups == ()


def test_the_stores_refusals_of_group_changes_are_shown_as_409(client: TestClient, site: WebSite) -> None:
    csrf = as_role(client, site, "admin")
    outer = create_group(client, csrf, "group:outer")
    inner = create_group(client, csrf, "group:inner")
    assert (
        client.post(outer, data={"csrf": csrf, "change": "add_subgroups", "subgroups": "group:inner"}).status_code
        == 303
    )

    cycle = client.post(inner, data={"csrf": csrf, "change": "add_subgroups", "subgroups": "group:outer"})
    assert cycle.status_code == 409
    assert "The subgroups were not changed:" in cycle.text
    assert "subgroup cycle: group:inner -&gt; group:outer -&gt; group:inner" in cycle.text
    unknown = client.post(inner, data={"csrf": csrf, "change": "add_subgroups", "subgroups": "group:ghost"})
    assert unknown.status_code == 409
    assert "unknown subgroups group:ghost" in unknown.text
    itself = client.post(inner, data={"csrf": csrf, "change": "add_subgroups", "subgroups": "group:inner"})
    assert itself.status_code == 422
    assert field_error(itself.text, "group-subgroups") == "A group cannot be its own subgroup."
    nothing = client.post(inner, data={"csrf": csrf, "change": "remove_members"})
    assert nothing.status_code == 422
    taken = client.post("/policies/groups", data={"csrf": csrf, "id": "group:outer", "name": "Again"})
    assert taken.status_code == 409
    assert "a group with id group:outer already exists" in taken.text
    nameless = client.post("/policies/groups", data={"csrf": csrf, "id": "", "name": ""})
    assert nameless.status_code == 422
    assert field_error(nameless.text, "group-id").startswith("Give the group an id")

    still_named = client.post(inner, data={"csrf": csrf, "change": "delete", "confirm": "yes"})
    assert still_named.status_code == 409
    assert "group group:outer has group:inner as a subgroup" in still_named.text
    assert store(site).get_group("group:inner") is not None
    group = store(site).get_group("group:inner")
    assert group is not None
    assert group.subgroups == (), "nothing refused was stored"

    wall_id = add_wall(client, csrf, "Outer | Bob", "group:outer", "user:bob")
    refused = client.post(outer, data={"csrf": csrf, "change": "delete", "confirm": "yes"})
    assert refused.status_code == 409
    assert f"wall {wall_id} (Outer | Bob) names group:outer" in refused.text
    assert "Outer | Bob" in client.get(outer).text, "the page says what names the group"


def test_a_group_is_removed_and_ids_with_slashes_work(client: TestClient, site: WebSite) -> None:
    csrf = as_role(client, site, "security_admin")
    path = create_group(client, csrf, "dept/legal#1", name="Legal, first floor")
    assert path == "/policies/groups/dept%2Flegal%231"
    assert client.get(path).status_code == 200
    assert client.post(path, data={"csrf": csrf, "change": "add_members", "members": "user:q"}).status_code == 303
    group = store(site).get_group("dept/legal#1")
    assert group is not None
    assert group.members == ("user:q",)
    unconfirmed = client.post(path, data={"csrf": csrf, "change": "delete"})
    assert unconfirmed.status_code == 422
    removed = client.post(path, data={"csrf": csrf, "change": "delete", "confirm": "yes"})
    assert removed.status_code == 303
    assert "removed" in client.get(removed.headers["location"]).text
    assert store(site).get_group("dept/legal#1") is None
    audited = latest_change_audited(site)
    assert (audited["action"], audited["details"]["after"]) == ("directory_group_delete", None)
    assert client.get(path).status_code == 404


# --- the what-if --------------------------------------------------------------------------------------


SIMULATION = {
    "name": "Mexel | Jack_Sparrow",
    "side_a": "user:Mexel",
    "side_b": "user:Jack_Sparrow",
    "mode": "block",
    "scopes": ["room_post", "room_join"],
    "since": "2007-09-01T00:00",
    "until": "2007-10-01T00:00",
    "max_rooms": "200",
}


def test_the_what_if_lists_the_rooms_a_proposed_wall_would_have_blocked(client: TestClient, site: WebSite) -> None:
    csrf = as_role(client, site, "security_admin")
    page = client.get("/policies/simulate")
    assert page.status_code == 200
    answer = client.post("/policies/simulate", data={**SIMULATION, "csrf": csrf})
    assert answer.status_code == 200, answer.text
    summary = re.search(r'<p role="status" id="simulation-summary">(.*?)</p>', answer.text, re.S)
    assert summary is not None
    assert "Between 2007-09-01 00:00 and 2007-10-01 00:00 UTC" in summary.group(1)
    assert "would have been blocked" in summary.group(1)
    assert "#ubuntu" in answer.text
    assert "<td>room_post</td>" in answer.text
    assert "<td>room_join</td>" in answer.text
    assert "user:Mexel → user:Jack_Sparrow" in answer.text
    audited = latest_change_audited(site)
    assert audited["action"] == "policy_simulate"
    assert audited["details"]["wall"]["name"] == "Mexel | Jack_Sparrow"
    assert audited["details"]["rooms"] == 2

    quiet = client.post(
        "/policies/simulate", data={**SIMULATION, "since": "2001-01-01", "until": "2001-02-01", "csrf": csrf}
    )
    assert "nothing would have been blocked or flagged" in quiet.text
    backwards = client.post("/policies/simulate", data={**SIMULATION, "until": "2007-08-01", "csrf": csrf})
    assert backwards.status_code == 422
    assert field_error(backwards.text, "wall-until") == "“Replay until” must be later than “Replay from”."
    sideless = client.post("/policies/simulate", data={**SIMULATION, "side_b": "", "max_rooms": "0", "csrf": csrf})
    assert sideless.status_code == 422
    assert field_error(sideless.text, "wall-side_b") == "Side B needs at least one group or user id."
    assert field_error(sideless.text, "wall-max_rooms") == "List between 1 and 10000 rooms."


def test_the_what_if_starts_from_an_existing_wall(client: TestClient, site: WebSite) -> None:
    csrf = as_role(client, site, "security_admin")
    wall_id = add_wall(client, csrf, "Prefilled wall", "user:pat", "user:quinn")
    assert f'href="/policies/simulate?wall={wall_id}"' in client.get(f"/policies/walls/{wall_id}").text
    page = client.get("/policies/simulate", params={"wall": wall_id})
    assert 'value="Prefilled wall"' in page.text
    assert 'value="user:quinn"' in page.text


# --- roles and CSRF -----------------------------------------------------------------------------------


def test_auditors_read_every_policies_page_without_write_forms_and_may_not_post(
    client: TestClient, site: WebSite
) -> None:
    csrf = as_role(client, site, "admin")
    wall_id = add_wall(client, csrf, "For auditors", "user:ro", "user:sam")
    rule_id = create_disclaimer(client, csrf, name="For auditors")
    group = create_group(client, csrf, "group:auditable", members="user:ro")
    csrf = as_role(client, site, "auditor")
    for path, write_form in (
        (f"/policies/walls/{wall_id}", "Change this wall"),
        ("/policies/disclaimers", "New disclaimer"),
        (f"/policies/disclaimers/{rule_id}", "New version"),
        ("/policies/groups", "New group"),
        (group, "Add members"),
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert write_form not in page.text, path
        assert page.text.count('name="csrf"') == 1, f"{path}: only the sign-out form"
        assert "What-if" not in page.text, "no link to a page the role may not use"
    assert client.get(f"/policies/disclaimers/{rule_id}", params={"locale": "fr"}).status_code == 200, "preview"
    assert client.get("/policies/simulate").status_code == 403
    for path, data in (
        (f"/policies/walls/{wall_id}", wall_fields(csrf, 1)),
        (f"/policies/walls/{wall_id}/delete", {"confirm": "yes"}),
        ("/policies/disclaimers", disclaimer_fields(csrf, TWO_LOCALES)),
        (f"/policies/disclaimers/{rule_id}", disclaimer_fields(csrf, TWO_LOCALES)),
        ("/policies/groups", {"id": "group:sneaky", "name": "x"}),
        (group, {"change": "add_members", "members": "user:eve"}),
        ("/policies/simulate", SIMULATION),
    ):
        assert client.post(path, data={**data, "csrf": csrf}).status_code == 403, path
    assert store(site).get_wall(wall_id) is not None
    assert store(site).get_group("group:sneaky") is None

    as_role(client, site, "legal")
    for path in (
        f"/policies/walls/{wall_id}",
        "/policies/disclaimers",
        f"/policies/disclaimers/{rule_id}",
        "/policies/groups",
        group,
        "/policies/simulate",
    ):
        assert client.get(path).status_code == 403, path


def test_every_policies_post_needs_the_sessions_csrf_token(client: TestClient, site: WebSite) -> None:
    csrf = as_role(client, site, "admin")
    wall_id = add_wall(client, csrf, "CSRF wall", "user:tia", "user:ula")
    rule_id = create_disclaimer(client, csrf, name="CSRF rule")
    group = create_group(client, csrf, "group:csrf")
    posts: list[tuple[str, dict[str, Any]]] = [
        (f"/policies/walls/{wall_id}", wall_fields("", 1, name="Forged")),
        (f"/policies/walls/{wall_id}/delete", {"confirm": "yes"}),
        ("/policies/disclaimers", disclaimer_fields("", TWO_LOCALES, name="Forged")),
        (f"/policies/disclaimers/{rule_id}", disclaimer_fields("", TWO_LOCALES, name="Forged")),
        ("/policies/groups", {"id": "group:forged", "name": "Forged"}),
        (group, {"change": "rename", "name": "Forged"}),
        ("/policies/simulate", SIMULATION),
    ]
    for path, data in posts:
        for token in ("", "forged"):
            response = client.post(path, data={**data, "csrf": token})
            assert response.status_code == 403, path
            assert "security token is missing or out of date" in response.text
    wall, rule, renamed = (
        store(site).get_wall(wall_id),
        store(site).get_disclaimer(rule_id),
        store(site).get_group("group:csrf"),
    )
    assert wall is not None
    assert wall.name == "CSRF wall"
    assert rule is not None
    assert rule.name == "CSRF rule"
    assert renamed is not None
    assert renamed.name == "group:csrf"
    assert store(site).get_group("group:forged") is None


def test_missing_walls_rules_and_groups_answer_404(client: TestClient, site: WebSite) -> None:
    csrf = as_role(client, site, "security_admin")
    assert client.get("/policies/walls/wall-none").status_code == 404
    assert client.post("/policies/walls/wall-none", data=wall_fields(csrf, 1)).status_code == 404
    assert client.get("/policies/disclaimers/disclaimer-none").status_code == 404
    assert (
        client.post("/policies/disclaimers/disclaimer-none", data=disclaimer_fields(csrf, TWO_LOCALES)).status_code
        == 404
    )
    assert client.get("/policies/groups/group:none").status_code == 404
    response = client.post(
        "/policies/groups/group:none", data={"csrf": csrf, "change": "add_members", "members": "user:x"}
    )
    assert response.status_code == 404


# --- the forms on their own ---------------------------------------------------------------------------


def test_dates_are_read_as_utc_unless_they_say_otherwise() -> None:
    assert parse_moment("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_moment("2026-03-01T09:30") == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert parse_moment("2026-03-01 09:30:15") == datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)
    assert parse_moment("2026-03-01T09:30+01:00") == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_moment("01/03/2026")


def test_the_wall_form_drops_empty_and_removed_exception_rows_and_round_trips() -> None:
    form = WallForm.of_fields(
        {
            "name": [" Desk "],
            "side_a": ["group:a, user:x"],
            "side_b": ["group:b"],
            "scopes": ["im"],
            "exception_name": ["Kept", "Dropped", ""],
            "exception_who": ["user:x", "user:y", ""],
            "exception_with": ["", "", ""],
            "exception_remove": ["1"],
            "version": ["4"],
        }
    )
    assert [row.name for row in form.exceptions] == ["Kept"]
    assert (form.name, form.version, form.enabled, form.mode) == ("Desk", 4, True, "block")
    spec = form.spec()
    assert spec.side_a == (Segment(kind="group", id="group:a"), Segment(kind="user", id="user:x"))
    assert spec.exceptions[0].with_whom == ()
    again = WallForm.of_wall(spec, 4)
    assert again.spec() == spec
    assert [row.new for row in again.rows()] == [False, True]


def test_the_wall_form_reports_every_problem_at_once() -> None:
    with pytest.raises(FormProblems) as refused:
        WallForm(name="", side_a="", side_b="x", mode="shout", scopes=[]).spec()
    assert set(refused.value.problems) == {"name", "side_a", "mode", "scopes"}


def test_the_disclaimer_form_normalises_line_ends_and_checks_each_template() -> None:
    form = DisclaimerForm.of_fields(
        {
            "name": ["Notice"],
            "trigger": ["room_join"],
            "default_locale": ["en"],
            "text_locale": ["en", "fr", ""],
            "text_body": ["Line one\r\nLine two\r\n", "{{ room", ""],
        }
    )
    assert form.texts[0].text == "Line one\nLine two"
    with pytest.raises(FormProblems) as refused:
        form.spec()
    assert list(refused.value.problems) == ["text_1"]
    assert refused.value.problems["text_1"].startswith("Template error: ")
    assert len(form.rows()) == 3


def test_the_simulation_form_merges_the_walls_and_the_windows_problems() -> None:
    with pytest.raises(FormProblems) as refused:
        SimulationForm(WallForm(name="W", side_a="user:a", side_b=""), since="later", until="", max_rooms="x").request()
    assert set(refused.value.problems) == {"side_b", "since", "max_rooms"}
    asked = SimulationForm(WallForm(name="W", side_a="user:a", side_b="user:b"), since="2020-01-01").request()
    assert asked.since == datetime(2020, 1, 1, tzinfo=UTC)
    assert (asked.until, asked.max_rooms) == (None, 200)
