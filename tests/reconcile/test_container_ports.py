"""The reconciler reads the live baseline Service and Deployment and records the
container ports each fork listens on; the mirrord snippet uses those, never the
Service ports, and refuses when they cannot be resolved."""

from __future__ import annotations

import json

import pytest

from bench.baseline import baseline_objects
from sandboxes import services
from sandboxes.api import snippets as sn
from sandboxes.models import BaselineService, Mesh
from tests import factories

pytestmark = pytest.mark.cluster


def _apply(cw, name: str, target_port: object) -> None:
    deployment, service = baseline_objects(name, cw.namespace)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["ports"] = [{"name": "web", "containerPort": 8080}]
    # The Service says 80; the app listens on 8080 (through the name "web").
    service["spec"]["ports"] = [{"name": "http", "port": 80, "targetPort": target_port}]
    cw.cluster.apply(deployment)
    cw.cluster.apply(service)
    factories.BaselineServiceFactory(name=name, namespace=cw.namespace, mesh=Mesh.ISTIO, ports=[80])


def test_a_named_target_port_is_resolved_through_the_deployment(world, cluster_world):
    cw = cluster_world
    _apply(cw, "api", "web")
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="ports",
        forks=[{"service": "api", "image": "ghcr.io/acme/api:pr-1"}],
    )
    cw.settle(sandbox)
    fork = sandbox.forks.get()
    assert fork.status["containerPorts"] == [8080]
    config = json.loads(sn.mirrord_snippet(sandbox, "api"))
    assert config["feature"]["network"]["incoming"]["http_filter"]["ports"] == [8080]


def test_an_unresolvable_target_port_means_no_mirrord_config(world, cluster_world):
    cw = cluster_world
    _apply(cw, "api2", "nope")
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="ports2",
        forks=[{"service": "api2", "image": "ghcr.io/acme/api:pr-1"}],
    )
    # The fork itself still deploys; only the mirrord config is refused.
    cw.settle(sandbox)
    fork = sandbox.forks.get()
    assert "named port 'nope'" in fork.status["containerPortsError"]
    with pytest.raises(sn.SnippetNotReady, match="container ports are unknown"):
        sn.mirrord_snippet(sandbox, "api2")
    assert "mirrord" not in sn.sandbox_snippets(sandbox)


def test_a_linkerd1_fork_reports_the_same_dtab_as_its_snippets(world, cluster_world):
    cw = cluster_world
    _apply(cw, "l1", 8080)
    BaselineService.objects.filter(name="l1").update(
        mesh=Mesh.LINKERD1, linkerd1_name="/host/l1", linkerd1_dst_prefix="/srv"
    )
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="l1",
        forks=[{"service": "l1", "image": "ghcr.io/acme/l1:pr-1"}],
    )
    cw.settle(sandbox)
    dtab = f"/host/l1 => /srv/l1-sbx-{sandbox.routing_key};"
    routes = next(c for c in sandbox.conditions if c["type"] == "RoutesProgrammed")
    assert routes["message"].endswith(f"Linkerd 1 clients send l5d-dtab: {dtab}")
    assert sn.sandbox_snippet(sandbox, "dtab") == f"l5d-dtab: {dtab}"
    assert f"l5d-dtab: {dtab}" in sn.sandbox_snippet(sandbox, "curl")
