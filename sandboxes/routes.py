"""From database rows to the routing renderers' inputs.

A sandbox is *routable* for a service when it forks the service, is not being
deleted, has not expired, its policy is satisfied, if prod-like holds a valid approval
for its current generation, and (with a cluster) the reconciler has applied its fork's
Deployment, so that a route never points at a Service that does not exist.

Shared route objects (an Istio VirtualService, a Gateway API catch-all) are rendered
from every routable fork of one service, so the work for one change grows with that
service's forks, not with all sandboxes.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from routing import model as rmodel
from routing.keys import is_valid_routing_key
from routing.names import fork_object_name
from routing.render import RenderedRoutes, render_service_routes
from sandboxes.conditions import POLICY_SATISFIED, condition_status
from sandboxes.models import Approval, ApprovalState, BaselineService, Fork, Profile, Sandbox

logger = logging.getLogger(__name__)

ROUTING_FIELDS = (
    "sandbox_id",
    "baseline_id",
    "status",
    "sandbox__name",
    "sandbox__routing_key",
    "sandbox__profile",
    "sandbox__generation",
    "sandbox__conditions",
    "sandbox__expires_at",
    "sandbox__deletion_requested_at",
    "sandbox__deleted_at",
    "sandbox__tenant__name",
    "sandbox__tenant__tenant_key",
)


def wire_config() -> rmodel.WireConfig:
    return rmodel.WireConfig(
        baggage_member=settings.SIDESTAGE_BAGGAGE_KEY, header=settings.SIDESTAGE_ROUTE_HEADER
    )


def routing_service(baseline: BaselineService) -> rmodel.BaselineService:
    return rmodel.BaselineService(
        name=baseline.name,
        namespace=baseline.namespace,
        service_name=baseline.service,
        ports=tuple(rmodel.ServicePort(port=int(p)) for p in baseline.ports),
        mesh=baseline.mesh,
        linkerd1_name=baseline.linkerd1_name or None,
        linkerd1_dst_prefix=baseline.linkerd1_dst_prefix or None,
    )


def approved_generations(sandbox_ids: list[int], now: datetime) -> dict[int, set[int]]:
    """For each sandbox, the generations covered by a valid approval (one query)."""
    out: dict[int, set[int]] = {}
    rows = Approval.objects.filter(
        sandbox_id__in=sandbox_ids, state=ApprovalState.APPROVED, expires_at__gt=now
    ).values_list("sandbox_id", "generation")
    for sandbox_id, generation in rows:
        out.setdefault(sandbox_id, set()).add(generation)
    return out


def is_routable(sandbox: Sandbox, approvals: dict[int, set[int]], now: datetime) -> bool:
    if sandbox.deletion_requested_at or sandbox.deleted_at or sandbox.expires_at <= now:
        return False
    if condition_status(sandbox.conditions, POLICY_SATISFIED) == "False":
        return False
    if sandbox.profile == Profile.PROD_LIKE:
        return sandbox.generation in approvals.get(sandbox.pk, set())
    return True


def routable_forks(
    baseline: BaselineService, *, now: datetime | None = None, require_deployed: bool = True
) -> list[rmodel.Fork]:
    """The forks a route may point at. With `require_deployed` (a real cluster), only
    forks whose Deployment the reconciler has applied (it records it in `Fork.status`
    before it renders routes): a route must never reach a Service that does not exist."""
    now = now or timezone.now()
    forks = list(
        Fork.objects.filter(
            baseline=baseline,
            sandbox__deletion_requested_at__isnull=True,
            sandbox__deleted_at__isnull=True,
        )
        .select_related("sandbox__tenant")
        # Only what routing needs: this runs for every reconcile of every sandbox of
        # the service, and the big JSON columns (applied manifests) cost the most.
        .only(*ROUTING_FIELDS)
    )
    prod_like = [f.sandbox_id for f in forks if f.sandbox.profile == Profile.PROD_LIKE]
    approvals = approved_generations(prod_like, now) if prod_like else {}
    out: list[rmodel.Fork] = []
    for f in forks:
        if not is_routable(f.sandbox, approvals, now):
            continue
        if require_deployed and not (f.status or {}).get("deployment"):
            continue
        fork = routing_fork(baseline, f)
        if fork is not None:
            out.append(fork)
    return out


def routing_fork(baseline: BaselineService, f: Fork) -> rmodel.Fork | None:
    """One fork's routing input. A row the renderer refuses (a tenant key written
    outside the services, a bad routing key) loses only its own route, never the
    service's: every other sandbox forking the service keeps being routed."""
    tenant_key = f.sandbox.tenant.tenant_key
    if not is_valid_routing_key(tenant_key):
        logger.warning(
            "tenant %s has an invalid tenant key: routing %s by its sandbox key only",
            f.sandbox.tenant.name,
            f.sandbox.name,
        )
        tenant_key = None
    try:
        return rmodel.Fork(
            sandbox=f"{f.sandbox.tenant.name}/{f.sandbox.name}",
            routing_key=f.sandbox.routing_key,
            fork_service=fork_object_name(baseline.name, f.sandbox.routing_key),
            tenant_key=tenant_key,
        )
    except ValueError as exc:
        logger.warning("sandbox %s is left out of %s's routes: %s", f.sandbox, baseline, exc)
        return None


def render_routes_for(
    baseline: BaselineService,
    *,
    foreign: list[dict] | None = None,
    require_deployed: bool = True,
) -> RenderedRoutes:
    """Every route object for one baseline service, from its routable forks.
    `foreign`: the live objects of the mesh's `foreign_host_kinds` (other owners').
    `require_deployed=False` renders as if every fork were deployed (render-only mode,
    GitOps)."""
    return render_service_routes(
        routing_service(baseline),
        routable_forks(baseline, require_deployed=require_deployed),
        wire=wire_config(),
        foreign=foreign or (),
    )
