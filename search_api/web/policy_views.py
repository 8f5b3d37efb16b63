"""What the policies pages share: the policy services, the sections' navigation, and rendering
with the fields every policies page uses."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from policies.model import ACTIONS
from search_api.policy_services import PolicyServices, policy_services_of
from search_api.web.core import WebUser, render, services
from search_api.web.policy_forms import MODES, TRIGGERS

SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("/policies", "Walls and checks", "policy_read"),
    ("/policies/disclaimers", "Disclaimers", "policy_read"),
    ("/policies/groups", "Groups", "policy_read"),
    ("/policies/simulate", "What-if", "policy_write"),
)
"""The policies pages' own navigation: path, label, permission."""


def policies_of(request: Request) -> PolicyServices:
    app = services(request)
    return policy_services_of(request, app.engine, app.sink)


def render_policy_page(
    request: Request,
    user: WebUser,
    template: str,
    context: dict[str, Any],
    section: str,
    status_code: int = 200,
) -> HTMLResponse:
    """A policies page with the sections' navigation (``section`` is the current one's path)."""
    sections = [
        {"path": path, "label": label, "current": path == section}
        for path, label, permission in SECTIONS
        if user.may(permission)
    ]
    shared = {
        "sections": sections,
        "may_write": user.may("policy_write"),
        "actions": ACTIONS,
        "modes": MODES,
        "triggers": TRIGGERS,
        "problems": {},
    }
    return render(request, template, {**shared, **context}, user=user, status_code=status_code)


def missing(request: Request, user: WebUser, what: str) -> Response:
    """The 404 page for a wall, disclaimer or group that is not there (any more)."""
    return render(
        request,
        "error.html",
        {"title": "Not found", "message": f"There is no {what}: it may have been removed."},
        user=user,
        status_code=404,
    )
