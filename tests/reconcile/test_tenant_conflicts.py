"""A tenant key cannot route two of its tenant's forks of one service: the tenant is
told, each sandbox key still routes, and nobody else hears of it."""

from __future__ import annotations

import pytest

from sandboxes import services

pytestmark = pytest.mark.cluster


def _routes_message(sandbox) -> str:
    return next(c for c in sandbox.conditions if c["type"] == "RoutesProgrammed")["message"]


def test_a_tenant_key_conflict_is_reported_to_its_tenant_only(world, cluster_world):
    cw = cluster_world
    world.search.allowed_namespaces = [cw.namespace]
    world.search.save()
    one, two = (
        services.sandbox_create(
            actor=world.alice, tenant=world.alice_tenant, name=name, forks=[{"service": "web"}]
        )
        for name in ("one", "two")
    )
    other = services.sandbox_create(
        actor=world.charlie,
        tenant=world.charlie_tenant,
        name="theirs",
        forks=[{"service": "web"}],
    )
    for sandbox in (one, two, other):
        cw.settle(sandbox)
    assert "alice/one, alice/two" in _routes_message(two)
    assert "alice" not in _routes_message(other)
    assert "cannot route" not in _routes_message(other)
    # Every sandbox key still routes: three rules before the catch-all.
    vs = cw.cluster.get("networking.istio.io/v1", "VirtualService", "web-sidestage", cw.namespace)
    assert len(vs["spec"]["http"]) == 4
