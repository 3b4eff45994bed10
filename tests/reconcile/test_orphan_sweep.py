"""The sweep deletes owned objects whose sandbox is gone, and nothing else."""

from __future__ import annotations

import pytest

from bench.baseline import baseline_objects
from sandboxes import services
from sandboxes.sweep import sweep_orphans

pytestmark = pytest.mark.cluster


def test_sweep_deletes_only_orphans(world, cluster_world):
    cw = cluster_world
    live = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="alive", forks=[{"service": "web"}]
    )
    cw.settle(live)
    cw.cluster.stats.reset()
    orphan = baseline_objects("web", cw.namespace)[1]
    orphan["metadata"] = {
        "name": "web-sbx-orphan",
        "namespace": cw.namespace,
        "labels": {
            "app.kubernetes.io/managed-by": "sidestage",
            "sidestage.dev/sandbox": "zzzzzzzzzzzzzzzzzzzz",
            "sidestage.dev/service": "web",
        },
    }
    cw.cluster.apply(orphan)
    deleted = sweep_orphans(cw.cluster)
    # The sweep is cluster-wide: objects that earlier tests left in their own
    # namespaces (their sandbox rows rolled back) are orphans too. Judge this namespace.
    assert [d for d in deleted if f"/{cw.namespace}/" in d] == [
        f"Service/{cw.namespace}/web-sbx-orphan"
    ]
    assert cw.cluster.get("v1", "Service", "web", cw.namespace) is not None
    assert cw.settle(live).status == "ready"
    # The orphan's apply (by this test) and its delete; the live sandbox was untouched.
    mine = [m.split(" ")[0:2] for m in cw.cluster.stats.mutated if cw.namespace in m]
    assert mine == [["apply", "Service"], ["delete", "Service"]]


@pytest.mark.worker
def test_the_sweep_task_on_a_real_worker_removes_stale_shared_routes(
    world, cluster_world, kube_cluster, transactional_db, tmp_path
):
    """The other half: a sandbox whose row says it is gone (its last reconcile was
    lost) leaves its fork and the service's shared VirtualService behind; the Celery
    task, run by a real worker through the real broker, removes both."""
    from django.utils import timezone

    from routing.names import fork_object_name, shared_route_name
    from sandboxes.models import Sandbox
    from sandboxes.tasks import sweep_orphans as sweep_task
    from tests.fixtures.kube import wait_for
    from tests.support.worker import start_worker

    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="lost", forks=[{"service": "web"}]
    )
    cw.settle(sandbox)
    vs = ("networking.istio.io/v1", "VirtualService", shared_route_name("web"), cw.namespace)
    fork = ("apps/v1", "Deployment", fork_object_name("web", sandbox.routing_key), cw.namespace)
    assert cw.cluster.get(*vs) is not None and cw.cluster.get(*fork) is not None
    now = timezone.now()
    Sandbox.objects.filter(pk=sandbox.pk).update(deletion_requested_at=now, deleted_at=now)

    worker = start_worker(
        tmp_path / "worker.log",
        SIDESTAGE_CLUSTER="kubeconfig",
        SIDESTAGE_KUBECONFIG=kube_cluster.kubeconfig,
        SIDESTAGE_VAR_DIR=str(tmp_path / "var"),
    )
    try:
        sweep_task.delay()
        wait_for(
            lambda: cw.cluster.get(*vs) is None and cw.cluster.get(*fork) is None,
            timeout=60,
            what=f"the sweep task to remove the stale route and fork:\n{worker.log}",
        )
        assert "sandboxes.tasks.sweep_orphans" in worker.log
    finally:
        worker.stop()
    # The baseline is untouched.
    assert cw.cluster.get("apps/v1", "Deployment", "web", cw.namespace) is not None
