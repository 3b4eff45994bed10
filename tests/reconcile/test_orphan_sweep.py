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
