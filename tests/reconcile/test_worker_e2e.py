"""End to end with every real component: a sandbox created through the services is
queued on commit to the real Redis, a real Celery worker process reconciles it against
the real control plane, requeues itself while the forks roll out, and the sandbox
turns Ready; deleting it takes everything down the same way."""

from __future__ import annotations

import pytest

from routing.names import fork_object_name
from sandboxes import services
from sandboxes.conditions import condition_status
from tests.support.worker import start_worker, wait_for_sandbox

pytestmark = [pytest.mark.cluster, pytest.mark.worker]


@pytest.fixture
def cluster_worker(transactional_db, kube_cluster, tmp_path):
    handle = start_worker(
        tmp_path / "worker.log",
        SIDESTAGE_CLUSTER="kubeconfig",
        SIDESTAGE_KUBECONFIG=kube_cluster.kubeconfig,
        SIDESTAGE_VAR_DIR=str(tmp_path / "var"),
    )
    yield handle
    handle.stop()
    assert handle.process.poll() is not None, "the worker is still running"


def test_a_real_worker_deploys_and_deletes_a_sandbox(world, cluster_world, cluster_worker):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="e2e", forks=[{"service": "web"}]
    )
    wait_for_sandbox(
        sandbox,
        lambda s: condition_status(s.conditions, "Ready") == "True",
        cluster_worker,
        timeout=120,
    )
    name = fork_object_name("web", sandbox.routing_key)
    assert (
        cw.cluster.get("apps/v1", "Deployment", name, cw.namespace)["status"]["availableReplicas"]
        == 1
    )
    # The first pass found the fork still rolling out and requeued itself.
    assert cluster_worker.log.count("reconcile_sandbox") >= 2

    services.sandbox_delete(actor=world.alice, sandbox=sandbox)
    wait_for_sandbox(sandbox, lambda s: s.deleted_at is not None, cluster_worker, timeout=120)
    assert cw.cluster.get("apps/v1", "Deployment", name, cw.namespace) is None
    assert (
        cw.cluster.get("networking.istio.io/v1", "VirtualService", "web-sidestage", cw.namespace)
        is None
    )
