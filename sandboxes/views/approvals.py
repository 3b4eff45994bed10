"""The leads' queue of prod-like requests, and their decisions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from sandboxes import selectors, services
from sandboxes.errors import Conflict, NotAllowed, ValidationFailed
from sandboxes.forms import DecisionForm
from sandboxes.models import Approval, ApprovalState
from sandboxes.policies import plan_data_isolation
from sandboxes.views._common import CONFLICT, FORBIDDEN, UNPROCESSABLE, require_lead, wants_partial

TEMPLATE = "sandboxes/approvals.html"


def _review(
    approval: Approval, form: DecisionForm | None = None, error: str = ""
) -> dict[str, Any]:
    """What a lead needs to decide: the forks that would be deployed and what the
    data-isolation policy would do to each of their data resources."""
    sandbox = approval.sandbox
    team = sandbox.tenant.team
    prefetch_related_objects([team], "policy__rules__baseline")
    forks = [
        {"fork": fork, "plans": plan_data_isolation(team, fork.baseline, sandbox.profile)}
        for fork in sandbox.forks.all()
    ]
    return {
        "approval": approval,
        "forks": forks,
        "form": form or DecisionForm(prefix=f"a{approval.pk}"),
        "error": error,
    }


@require_GET
@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    user = request.user
    is_lead = bool(selectors.lead_team_ids(user))
    queue = [_review(a) for a in selectors.approvals_pending_for_lead(user)] if is_lead else []
    waiting = (
        selectors.sandboxes_for_user(user)
        .filter(approvals__state=ApprovalState.PENDING, approvals__requested_by=user)
        .distinct()
    )
    return render(request, TEMPLATE, {"queue": queue, "is_lead": is_lead, "waiting": waiting})


@require_POST
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def approval_decide(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        approval = selectors.approval_get_for_user(request.user, pk=pk)
    except Approval.DoesNotExist as exc:
        raise Http404("No such approval request.") from exc
    require_lead(request.user, approval.sandbox.tenant.team)
    form = DecisionForm(request.POST, prefix=f"a{approval.pk}")
    status, error = 200, ""
    if form.is_valid():
        try:
            approval = services.approval_decide(
                actor=request.user,
                approval=approval,
                approve=form.cleaned_data["decision"] == "approve",
                reason=form.cleaned_data["reason"],
                valid_for=timedelta(hours=form.cleaned_data["valid_for"]),
            )
            approval = selectors.approval_get_for_user(request.user, pk=pk)
        except ValidationFailed as exc:
            for field, field_messages in exc.fields.items():
                target = field if field in form.fields else None
                for message in field_messages:
                    form.add_error(target, message)
            status = UNPROCESSABLE
        except NotAllowed as exc:
            # Shown on the card (the four-eyes rule says who must decide instead).
            error, status = exc.message, FORBIDDEN
        except Conflict as exc:
            error, status = exc.message, CONFLICT
    else:
        status = UNPROCESSABLE
    target = f"approval-{approval.pk}"
    if wants_partial(request, target):
        return render(
            request, f"{TEMPLATE}#approval-card", _review(approval, form, error), status=status
        )
    if status == FORBIDDEN:
        # Without htmx: the 403 page says why (and who must decide instead).
        raise PermissionDenied(error)
    if status == 200:
        messages.success(request, f"{approval.sandbox}: {approval.get_state_display().lower()}.")
    else:
        messages.error(
            request, error or "; ".join(m for errs in form.errors.values() for m in errs)
        )
    return redirect("approvals")
