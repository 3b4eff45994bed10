"""The catalog and the data-isolation policies: readable by every team member.
Editing stays in the admin."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from sandboxes import selectors
from sandboxes.models import Profile
from sandboxes.policies import plan_data_isolation


@require_GET
@login_required
def catalog(request: HttpRequest) -> HttpResponse:
    teams = list(selectors.teams_for_user(request.user).select_related("policy"))
    prefetch_related_objects(teams, "policy__rules__baseline")
    entries = []
    for service in selectors.baseline_services_for_user(request.user):
        usable_by = [t for t in teams if service.namespace in (t.allowed_namespaces or [])]
        plans = [
            {"team": team, "profile": profile, "plans": plan_data_isolation(team, service, profile)}
            for team in usable_by
            for profile in Profile.values
        ]
        entries.append({"service": service, "teams": usable_by, "plans": plans})
    return render(request, "sandboxes/catalog.html", {"entries": entries, "teams": teams})


@require_GET
@login_required
def policies(request: HttpRequest) -> HttpResponse:
    teams = list(selectors.teams_for_user(request.user).select_related("policy"))
    items = [
        {"policy": policy, "teams": [t for t in teams if t.policy_id == policy.pk]}
        for policy in selectors.policies_for_user(request.user)
    ]
    without = [t for t in teams if t.policy_id is None]
    return render(request, "sandboxes/policies.html", {"items": items, "without": without})
