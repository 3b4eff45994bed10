"""One sandbox: status, forks, expiry, routes, audit, header snippets; extend, delete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from routing import snippets as rs
from sandboxes import conditions as c
from sandboxes import selectors, services
from sandboxes.api import snippets as api_snippets
from sandboxes.errors import Conflict, NotAllowed, ValidationFailed
from sandboxes.forms import ExtendForm
from sandboxes.models import ApprovalState, Role, Sandbox
from sandboxes.owned_objects import applied_yaml
from sandboxes.reconcile import manifest_dir
from sandboxes.views._common import (
    CONFLICT,
    UNPROCESSABLE,
    render_page_or_partial,
    wants_partial,
)

TEMPLATE = "sandboxes/detail.html"
POLL_SECONDS = 2
AUDIT_LIMIT = 50


def _get_sandbox(request: HttpRequest, pk: int) -> Sandbox:
    try:
        return selectors.sandbox_get(request.user, pk=pk, manifests=True)
    except Sandbox.DoesNotExist as exc:
        raise Http404("No such sandbox.") from exc


def _routes_yaml(sandbox: Sandbox) -> str:
    """What the reconciler last applied for this sandbox, as YAML.

    The reconciler stores only what this sandbox's people may read: its own rule of a
    shared VirtualService (other teams' keys are not theirs to see) and masked
    baseline env values. Linkerd 1 forks have no objects; their dtab is a snippet."""
    if sandbox.is_deleting:
        return "# Being deleted: the routes are coming down.\n"
    if not sandbox.applied_manifests:
        return "# Nothing applied yet: the reconciler has not programmed this sandbox.\n"
    return applied_yaml(sandbox)


@dataclass(frozen=True)
class Snippet:
    slug: str
    title: str
    text: str
    help: str = ""
    more: bool = False  # shown under "More snippets"
    note: str = ""  # what the tool does with your own baggage, and how it is tested
    unavailable: str = ""  # why there is no text (e.g. mirrord without container ports)


PRIMARY_SNIPPETS = {"curl", "header", "baggage", "modheader", "dtab"}
SNIPPET_TITLES = {
    "curl": ("curl", "Sends the dedicated header and the baggage member."),
    "header": ("Dedicated header", "For clients that cannot set baggage."),
    "baggage": (
        "W3C baggage member",
        "Append this member to the baggage your client already sends.",
    ),
    "modheader": (
        "Browser extension import (ModHeader)",
        "Sets only the dedicated header: an extension cannot append to baggage.",
    ),
    "dtab": (
        "Linkerd 1 dtab override",
        "Linkerd 1 routes by this header, not by objects; send requests through the "
        "Linkerd 1 proxy with the Host it names the service by.",
    ),
    "httpie": ("HTTPie", ""),
    "grpcurl": ("grpcurl", ""),
    "python-requests": ("Python (requests)", ""),
    "javascript-fetch": ("JavaScript (fetch)", ""),
    "opentelemetry-python": ("OpenTelemetry (Python)", ""),
    "postman": ("Postman collection", ""),
}


def _snippets(sandbox: Sandbox) -> list[Snippet]:
    """Every way to send a request through this sandbox, the same text the API and the
    CLI give, with one mirrord config per fork."""
    if not sandbox.forks.all():
        return []
    texts = api_snippets.sandbox_snippets(sandbox)
    out: list[Snippet] = []
    for fmt, text in texts.items():
        if fmt == "mirrord":
            continue
        title, help_ = SNIPPET_TITLES.get(fmt, (fmt, ""))
        note = rs.BAGGAGE_NOTES.get(fmt, "")
        out.append(Snippet(fmt, title, text, help_, more=fmt not in PRIMARY_SNIPPETS, note=note))
    # One mirrord config per fork; a fork whose container ports are unknown gets the
    # reason instead of a config that would steal everybody's traffic.
    for fork in sorted(sandbox.forks.all(), key=lambda f: f.baseline.name):
        name = fork.baseline.name
        try:
            text, unavailable = api_snippets.mirrord_snippet(sandbox, name), ""
        except api_snippets.SnippetUnavailable as exc:
            text, unavailable = "", str(exc)
        out.append(
            Snippet(
                f"mirrord-{name}",
                f"mirrord config ({name})",
                text,
                "Steals only the requests that carry this key to your laptop.",
                note=rs.BAGGAGE_NOTES["mirrord"],
                unavailable=unavailable,
            )
        )
    return out


@dataclass(frozen=True)
class ForkRow:
    fork: Any
    desired: int
    ready: int | None  # None: the reconciler has not read this fork back yet
    status: str
    reason: str


def _fork_rows(sandbox: Sandbox) -> list[ForkRow]:
    """Desired and live replicas per fork, as the reconciler last read them back."""
    rows = []
    for fork in sandbox.forks.all():
        live = fork.status or {}
        if live:
            status = "True" if live.get("ready") else "False"
            reason = live.get("message", "")
        else:
            workloads = sandbox.condition(c.WORKLOADS_READY)
            status = workloads.status if workloads else "Unknown"
            reason = workloads.reason if workloads else "NotReported"
        rows.append(
            ForkRow(
                fork=fork,
                desired=fork.replicas,
                ready=live.get("availableReplicas") if live else None,
                status=status,
                reason=reason,
            )
        )
    return rows


def _conditions(sandbox: Sandbox) -> list[c.Condition]:
    present = [c.Condition.from_dict(d) for d in sandbox.conditions or []]
    order = {name: i for i, name in enumerate(c.CONDITION_ORDER)}
    return sorted(present, key=lambda cond: order.get(cond.type, 99))


def _rendered(sandbox: Sandbox) -> dict[str, Any] | None:
    """Render-only mode's output: where the manifests are and which objects they hold."""
    if not sandbox.is_rendered:
        return None
    objects = [
        (m.get("kind", ""), (m.get("metadata") or {}).get("name", ""))
        for m in sandbox.applied_manifests or []
    ]
    return {"path": manifest_dir(sandbox) / "manifests.yaml", "objects": objects}


def _approvers(approval: Any) -> list[Any]:
    """The leads who may decide a pending request under the four-eyes rule: when there
    are none (a team with one lead who asked), the page says so instead of waiting."""
    team = approval.sandbox.tenant.team
    leads = [m.user for m in team.memberships.filter(role=Role.LEAD).select_related("user")]
    return [u for u in leads if services.four_eyes_objection(approval, u) is None]


def _status_context(request: HttpRequest, sandbox: Sandbox) -> dict[str, Any]:
    approval = selectors.approval_current(sandbox) if sandbox.needs_approval else None
    awaiting = approval is not None and approval.state == ApprovalState.PENDING
    role = selectors.role_in_team(request.user, sandbox.tenant.team)
    approvers = _approvers(approval) if awaiting else []
    return {
        "sandbox": sandbox,
        "rendered": _rendered(sandbox),
        "approvers": approvers,
        "conditions": _conditions(sandbox),
        "ready": sandbox.condition(c.READY),
        "fork_rows": _fork_rows(sandbox),
        "approval": approval,
        "awaiting_approval": awaiting,
        "can_decide": awaiting
        and role == Role.LEAD
        and approval.requested_by_id != request.user.pk,
        "polling": not sandbox.deleted_at and (sandbox.in_progress or awaiting),
        "poll_seconds": POLL_SECONDS,
    }


def _expiry_context(
    sandbox: Sandbox,
    form: ExtendForm | None = None,
    *,
    focus: bool = False,
    shorten_to: int | None = None,
) -> dict[str, Any]:
    return {
        "sandbox": sandbox,
        "extend_form": form or ExtendForm(max_ttl=sandbox.tenant.team.max_ttl),
        # After an htmx swap the focus goes back into the card (sidestage.js).
        "expiry_focus": focus,
        # Hours asked for that would end the sandbox earlier than now planned: confirm.
        "shorten_to": shorten_to,
    }


@require_GET
@login_required
def sandbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sandbox = _get_sandbox(request, pk)
    return render(request, TEMPLATE, _detail_context(request, sandbox))


def _detail_context(request: HttpRequest, sandbox: Sandbox, **expiry: Any) -> dict[str, Any]:
    snippets = _snippets(sandbox)
    return {
        **_status_context(request, sandbox),
        **_expiry_context(sandbox, **expiry),
        "routes_yaml": _routes_yaml(sandbox),
        "snippets": [s for s in snippets if not s.more],
        "more_snippets": [s for s in snippets if s.more],
        "events": list(
            selectors.audit_events_for_user(request.user).filter(sandbox=sandbox)[:AUDIT_LIMIT]
        ),
        "decisions": list(
            sandbox.approvals.select_related("requested_by", "decided_by").order_by(
                "-requested_at", "-id"
            )[:AUDIT_LIMIT]
        ),
    }


@require_GET
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def sandbox_expiry(request: HttpRequest, pk: int) -> HttpResponse:
    """The expiry card (after "Keep the current expiry"); a plain GET goes to the page."""
    sandbox = _get_sandbox(request, pk)
    if not wants_partial(request, "expiry"):
        return redirect("sandbox_detail", pk=sandbox.pk)
    return render(request, f"{TEMPLATE}#expiry", _expiry_context(sandbox, focus=True))


@require_GET
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def sandbox_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The polled status partial; a plain GET goes to the whole page."""
    sandbox = _get_sandbox(request, pk)
    if not wants_partial(request, "sandbox-status"):
        return redirect("sandbox_detail", pk=sandbox.pk)
    return render(request, f"{TEMPLATE}#sandbox-status", _status_context(request, sandbox))


@require_POST
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def sandbox_extend(request: HttpRequest, pk: int) -> HttpResponse:
    """Set the expiry to "now + hours". A time earlier than the current expiry is a
    shortening: it needs `confirm_shorten`, else the card asks first."""
    sandbox = _get_sandbox(request, pk)
    form = ExtendForm(request.POST, max_ttl=sandbox.tenant.team.max_ttl)
    status = 200
    shorten_to: int | None = None
    if form.is_valid():
        hours = form.cleaned_data["hours"]
        shortens = timezone.now() + timedelta(hours=hours) < sandbox.expires_at
        if shortens and not sandbox.is_deleting and request.POST.get("confirm_shorten") != "1":
            shorten_to = hours
        else:
            try:
                sandbox = services.sandbox_extend(
                    actor=request.user, sandbox=sandbox, ttl_seconds=hours * 3600
                )
                sandbox = _get_sandbox(request, pk)
            except ValidationFailed as exc:
                for messages_ in exc.fields.values():
                    for message in messages_:
                        form.add_error("hours", message)
                status = UNPROCESSABLE
            except (Conflict, NotAllowed) as exc:
                form.add_error(None, exc.message)
                status = CONFLICT
    else:
        status = UNPROCESSABLE
    if not wants_partial(request, "expiry"):
        if shorten_to is not None:
            # Without htmx: the confirmation is the page with the card asking.
            context = _detail_context(request, sandbox, form=form, shorten_to=shorten_to)
            return render(request, TEMPLATE, context)
        if status == 200:
            hours = form.cleaned_data["hours"]
            messages.success(request, f"{sandbox.name} now expires in {hours} hours.")
        else:
            problems = [m for errs in form.errors.values() for m in errs]
            messages.error(request, "Expiry not changed: " + " ".join(problems))
        return redirect("sandbox_detail", pk=sandbox.pk)
    context = _expiry_context(sandbox, form, focus=True, shorten_to=shorten_to)
    return render(request, f"{TEMPLATE}#expiry", context, status=status)


@require_GET
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def sandbox_delete_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """The confirmation: inline on the detail page with htmx, a page of its own without."""
    sandbox = _get_sandbox(request, pk)
    return render_page_or_partial(
        request,
        "sandboxes/delete.html",
        "delete-confirm",
        {"sandbox": sandbox},
        target="danger-zone",
    )


@require_POST
@login_required
def sandbox_delete(request: HttpRequest, pk: int) -> HttpResponse:
    sandbox = _get_sandbox(request, pk)
    try:
        services.sandbox_delete(
            actor=request.user, sandbox=sandbox, reason=request.POST.get("reason", "")[:200]
        )
    except ValidationFailed as exc:
        context = {"sandbox": sandbox, "errors": exc.fields}
        return render_page_or_partial(
            request,
            "sandboxes/delete.html",
            "delete-confirm",
            context,
            target="danger-zone",
            status=UNPROCESSABLE,
        )
    messages.success(request, f"Sandbox {sandbox.name} is being deleted.")
    url = reverse("dashboard")
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
