"""Sidestage never takes over what it does not own: a VirtualService another tool
manages for the host is refused, and so is a foreign object that has our name."""

from __future__ import annotations

import pytest

from routing.names import fork_object_name
from sandboxes import services
from sandboxes.reconcile import reconcile

pytestmark = pytest.mark.cluster


def _ready(sandbox):
    sandbox.refresh_from_db()
    return next(c for c in sandbox.conditions if c["type"] == "Ready")


def test_a_helm_managed_virtual_service_for_the_host_is_refused(world, cluster_world):
    cw = cluster_world
    helm = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {
            "name": "web-routes",
            "namespace": cw.namespace,
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
        },
        "spec": {
            "hosts": [f"web.{cw.namespace}.svc.cluster.local"],
            "http": [{"route": [{"destination": {"host": "web"}}]}],
        },
    }
    cw.cluster.apply(helm)
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="shadowed", forks=[{"service": "web"}]
    )
    assert reconcile(sandbox.pk, cluster=cw.cluster).status == "failed"
    ready = _ready(sandbox)
    assert ready["reason"] == "ForeignVirtualService"
    assert f"{cw.namespace}/web-routes" in ready["message"]
    assert (
        cw.cluster.get("networking.istio.io/v1", "VirtualService", "web-sidestage", cw.namespace)
        is None
    )
    # Helm's object is untouched.
    live = cw.cluster.get("networking.istio.io/v1", "VirtualService", "web-routes", cw.namespace)
    assert live["spec"]["http"] == helm["spec"]["http"]


def test_a_foreign_object_with_our_name_is_not_taken_over(world, cluster_world):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="clash", forks=[{"service": "web"}]
    )
    name = fork_object_name("web", sandbox.routing_key)
    squatter = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": cw.namespace, "labels": {"owner": "someone"}},
        "spec": {"selector": {"app": "other"}, "ports": [{"port": 80}]},
    }
    cw.cluster.apply(squatter)
    assert reconcile(sandbox.pk, cluster=cw.cluster).status == "failed"
    assert _ready(sandbox)["reason"] == "NameTaken"
    live = cw.cluster.get("v1", "Service", name, cw.namespace)
    assert live["spec"]["selector"] == {"app": "other"}
    assert live["metadata"]["labels"] == {"owner": "someone"}


def test_routes_never_point_at_a_fork_that_was_not_deployed(world, cluster_world):
    from tests import factories

    cw = cluster_world
    factories.BaselineServiceFactory(name="ghost", namespace=cw.namespace)  # no Deployment
    broken = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="broken",
        forks=[{"service": "web"}, {"service": "ghost"}],
    )
    assert reconcile(broken.pk, cluster=cw.cluster).status == "failed"  # BaselineNotFound
    healthy = services.sandbox_create(
        actor=world.bob, tenant=world.bob_tenant, name="healthy", forks=[{"service": "web"}]
    )
    cw.settle(healthy)
    vs = cw.cluster.get("networking.istio.io/v1", "VirtualService", "web-sidestage", cw.namespace)
    assert [r["name"] for r in vs["spec"]["http"]] == [f"sbx-{healthy.routing_key}", "baseline"]
