"""Reads, always scoped to the teams the user belongs to (and to the token's tenant or
team when the request came with an API token). Nothing else reads tenant data.

Lookups of a single object raise the model's DoesNotExist for objects outside the
scope, so callers answer 404 and never reveal that another team's object exists.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from sandboxes.models import (
    ApiToken,
    Approval,
    ApprovalState,
    AuditEvent,
    BaselineService,
    DataIsolationPolicy,
    Fork,
    Membership,
    Role,
    Sandbox,
    SpecRevision,
    Team,
    Tenant,
)

User = AbstractBaseUser

# Sandbox columns no list, document or form shows: what the reconciler applied (a few
# KB of YAML per row, shown only on the detail page) and what data it provisioned.
# Reads leave them out unless they ask for them: a page of 50 then reads a few KB
# instead of ~150 KB (bench/e2e.py, "list").
UNSHOWN_SANDBOX_COLUMNS = ("applied_manifests", "provisioned_data")


def teams_for_user(user: User) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user=user).distinct()


def role_in_team(user: User, team: Team) -> str | None:
    membership = Membership.objects.filter(user=user, team=team).only("role").first()
    return membership.role if membership else None


def lead_team_ids(user: User) -> set[int]:
    return set(
        Membership.objects.filter(user=user, role=Role.LEAD).values_list("team_id", flat=True)
    )


def tenants_for_user(user: User, token: ApiToken | None = None) -> QuerySet[Tenant]:
    qs = Tenant.objects.filter(team__memberships__user=user).select_related("team", "owner")
    if token is not None:
        qs = qs.filter(pk=token.tenant_id) if token.tenant_id else qs.filter(team_id=token.team_id)
    return qs.distinct()


def sandboxes_for_user(
    user: User, token: ApiToken | None = None, *, manifests: bool = False
) -> QuerySet[Sandbox]:
    """Every sandbox the user may see, with what a list needs loaded up front (and
    `applied_manifests`/`provisioned_data` only with `manifests=True`)."""
    qs = Sandbox.objects.filter(tenant__team__memberships__user=user)
    if token is not None:
        qs = (
            qs.filter(tenant_id=token.tenant_id)
            if token.tenant_id
            else qs.filter(tenant__team_id=token.team_id)
        )
    if not manifests:
        qs = qs.defer(*UNSHOWN_SANDBOX_COLUMNS)
    return qs.select_related("tenant__team", "created_by").prefetch_related(
        Prefetch("forks", queryset=Fork.objects.select_related("baseline"))
    )


def sandbox_get(
    user: User, *, token: ApiToken | None = None, manifests: bool = False, **lookup: Any
) -> Sandbox:
    return sandboxes_for_user(user, token, manifests=manifests).get(**lookup)


def baseline_services_for_user(user: User) -> QuerySet[BaselineService]:
    """The catalog entries in namespaces any of the user's teams may use."""
    namespaces: set[str] = set()
    for allowed in teams_for_user(user).values_list("allowed_namespaces", flat=True):
        namespaces.update(allowed or [])
    return BaselineService.objects.filter(namespace__in=namespaces).prefetch_related(
        "data_resources"
    )


def policies_for_user(user: User) -> QuerySet[DataIsolationPolicy]:
    return (
        DataIsolationPolicy.objects.filter(teams__memberships__user=user)
        .prefetch_related("rules__baseline")
        .distinct()
    )


def audit_events_for_user(user: User, token: ApiToken | None = None) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.filter(team__memberships__user=user)
    if token is not None:
        qs = qs.filter(team_id=token.team_id)
        if token.tenant_id:
            qs = qs.filter(sandbox__tenant_id=token.tenant_id)
    return qs.select_related("actor", "sandbox__tenant", "team").defer(
        *(f"sandbox__{name}" for name in UNSHOWN_SANDBOX_COLUMNS)
    )


def approvals_pending_for_lead(user: User) -> QuerySet[Approval]:
    """Pending requests this lead may decide: their teams, and none they have a stake
    in (requested, created the sandbox, or wrote a generation of its spec)."""
    authored = SpecRevision.objects.filter(
        sandbox_id=OuterRef("sandbox_id"), generation__lte=OuterRef("generation"), author=user
    )
    return (
        Approval.objects.filter(
            state=ApprovalState.PENDING,
            sandbox__tenant__team_id__in=lead_team_ids(user),
            sandbox__deletion_requested_at__isnull=True,
        )
        .exclude(requested_by=user)
        .exclude(sandbox__created_by=user)
        .exclude(Exists(authored))
        .select_related("sandbox__tenant__team", "requested_by")
        .defer(*(f"sandbox__{name}" for name in UNSHOWN_SANDBOX_COLUMNS))
        .prefetch_related(
            Prefetch("sandbox__forks", queryset=Fork.objects.select_related("baseline"))
        )
    )


def approval_get_for_user(user: User, **lookup: Any) -> Approval:
    return (
        Approval.objects.filter(sandbox__tenant__team__memberships__user=user)
        .select_related("sandbox__tenant__team", "requested_by", "decided_by")
        .defer(*(f"sandbox__{name}" for name in UNSHOWN_SANDBOX_COLUMNS))
        .get(**lookup)
    )


def approval_current(sandbox: Sandbox) -> Approval | None:
    """The approval (or request) that covers the sandbox's current generation."""
    return (
        sandbox.approvals.filter(generation=sandbox.generation)
        .exclude(state=ApprovalState.SUPERSEDED)
        .order_by("-requested_at", "-id")
        .first()
    )


def tokens_for_user(user: User) -> QuerySet[ApiToken]:
    return (
        ApiToken.objects.filter(team__memberships__user=user)
        .select_related("team", "tenant", "user")
        .distinct()
    )
