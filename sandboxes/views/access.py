"""A team's tenants and API tokens: a lead creates a CI tenant and a token for it, sees
the secret once (with a copy button), lists tokens with their last use and revokes
them. Plain forms that post (no JavaScript needed); every write goes through the
services, which check the roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandboxes import selectors, services
from sandboxes.errors import Conflict, NotAllowed, ValidationFailed
from sandboxes.models import Role, Team, TenantKind
from sandboxes.validation import ascii_int
from sandboxes.views._common import UNPROCESSABLE

TEMPLATE = "sandboxes/access.html"
TOKEN_TTL_CHOICES = [
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
    ("", "Never (revoke it by hand)"),
]


def _team(request: HttpRequest, slug: str) -> Team:
    team = selectors.teams_for_user(request.user).filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    return team


def _context(request: HttpRequest, team: Team, **extra: Any) -> dict[str, Any]:
    role = selectors.role_in_team(request.user, team)
    return {
        "team": team,
        "teams": list(selectors.teams_for_user(request.user)),
        "is_lead": role == Role.LEAD,
        "tenants": list(team.tenants.select_related("owner").order_by("name")),
        "tokens": list(
            selectors.tokens_for_user(request.user).filter(team=team).order_by("-created_at")
        ),
        "kinds": TenantKind.choices,
        "ttl_choices": TOKEN_TTL_CHOICES,
        "tenant_errors": {},
        "token_errors": {},
        "tenant_form": {},
        "token_form": {},
        "issued": None,
        **extra,
    }


@require_GET
@login_required
def access_home(request: HttpRequest) -> HttpResponse:
    team = selectors.teams_for_user(request.user).order_by("slug").first()
    if team is None:
        raise Http404("You are not in a team yet.")
    return redirect("team_access", slug=team.slug)


@require_GET
@login_required
def team_access(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, TEMPLATE, _context(request, _team(request, slug)))


@require_POST
@login_required
def tenant_create(request: HttpRequest, slug: str) -> HttpResponse:
    team = _team(request, slug)
    form = {"name": request.POST.get("name", "").strip(), "kind": request.POST.get("kind", "")}
    try:
        tenant = services.tenant_create(
            actor=request.user, team=team, name=form["name"], kind=form["kind"]
        )
    except ValidationFailed as exc:
        context = _context(request, team, tenant_errors=exc.fields, tenant_form=form)
        return render(request, TEMPLATE, context, status=UNPROCESSABLE)
    except (Conflict, NotAllowed) as exc:
        errors = {"name": [exc.message]}
        context = _context(request, team, tenant_errors=errors, tenant_form=form)
        return render(request, TEMPLATE, context, status=409)
    messages.success(request, f"Tenant {tenant.name} created.")
    return redirect("team_access", slug=team.slug)


@never_cache
@require_http_methods(["POST"])
@login_required
def token_issue(request: HttpRequest, slug: str) -> HttpResponse:
    """Shows the secret once, in this response only (never stored, never cached)."""
    team = _team(request, slug)
    form = {
        "name": request.POST.get("name", "").strip(),
        "tenant": request.POST.get("tenant", ""),
        "days": request.POST.get("days", ""),
    }
    errors: dict[str, list[str]] = {}
    tenant = None
    if form["tenant"]:
        tenant_id = ascii_int(form["tenant"])
        tenant = team.tenants.filter(pk=tenant_id).first() if tenant_id is not None else None
        if tenant is None:
            errors["tenant"] = ["Choose one of the team's tenants."]
    days = ascii_int(form["days"]) if form["days"] else None
    if form["days"] and days not in {int(d) for d, _ in TOKEN_TTL_CHOICES if d}:
        errors["days"] = ["Choose one of the listed lifetimes."]
    if not errors:
        try:
            issued = services.token_issue(
                actor=request.user,
                team=team,
                name=form["name"],
                tenant=tenant,
                ttl=timedelta(days=days) if days else None,
            )
        except ValidationFailed as exc:
            errors = exc.fields
        except (Conflict, NotAllowed) as exc:
            errors = {"name": [exc.message]}
        else:
            return render(request, TEMPLATE, _context(request, team, issued=issued))
    context = _context(request, team, token_errors=errors, token_form=form)
    return render(request, TEMPLATE, context, status=UNPROCESSABLE)


@require_POST
@login_required
def token_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team = _team(request, slug)
    token = selectors.tokens_for_user(request.user).filter(team=team, pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    try:
        services.token_revoke(actor=request.user, token=token)
    except NotAllowed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Token {token.name} revoked: it no longer works.")
    return redirect("team_access", slug=team.slug)
