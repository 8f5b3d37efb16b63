"""A case's legal holds: place one (keeping the case's own custodians, rooms and dates, or a
custom scope of custodians, rooms, a search query and dates) and release one. Each runs
:mod:`cases.service` as the API does: a custom scope's query is checked by the search parser
first (a bad one is refused with the character it is at), and the change is audited
``hold_place`` or ``hold_release`` as over the API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cases import service
from cases.model import HoldRelease, HoldScope, HoldSpec
from search_api.web.case_forms import FormProblem, day
from search_api.web.case_view import case_change
from search_api.web.core import WebUser, services
from search_api.web.forms import id_list

router = APIRouter()
SCOPE_FIELDS = {"custodians": "Custodians", "rooms": "Rooms", "query": "Query", "date_from": "From", "date_to": "To"}
HOLD_FIELDS = ("reason", "scope", *SCOPE_FIELDS)


def hold_spec(form: dict[str, str]) -> HoldSpec:
    """The hold the form asks for: ``scope`` "case" keeps the case's own scope (and then the
    custom fields must be empty, so nothing typed is silently ignored), "custom" the fields'."""
    filled = [label for name, label in SCOPE_FIELDS.items() if form[name]]
    if form["scope"] != "custom":
        if filled:
            raise FormProblem(
                f"{', '.join(filled)} filled in, but the hold is to keep the case's own scope: "
                "choose “A custom scope” to use them, or clear them"
            )
        return HoldSpec(reason=form["reason"])
    scope = HoldScope(
        custodians=tuple(id_list(form["custodians"])),
        rooms=tuple(id_list(form["rooms"])),
        query=form["query"] or None,
        date_from=day(form["date_from"], "From"),
        date_to=day(form["date_to"], "To", end=True),
    )
    return HoldSpec(reason=form["reason"], scope=scope)


@router.post("/cases/{case_id}/holds", include_in_schema=False)
async def place_hold(request: Request, case_id: str) -> Response:
    def change(user: WebUser, form: dict[str, str]) -> object:
        return service.place_hold(services(request).engine, user.principal, case_id, hold_spec(form))

    return await case_change(request, case_id, "hold", HOLD_FIELDS, change, "holds")


@router.post("/cases/{case_id}/holds/{hold_id}/release", include_in_schema=False)
async def release_hold(request: Request, case_id: str, hold_id: str) -> Response:
    def change(user: WebUser, form: dict[str, str]) -> object:
        body = HoldRelease(reason=form["reason"])
        return service.release_hold(services(request).engine, user.principal, case_id, hold_id, body.reason)

    return await case_change(request, case_id, "release", ("reason",), change, "holds")
