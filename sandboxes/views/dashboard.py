"""The dashboard: the sandboxes of the user's teams, with a live status column, search,
filters (service, state, owner, label), sortable columns and paging.

Paging keeps it fast at 10,000 sandboxes: one COUNT and one page of rows (LIMIT/OFFSET
over an indexed order), with forks and tenants loaded for that page only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import BooleanField, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from sandboxes import selectors
from sandboxes.api.filters import condition_q, filter_by_label
from sandboxes.models import Approval, ApprovalState, Fork, Sandbox
from sandboxes.validation import DNS1123_LABEL_RE, ascii_int
from sandboxes.views._common import render_page_or_partial

FILTERS = {
    "team": "All of my teams",
    "mine": "Mine",
    "approval": "Needs approval",
}
STATES = {
    "": "Any state",
    "ready": "Ready",
    "not-ready": "Not ready",
    "progress": "Reconciling",
    "awaiting": "Awaiting approval",
    "rejected": "Rejected",
    "rendered": "Rendered",
}
SORTS = {
    "name": ("name", "pk"),
    "-name": ("-name", "-pk"),
    "expires": ("expires_at", "pk"),
    "-expires": ("-expires_at", "-pk"),
    "created": ("created_at", "pk"),
    "-created": ("-created_at", "-pk"),
}
DEFAULT_SORT = "-created"
PAGE_SIZE = 50
POLL_SECONDS = 2
EXPIRING_SOON = timedelta(hours=1)


def dashboard_sandboxes(user: object, filter_: str, team_slug: str = "") -> QuerySet[Sandbox]:
    """The scoped list for one filter, each row annotated with `awaiting_approval`
    and `approval_state` (the decision on its current generation)."""
    pending = Approval.objects.filter(
        sandbox=OuterRef("pk"),
        state=ApprovalState.PENDING,
        generation=OuterRef("generation"),
    )
    # The decision on the current generation: a rejection must not look like a wait.
    decision = (
        Approval.objects.filter(sandbox=OuterRef("pk"), generation=OuterRef("generation"))
        .exclude(state=ApprovalState.SUPERSEDED)
        .order_by("-requested_at", "-id")
        .values("state")[:1]
    )
    qs = (
        selectors.sandboxes_for_user(user)
        .present()
        .annotate(awaiting_approval=Exists(pending), approval_state=Subquery(decision))
    )
    if team_slug:
        qs = qs.filter(tenant__team__slug=team_slug)
    if filter_ == "mine":
        qs = qs.filter(Q(created_by=user) | Q(tenant__owner=user))
    elif filter_ == "approval":
        qs = qs.filter(awaiting_approval=True)
    return qs.distinct()


def _state_q(state: str, alias: str) -> Q:
    if state == "ready":
        return condition_q("Ready", "True", alias) & Q(observed_generation__gte=F("generation"))
    if state == "not-ready":
        return condition_q("Ready", "False", alias) & Q(awaiting_approval=False)
    if state == "progress":
        return Q(observed_generation__lt=F("generation")) | Q(deletion_requested_at__isnull=False)
    if state == "awaiting":
        return Q(awaiting_approval=True)
    if state == "rejected":
        return Q(approval_state=ApprovalState.REJECTED)
    # rendered
    if connections[alias].features.supports_json_field_contains:
        return Q(conditions__contains=[{"type": "Ready", "reason": "Rendered"}])
    return Q(
        RawSQL(
            "EXISTS (SELECT 1 FROM json_each(sandboxes_sandbox.conditions) AS c "
            "WHERE json_extract(c.value, '$.type') = 'Ready' "
            "AND json_extract(c.value, '$.reason') = 'Rendered')",
            (),
            output_field=BooleanField(),
        )
    )


@require_GET
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def dashboard(request: HttpRequest) -> HttpResponse:
    notices = []
    get = request.GET
    filter_ = get.get("filter", "team")
    if filter_ not in FILTERS:
        notices.append(f"There is no filter “{filter_[:40]}”: showing all of your teams.")
        filter_ = "team"
    teams = list(selectors.teams_for_user(request.user))
    team_slug = get.get("team", "")
    if team_slug and team_slug not in {t.slug for t in teams}:
        notices.append(f"You are not in a team “{team_slug[:63]}”: showing every team of yours.")
        team_slug = ""
    qs = dashboard_sandboxes(request.user, filter_, team_slug)

    q = get.get("q", "").strip()[:63]
    if q:
        qs = qs.filter(name__icontains=q)
    service = get.get("service", "").strip()
    if service:
        if DNS1123_LABEL_RE.match(service):
            qs = qs.filter(
                Exists(Fork.objects.filter(sandbox=OuterRef("pk"), baseline__name=service))
            )
        else:
            notices.append(f"“{service[:40]}” is not a service name: the filter is ignored.")
            service = ""
    state = get.get("state", "")
    if state not in STATES:
        notices.append(f"There is no state “{state[:40]}”: showing every state.")
        state = ""
    if state:
        qs = qs.filter(_state_q(state, qs.db))
    owner = get.get("owner", "").strip()[:150]
    if owner:
        qs = qs.filter(Q(created_by__username=owner) | Q(tenant__owner__username=owner))
    label = get.get("label", "").strip()
    if label:
        key, sep, value = label.partition("=")
        if DNS1123_LABEL_RE.match(key) and len(value) <= 63:
            qs = filter_by_label(qs, key, value if sep else None)
        else:
            notices.append(f"“{label[:40]}” is not a label: expected key or key=value.")
            label = ""
    sort = get.get("sort", DEFAULT_SORT)
    if sort not in SORTS:
        notices.append(f"Cannot sort by “{sort[:40]}”: newest first.")
        sort = DEFAULT_SORT
    qs = (
        qs.order_by(*SORTS[sort]).select_related("tenant__team").prefetch_related("forks__baseline")
    )

    page_number = ascii_int(get.get("page", "1")) or 1
    paginator = Paginator(qs, PAGE_SIZE)
    page = paginator.get_page(page_number)
    sandboxes = list(page.object_list)
    polling = any(sb.in_progress or sb.awaiting_approval for sb in sandboxes)
    now = timezone.now()
    for sb in sandboxes:
        sb.expiring_soon = not sb.is_deleting and now < sb.expires_at <= now + EXPIRING_SOON
    params = {
        "filter": filter_ if filter_ != "team" else "",
        "team": team_slug,
        "q": q,
        "service": service,
        "state": state,
        "owner": owner,
        "label": label,
    }
    searched = any(v for k, v in params.items() if k not in ("filter", "team"))
    context: dict[str, Any] = {
        "sandboxes": sandboxes,
        "page": page,
        "filter": filter_,
        "filters": FILTERS,
        "states": STATES,
        "params": params,
        "sort": sort,
        "sort_links": _sort_links(params, sort),
        "page_query": _query({**params, "sort": sort if sort != DEFAULT_SORT else ""}),
        "searched": searched,
        "teams": teams,
        "team_slug": team_slug,
        "services": sorted(
            selectors.baseline_services_for_user(request.user).values_list("name", flat=True)
        ),
        "polling": polling,
        "poll_seconds": POLL_SECONDS,
        "notices": notices,
        # Deleted sandboxes do not count: "nothing matches" only when something exists.
        "has_any": bool(sandboxes) or selectors.sandboxes_for_user(request.user).present().exists(),
    }
    return render_page_or_partial(request, "sandboxes/dashboard.html", "sandbox-list", context)


def _query(params: dict[str, str]) -> str:
    return urlencode({k: v for k, v in params.items() if v})


def _sort_links(params: dict[str, str], current: str) -> dict[str, dict[str, str]]:
    """For each sortable column: the link that sorts by it (flipping when it is the
    current sort) and its aria-sort value."""
    out = {}
    for column in ("name", "expires", "created"):
        ascending = current == column
        descending = current == f"-{column}"
        target = f"-{column}" if ascending else column
        out[column] = {
            "query": _query({**params, "sort": target}),
            "aria": "ascending" if ascending else "descending" if descending else "none",
        }
    return out
