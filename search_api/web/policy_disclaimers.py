"""``/policies/disclaimers``: the disclaimer rules, a new rule, and a rule's page with its
version history, a new version and a preview of the rendered text for a locale.

Creating and saving run the service functions of ``POST`` and ``PUT /api/v1/policy/disclaimers``
(stored, audited with before and after, seen by the live snapshot); the texts are checked
first with :func:`policies.disclaimers.validate_templates`, so a template error is shown next
to its text. The preview renders a stored version exactly as a check would
(:class:`policies.disclaimers.CompiledRule`), with the sample names and room typed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from policies.disclaimers import CompiledRule, TextVariables, normalize_locale
from policies.model import Disclaimer, DisclaimerRule
from search_api import policy_services
from search_api.refusals import Refused
from search_api.web.auth import first, posted
from search_api.web.core import WebUser, gate, services
from search_api.web.policy_forms import DisclaimerForm, FormProblems
from search_api.web.policy_views import missing, policies_of, render_policy_page

router = APIRouter()
SECTION = "/policies/disclaimers"
MAX_VERSIONS = 100
"""Versions listed on a rule's page, newest first."""
SAMPLE_PARTICIPANTS = "Alice Example, Bob Example"
SAMPLE_ROOM = "Example room"
"""What the preview renders with until other names are typed in."""


@dataclass(frozen=True)
class Preview:
    requested: str
    shown: Disclaimer
    participants: str
    room: str

    @property
    def fell_back(self) -> bool:
        """The reader's locale has no text of its own: they see another one."""
        return normalize_locale(self.requested) != normalize_locale(self.shown.locale)


def preview(rule: DisclaimerRule, locale: str, participants: str, room: str) -> Preview:
    """The text a reader in ``locale`` would see from ``rule``, rendered as a check renders it."""
    names = [name.strip() for name in participants.split(",") if name.strip()]
    variables = TextVariables.of(names, room, datetime.now(UTC))
    shown = CompiledRule.of(rule).render(locale or rule.default_locale, variables)
    return Preview(locale or rule.default_locale, shown, participants, room)


# --- the list and a new rule ------------------------------------------------------------------------


async def _list_page(
    request: Request, user: WebUser, extra: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    rules = await run_in_threadpool(policies_of(request).store.disclaimers)
    context: dict[str, Any] = {"title": "Disclaimers", "rules": rules, "form": DisclaimerForm(), **(extra or {})}
    return render_policy_page(request, user, "disclaimers.html", context, SECTION, status_code)


@router.get("/policies/disclaimers", include_in_schema=False)
async def disclaimers_page(request: Request) -> Response:
    user = await gate(request, "policy_read")
    if not isinstance(user, WebUser):
        return user
    return await _list_page(request, user)


@router.post("/policies/disclaimers", include_in_schema=False)
async def create_disclaimer(request: Request) -> Response:
    found = await posted(request, "policy_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = DisclaimerForm.of_fields(fields)
    try:
        spec = form.spec()
        rule = await run_in_threadpool(
            policy_services.create_disclaimer, services(request), policies_of(request), user.principal, spec
        )
    except FormProblems as error:
        return await _list_page(request, user, {"form": form, "problems": error.problems}, 422)
    except Refused as error:
        return await _list_page(request, user, {"form": form, "problems": {"": error.message}}, error.status)
    return RedirectResponse(f"/policies/disclaimers/{rule.id}?saved={rule.version}", status_code=303)


# --- one rule ---------------------------------------------------------------------------------------


def _rule_view(request: Request, rule_id: str) -> dict[str, Any] | None:
    store = policies_of(request).store
    rule = store.get_disclaimer(rule_id)
    if rule is None:
        return None
    versions = store.disclaimer_history(rule_id, MAX_VERSIONS)
    asked = request.query_params
    chosen = next((v.rule for v in versions if str(v.rule.version) == asked.get("version")), rule)
    participants = asked.get("participants", SAMPLE_PARTICIPANTS)
    shown = preview(chosen, asked.get("locale", "").strip(), participants, asked.get("room", SAMPLE_ROOM))
    return {"rule": rule, "versions": versions, "preview_of": chosen, "preview": shown}


async def _rule_page(
    request: Request,
    user: WebUser,
    rule_id: str,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    view = await run_in_threadpool(_rule_view, request, rule_id)
    if view is None:
        return missing(request, user, f"disclaimer rule {rule_id!r}")
    context: dict[str, Any] = {
        "title": f"Disclaimer: {view['rule'].name}",
        "form": DisclaimerForm.of_rule(view["rule"]),
        "form_version": view["rule"].version,
        "saved": request.query_params.get("saved"),
        **view,
        **(extra or {}),
    }
    return render_policy_page(request, user, "disclaimer.html", context, SECTION, status_code)


@router.get("/policies/disclaimers/{rule_id}", include_in_schema=False)
async def disclaimer_page(request: Request, rule_id: str) -> Response:
    user = await gate(request, "policy_read")
    if not isinstance(user, WebUser):
        return user
    return await _rule_page(request, user, rule_id)


@router.post("/policies/disclaimers/{rule_id}", include_in_schema=False)
async def new_version(request: Request, rule_id: str) -> Response:
    found = await posted(request, "policy_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = DisclaimerForm.of_fields(fields)
    opened = first(fields, "version")
    extra: dict[str, Any] = {"form": form, "form_version": opened}
    policies = policies_of(request)
    try:
        spec = form.spec()
        current = await run_in_threadpool(policies.store.get_disclaimer, rule_id)
        if current is None:
            return missing(request, user, f"disclaimer rule {rule_id!r}")
        if opened and opened != str(current.version):
            conflict = (
                f"Someone saved version {current.version} after you opened version {opened}. Your texts are below "
                "and were not saved: reopen the rule to see theirs, then make your change again."
            )
            return await _rule_page(request, user, rule_id, {**extra, "problems": {"": conflict}}, 409)
        rule = await run_in_threadpool(
            policy_services.update_disclaimer, services(request), policies, user.principal, rule_id, spec
        )
    except FormProblems as error:
        return await _rule_page(request, user, rule_id, {**extra, "problems": error.problems}, 422)
    except Refused as error:
        problems = {"": error.message}
        return await _rule_page(request, user, rule_id, {**extra, "problems": problems}, error.status)
    return RedirectResponse(f"/policies/disclaimers/{rule_id}?saved={rule.version}", status_code=303)
