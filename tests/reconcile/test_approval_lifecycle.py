"""A prod-like sandbox deploys nothing until a lead approves, and comes down when the
approval expires."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from routing.names import fork_object_name
from sandboxes import services
from sandboxes.conditions import condition_status
from sandboxes.models import Approval

pytestmark = pytest.mark.cluster


def _condition(sandbox, type_):
    return next(c for c in sandbox.conditions if c["type"] == type_)


def test_prod_like_waits_deploys_once_approved_and_expires(world, cluster_world):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.bob,
        tenant=world.bob_tenant,
        name="preview",
        profile="prod-like",
        forks=[{"service": "web"}],
    )
    name = fork_object_name("web", sandbox.routing_key)
    cw.settle(sandbox, until="blocked")
    assert _condition(sandbox, "Approved")["reason"] == "AwaitingApproval"
    assert _condition(sandbox, "Ready")["reason"] == "AwaitingApproval"
    assert cw.cluster.stats.mutations == 0
    assert cw.cluster.get("apps/v1", "Deployment", name, cw.namespace) is None

    approval = sandbox.approvals.get()
    services.approval_decide(actor=world.alice, approval=approval, approve=True, reason="QA")
    cw.settle(sandbox)
    assert condition_status(sandbox.conditions, "Approved") == "True"
    vs = cw.cluster.get("networking.istio.io/v1", "VirtualService", "web-sidestage", cw.namespace)
    assert vs["spec"]["http"][0]["name"] == f"sbx-{sandbox.routing_key}"

    Approval.objects.filter(pk=approval.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    cw.settle(sandbox, until="blocked")
    assert _condition(sandbox, "Approved")["reason"] == "ApprovalExpired"
    assert (
        cw.cluster.get("networking.istio.io/v1", "VirtualService", "web-sidestage", cw.namespace)
        is None
    )
    assert cw.cluster.get("apps/v1", "Deployment", name, cw.namespace) is None


def test_a_rejected_sandbox_deploys_nothing(world, cluster_world):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.bob,
        tenant=world.bob_tenant,
        name="nope",
        profile="prod-like",
        forks=[{"service": "web"}],
    )
    services.approval_decide(
        actor=world.alice, approval=sandbox.approvals.get(), approve=False, reason="not now"
    )
    cw.settle(sandbox, until="blocked")
    assert _condition(sandbox, "Ready")["reason"] == "ApprovalRejected"
    assert "not now" in _condition(sandbox, "Approved")["message"]
    assert cw.cluster.stats.mutations == 0
