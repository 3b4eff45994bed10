"""A sandbox forking an Istio service and a Gateway API service, end to end against
the real API server: forks Available, routes programmed, Ready."""

from __future__ import annotations

import pytest

from routing.names import fork_object_name
from sandboxes import services
from sandboxes.conditions import condition_status
from tests.support.schemas import validate_manifest

pytestmark = pytest.mark.cluster


def test_two_forks_two_meshes_become_ready(world, cluster_world, provisioner_dsn):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="two-meshes",
        forks=[
            {"service": "web", "image": "ghcr.io/acme/web:pr-9"},
            {"service": "orders-gw", "env": [{"name": "LOG_LEVEL", "value": "debug"}]},
        ],
    )
    cw.settle(sandbox)
    key = sandbox.routing_key
    for cond in ("PolicySatisfied", "WorkloadsReady", "RoutesProgrammed", "Ready"):
        assert condition_status(sandbox.conditions, cond) == "True", sandbox.conditions
    assert sandbox.observed_generation == sandbox.generation == 1

    web_fork = cw.cluster.get("apps/v1", "Deployment", fork_object_name("web", key), cw.namespace)
    assert web_fork["status"]["availableReplicas"] == 1
    container = web_fork["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/acme/web:pr-9"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SIDESTAGE_ROUTING_KEY"] == key
    assert env["SIDESTAGE_SANDBOX"] == "two-meshes"
    # The fork's pods are not selected by the baseline Service.
    assert web_fork["spec"]["template"]["metadata"]["labels"]["app"] != "web"

    vs = cw.cluster.get("networking.istio.io/v1", "VirtualService", "web-sidestage", cw.namespace)
    rules = [r["name"] for r in vs["spec"]["http"]]
    assert rules == [f"sbx-{key}", "baseline"]
    assert vs["spec"]["http"][0]["route"][0]["destination"]["host"].startswith(
        fork_object_name("web", key)
    )

    routes = cw.cluster.list(
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        label_selector="sidestage.dev/service=orders-gw",
        namespace=cw.namespace,
    )
    backends = sorted(r["spec"]["rules"][0]["backendRefs"][0]["name"] for r in routes)
    assert backends == sorted(["orders", fork_object_name("orders-gw", key)])

    orders_fork = cw.cluster.get(
        "apps/v1", "Deployment", fork_object_name("orders-gw", key), cw.namespace
    )
    orders_env = {
        e["name"]: e.get("value")
        for e in orders_fork["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert orders_env["LOG_LEVEL"] == "debug"
    assert orders_env["ORDERS_TOPIC"] == f"sbx-{key}-orders"
    assert f"search_path%3Dsbx_{key}" in orders_env["DATABASE_URL"]

    # What was applied is recorded, and every object validates against its schema.
    kinds = sorted(m["kind"] for m in sandbox.applied_manifests)
    assert kinds == [
        "Deployment",
        "Deployment",
        "HTTPRoute",
        "HTTPRoute",
        "Service",
        "Service",
        "VirtualService",
    ]
    for manifest in sandbox.applied_manifests:
        validate_manifest(manifest)
    # Baseline env values (possibly credentials) are masked in the record people read;
    # the fork's own overrides are not.
    recorded = next(
        m
        for m in sandbox.applied_manifests
        if m["kind"] == "Deployment" and m["metadata"]["name"].startswith("orders-gw")
    )
    recorded_env = {
        e["name"]: e["value"] for e in recorded["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert recorded_env["LOG_LEVEL"] == "debug"
    assert recorded_env["SIDESTAGE_ROUTING_KEY"] == key
    assert recorded_env["DATABASE_URL"].startswith("<redacted")
    forks = {f.baseline.name: f.status for f in sandbox.forks.all()}
    assert forks["web"]["availableReplicas"] == 1 and forks["web"]["ready"] is True


def test_a_noop_resync_makes_no_mutating_call(world, cluster_world, provisioner_dsn):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="quiet",
        forks=[{"service": "web"}, {"service": "orders-gw"}],
    )
    cw.settle(sandbox)
    conditions_before = sandbox.conditions
    cw.cluster.stats.reset()
    outcome = cw.settle(sandbox)
    assert outcome.status == "ready"
    assert cw.cluster.stats.mutations == 0, cw.cluster.stats.mutated
    assert cw.cluster.stats.reads > 0
    assert sandbox.conditions == conditions_before
