"""Create a sandbox: pick services from the catalog, see what the data-isolation policy
does to each, and submit. The services layer validates; errors come back inline."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from sandboxes import selectors, services
from sandboxes.errors import Conflict, NotAllowed, QuotaExceeded, ValidationFailed
from sandboxes.forms import EnvRow, SandboxDraft
from sandboxes.models import BaselineService, Profile, Sandbox, Tenant
from sandboxes.policies import plan_data_isolation
from sandboxes.validation import ascii_int
from sandboxes.views._common import UNPROCESSABLE, render_page_or_partial, wants_partial

TEMPLATE = "sandboxes/create.html"


def _default_tenant(user: Any, tenants: list[Tenant]) -> Tenant | None:
    own = [t for t in tenants if t.owner_id == user.pk]
    return (own or tenants or [None])[0]


def _catalog_for(user: Any, tenant: Tenant | None) -> list[BaselineService]:
    """Catalog entries in the namespaces the tenant's team may use."""
    if tenant is None:
        return []
    namespaces = tenant.team.allowed_namespaces or []
    # A retired entry takes no new forks (sandboxes/catalog/): not offered here.
    return list(
        selectors.baseline_services_for_user(user).filter(
            namespace__in=namespaces, retired_at__isnull=True
        )
    )


def _context(user: Any, draft: SandboxDraft, tenants: list[Tenant]) -> dict[str, Any]:
    tenant = next((t for t in tenants if t.pk == draft.tenant_id), None)
    team = tenant.team if tenant else None
    plans: dict[str, Any] = {}
    if team is not None:
        prefetch_related_objects([team], "policy__rules__baseline")
        profile = draft.profile if draft.profile in Profile.values else Profile.DEV
        for fork in draft.forks:
            plans[fork.name] = plan_data_isolation(team, fork.baseline, profile)
    return {
        "draft": draft,
        "tenants": tenants,
        "tenant": tenant,
        "team": team,
        "plans": plans,
        "profiles": Profile.choices,
        "max_ttl_hours": int(team.max_ttl.total_seconds() // 3600) if team else None,
        "form_url": reverse("sandbox_create"),
    }


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def sandbox_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    tenants = list(selectors.tenants_for_user(user))
    if request.method == "GET":
        source = _duplicate_source(request)
        if source is not None:
            # Duplicate as new: the source's spec, a name to choose.
            draft = SandboxDraft.from_sandbox(source, _catalog_for(user, source.tenant))
            draft.name = ""
            draft.ttl_hours = SandboxDraft.initial(source.tenant, []).ttl_hours
            return render(request, TEMPLATE, _context(user, draft, tenants))
        tenant = _default_tenant(user, tenants)
        draft = SandboxDraft.initial(tenant, _catalog_for(user, tenant))
        return render(request, TEMPLATE, _context(user, draft, tenants))

    posted_tenant_id = ascii_int(request.POST.get("tenant", ""))
    tenant = next((t for t in tenants if t.pk == posted_tenant_id), None)
    draft = SandboxDraft.from_post(request.POST, _catalog_for(user, tenant))

    if "preview" in request.POST:
        # The tenant (so the team and its policy) or the profile changed: re-render the
        # catalog with the new plan, keeping what was typed.
        context = _context(user, draft, tenants)
        return render_page_or_partial(request, TEMPLATE, "catalog", context)
    if "add_env" in request.POST or "remove_env" in request.POST:
        # Without JavaScript, adding and removing env rows is a round trip of the form.
        _edit_env_rows(draft, request.POST)
        return render(request, TEMPLATE, _context(user, draft, tenants))

    if tenant is None:
        draft.errors["tenant"] = ["Choose one of your team's tenants."]
    else:
        try:
            kwargs = draft.service_kwargs()
            if not draft.errors:
                sandbox = services.sandbox_create(actor=user, tenant=tenant, **kwargs)
                url = reverse("sandbox_detail", args=[sandbox.pk])
                if request.htmx:
                    return HttpResponseClientRedirect(url)
                return redirect(url, permanent=False)
        except ValidationFailed as exc:
            draft.apply_errors(exc.fields)
        except (QuotaExceeded, NotAllowed) as exc:
            draft.errors["__all__"] = [exc.message]
    context = _context(user, draft, tenants)
    return render_page_or_partial(request, TEMPLATE, "create-form", context, status=UNPROCESSABLE)


def _duplicate_source(request: HttpRequest) -> Sandbox | None:
    source_id = ascii_int(request.GET.get("from", ""))
    if source_id is None:
        return None
    return (
        selectors.sandboxes_for_user(request.user)
        .filter(pk=source_id, deleted_at__isnull=True)
        .select_related("tenant__team")
        .first()
    )


def _edit_env_rows(draft: SandboxDraft, data: Any) -> None:
    if fork := draft.fork(data.get("add_env", "")):
        fork.chosen = True
        fork.env.append(EnvRow())
    service, _, index = data.get("remove_env", "").partition(":")
    position = ascii_int(index)
    if (fork := draft.fork(service)) and position is not None and 0 <= position < len(fork.env):
        del fork.env[position]


@require_GET
@login_required
def sandbox_env_row(request: HttpRequest) -> HttpResponse:
    """One empty env row for a service's card (htmx appends it)."""
    service = request.GET.get("service", "")
    if not selectors.baseline_services_for_user(request.user).filter(name=service).exists():
        return HttpResponse("Unknown service.", status=404)
    context = {"fork": {"name": service}, "row": EnvRow(), "focus": True}
    if not wants_partial(request, f"env-{service}"):
        # Only htmx uses this; a plain GET goes back to the form.
        return redirect("sandbox_create")
    return render(request, f"{TEMPLATE}#env-row", context)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def sandbox_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a sandbox's forks (image, env, replicas, which services), profile and
    description, and redeploy: `services.sandbox_update` bumps the generation and, for
    a prod-like sandbox, asks for a new approval. `?duplicate=1` on the create page
    starts a new sandbox from this one instead."""
    user = request.user
    sandbox = (
        selectors.sandboxes_for_user(user).filter(pk=pk).select_related("tenant__team").first()
    )
    if sandbox is None or sandbox.deleted_at is not None:
        raise Http404("No such sandbox.")
    tenants = [sandbox.tenant]
    catalog = _catalog_for(user, sandbox.tenant)
    if request.method == "GET":
        draft = SandboxDraft.from_sandbox(sandbox, catalog)
        return render(request, TEMPLATE, _edit_context(user, draft, tenants, sandbox))

    draft = SandboxDraft.from_post(request.POST, catalog)
    draft.tenant_id, draft.name = sandbox.tenant_id, sandbox.name
    if "add_env" in request.POST or "remove_env" in request.POST:
        _edit_env_rows(draft, request.POST)
        return render(request, TEMPLATE, _edit_context(user, draft, tenants, sandbox))
    try:
        kwargs = draft.service_kwargs()
        if not draft.errors:
            services.sandbox_update(
                actor=user,
                sandbox=sandbox,
                forks=kwargs["forks"],
                profile=kwargs["profile"],
                description=kwargs["description"],
                approval_note=kwargs["approval_note"],
            )
            url = reverse("sandbox_detail", args=[sandbox.pk])
            if request.htmx:
                return HttpResponseClientRedirect(url)
            return redirect(url, permanent=False)
    except ValidationFailed as exc:
        draft.apply_errors(exc.fields)
    except (Conflict, NotAllowed) as exc:
        draft.errors["__all__"] = [exc.message]
    context = _edit_context(user, draft, tenants, sandbox)
    return render_page_or_partial(request, TEMPLATE, "create-form", context, status=UNPROCESSABLE)


def _edit_context(
    user: Any, draft: SandboxDraft, tenants: list[Tenant], sandbox: Sandbox
) -> dict[str, Any]:
    return {
        **_context(user, draft, tenants),
        "editing": sandbox,
        "form_url": reverse("sandbox_edit", args=[sandbox.pk]),
    }
