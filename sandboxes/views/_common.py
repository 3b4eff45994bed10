"""Helpers shared by the browser views: partial-or-page rendering and role checks."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sandboxes import selectors
from sandboxes.models import Role, Team

# htmx swaps 2xx and these: a form that comes back with its errors beside the inputs.
UNPROCESSABLE = 422
CONFLICT = 409
FORBIDDEN = 403


def wants_partial(request: HttpRequest, target: str) -> bool:
    """True when htmx asked for exactly this piece of the page.

    Navigation links also go through htmx (`hx-get` with `hx-select="#main"`), and a
    history restore needs the whole page, so a partial is only sent when the request
    targets the element the partial renders.
    """
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request and htmx.target == target


def render_page_or_partial(
    request: HttpRequest,
    template: str,
    partial: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    target: str | None = None,
) -> HttpResponse:
    """The partial `template#partial` for htmx requests aimed at it, else the page."""
    name = f"{template}#{partial}" if wants_partial(request, target or partial) else template
    return render(request, name, context, status=status)


def require_lead(user: Any, team: Team) -> None:
    """Refuse (403) anyone who is not a lead of `team`; the template hides the controls,
    this makes sure the server refuses too."""
    if selectors.role_in_team(user, team) != Role.LEAD:
        raise PermissionDenied("Only a lead of the team can decide approvals.")
