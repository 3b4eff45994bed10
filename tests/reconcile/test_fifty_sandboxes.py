"""Fifty sandboxes forking one Istio service: fifty rules before the catch-all, in a
stable order; deleting one removes exactly its rule."""

from __future__ import annotations

import pytest

from sandboxes import services
from sandboxes.reconcile import reconcile
from tests import factories

pytestmark = pytest.mark.cluster


def _rules(cw) -> list[str]:
    vs = cw.cluster.get("networking.istio.io/v1", "VirtualService", "web-sidestage", cw.namespace)
    return [rule["name"] for rule in vs["spec"]["http"]]


def test_fifty_rules_in_a_stable_order_and_one_removed(world, cluster_world):
    cw = cluster_world
    world.shop.max_sandboxes = 60
    world.shop.save()
    sandboxes = []
    for i in range(50):
        # One tenant each, so every tenant key routes too (no conflicts).
        tenant = factories.TenantFactory(team=world.shop, name=f"dev-{i}")
        sandboxes.append(
            services.sandbox_create(
                actor=world.alice,
                tenant=tenant,
                name=f"s{i}",
                forks=[{"service": "web", "replicas": 0}],
            )
        )
    for sandbox in sandboxes:
        reconcile(sandbox.pk, cluster=cw.cluster)
    expected = [f"sbx-{k}" for k in sorted(s.routing_key for s in sandboxes)] + ["baseline"]
    assert _rules(cw) == expected

    # Re-reconciling in another order changes nothing.
    cw.cluster.stats.reset()
    for sandbox in reversed(sandboxes):
        reconcile(sandbox.pk, cluster=cw.cluster)
    assert _rules(cw) == expected
    assert not [m for m in cw.cluster.stats.mutated if "VirtualService" in m]

    # What one sandbox's people can read holds their own rule and the catch-all only:
    # the other 49 keys belong to other people.
    one = sandboxes[3]
    one.refresh_from_db()
    (vs,) = [m for m in one.applied_manifests if m["kind"] == "VirtualService"]
    assert [r["name"] for r in vs["spec"]["http"]] == [f"sbx-{one.routing_key}", "baseline"]

    gone = sandboxes[17]
    services.sandbox_delete(actor=world.alice, sandbox=gone)
    cw.settle(gone, until="deleted")
    assert _rules(cw) == [r for r in expected if r != f"sbx-{gone.routing_key}"]
