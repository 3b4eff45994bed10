"""The dashboard: the sandboxes of the user's teams, with a live status column."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from sandboxes import selectors
from sandboxes.models import Approval, ApprovalState, Sandbox
from sandboxes.views._common import render_page_or_partial

FILTERS = {
    "team": "All of my teams",
    "mine": "Mine",
    "approval": "Needs approval",
}
POLL_SECONDS = 2


def dashboard_sandboxes(user: object, filter_: str, team_slug: str = "") -> QuerySet[Sandbox]:
    """The scoped list for one filter, each row annotated with `awaiting_approval`."""
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


@require_GET
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def dashboard(request: HttpRequest) -> HttpResponse:
    notices = []
    filter_ = request.GET.get("filter", "team")
    if filter_ not in FILTERS:
        notices.append(f"There is no filter “{filter_[:40]}”: showing all of your teams.")
        filter_ = "team"
    teams = list(selectors.teams_for_user(request.user))
    team_slug = request.GET.get("team", "")
    if team_slug and team_slug not in {t.slug for t in teams}:
        notices.append(f"You are not in a team “{team_slug[:63]}”: showing every team of yours.")
        team_slug = ""
    sandboxes = list(dashboard_sandboxes(request.user, filter_, team_slug))
    polling = any(sb.in_progress or sb.awaiting_approval for sb in sandboxes)
    context = {
        "sandboxes": sandboxes,
        "filter": filter_,
        "filters": FILTERS,
        "teams": teams,
        "team_slug": team_slug,
        "polling": polling,
        "poll_seconds": POLL_SECONDS,
        "notices": notices,
        # Deleted sandboxes do not count: "nothing matches" only when something exists.
        "has_any": bool(sandboxes) or selectors.sandboxes_for_user(request.user).present().exists(),
    }
    return render_page_or_partial(request, "sandboxes/dashboard.html", "sandbox-list", context)
