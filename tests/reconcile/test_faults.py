"""An unreachable API server gives retries and ClusterUnreachable; the sandbox
converges once it is back, including from a half-applied state."""

from __future__ import annotations

import copy

import pytest
from kubernetes import client

from bench.baseline import baseline_objects
from routing.names import fork_object_name
from sandboxes import services
from sandboxes.cluster import Cluster
from sandboxes.reconcile import reconcile

pytestmark = pytest.mark.cluster


def _unreachable(kube_cluster) -> Cluster:
    api = kube_cluster.api_client()
    configuration = copy.copy(api.configuration)
    configuration.host = "https://127.0.0.1:9"  # discard port: nothing listens
    return Cluster(client.ApiClient(configuration), retries=2, backoff_seconds=0.01, timeout=(1, 1))


def test_unreachable_then_back(world, cluster_world, kube_cluster):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="flaky", forks=[{"service": "web"}]
    )
    down = _unreachable(kube_cluster)
    outcome = reconcile(sandbox.pk, cluster=down)
    assert outcome.status == "retry"
    assert outcome.transient is not None and outcome.transient.transient
    assert down.stats.retries == 2
    sandbox.refresh_from_db()
    ready = next(c for c in sandbox.conditions if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ClusterUnreachable")

    cw.settle(sandbox)
    assert next(c for c in sandbox.conditions if c["type"] == "Ready")["status"] == "True"


def test_a_half_applied_sandbox_converges(world, cluster_world):
    """What a worker killed between two applies leaves behind: the fork Service is
    there, the Deployment and the route are not."""
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="half", forks=[{"service": "web"}]
    )
    name = fork_object_name("web", sandbox.routing_key)
    service = baseline_objects("web", cw.namespace)[1]
    service["metadata"] = {
        "name": name,
        "namespace": cw.namespace,
        "labels": {
            "app.kubernetes.io/managed-by": "sidestage",
            "sidestage.dev/sandbox": sandbox.routing_key,
            "sidestage.dev/service": "web",
        },
    }
    cw.cluster.apply(service)
    cw.settle(sandbox)
    assert cw.cluster.get("apps/v1", "Deployment", name, cw.namespace) is not None
    fork_service = cw.cluster.get("v1", "Service", name, cw.namespace)
    assert fork_service["spec"]["selector"] == {
        "sidestage.dev/sandbox": sandbox.routing_key,
        "sidestage.dev/service": "web",
    }


def test_a_missing_baseline_is_a_permanent_condition(world, cluster_world):
    cw = cluster_world
    cw.cluster.delete("apps/v1", "Deployment", "web", cw.namespace)
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="orphan", forks=[{"service": "web"}]
    )
    outcome = reconcile(sandbox.pk, cluster=cw.cluster)
    assert outcome.status == "failed" and outcome.requeue_after is None
    sandbox.refresh_from_db()
    ready = next(c for c in sandbox.conditions if c["type"] == "Ready")
    assert ready["reason"] == "BaselineNotFound"
    assert f"{cw.namespace}/web" in ready["message"]
