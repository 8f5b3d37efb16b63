"""A case's own forms: change what it says (name, description, custodians, rooms, dates), close
it, save a search to it (the query is checked by the search parser) or remove one, and add a
note. Each runs :mod:`cases.service` as the API does, so it is stored and audited
(``case_update``, ``case_close``, ``case_search_add``, ``case_search_remove``,
``case_note_add``) as over the API.

The store cannot reopen a closed case, so neither can the page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cases import service
from cases.model import NoteSpec, SavedSearchSpec
from search_api.web.case_forms import FormProblem
from search_api.web.case_view import case_change
from search_api.web.cases_page import CASE_FIELDS, case_spec
from search_api.web.core import WebUser, services

router = APIRouter()
CLOSE_CONFIRMATION = "Tick the box to confirm: a closed case cannot be changed or reopened."


@router.post("/cases/{case_id}/edit", include_in_schema=False)
async def edit_case(request: Request, case_id: str) -> Response:
    def change(user: WebUser, form: dict[str, str]) -> object:
        return service.change_case(services(request).engine, user.principal, case_id, case_spec(form))

    return await case_change(request, case_id, "edit", CASE_FIELDS, change, "facts")


@router.post("/cases/{case_id}/close", include_in_schema=False)
async def close_case(request: Request, case_id: str) -> Response:
    def change(user: WebUser, form: dict[str, str]) -> object:
        if form["confirm"] != "yes":
            raise FormProblem(CLOSE_CONFIRMATION)
        return service.close_case(services(request).engine, user.principal, case_id)

    return await case_change(request, case_id, "close", ("confirm",), change, "facts")


@router.post("/cases/{case_id}/searches", include_in_schema=False)
async def add_search(request: Request, case_id: str) -> Response:
    def change(user: WebUser, form: dict[str, str]) -> object:
        spec = SavedSearchSpec(name=form["name"] or form["query"][:80], query=form["query"])
        return service.add_search(services(request).engine, user.principal, case_id, spec)

    return await case_change(request, case_id, "search", ("name", "query"), change, "searches")


@router.post("/cases/{case_id}/searches/{search_id}/remove", include_in_schema=False)
async def remove_search(request: Request, case_id: str, search_id: str) -> Response:
    def change(user: WebUser, _form: dict[str, str]) -> object:
        return service.remove_search(services(request).engine, user.principal, case_id, search_id)

    return await case_change(request, case_id, "searches", (), change, "searches")


@router.post("/cases/{case_id}/notes", include_in_schema=False)
async def add_note(request: Request, case_id: str) -> Response:
    def change(user: WebUser, form: dict[str, str]) -> object:
        return service.add_note(services(request).engine, user.principal, case_id, NoteSpec(text=form["text"]))

    return await case_change(request, case_id, "note", ("text",), change, "notes")
