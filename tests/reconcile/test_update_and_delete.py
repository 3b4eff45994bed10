"""Changing a fork rolls its Deployment; deleting leaves no owned object, no route and
no provisioned schema behind."""

from __future__ import annotations

import pytest
from django.db import connection

from routing.names import fork_object_name
from sandboxes import services
from sandboxes.conditions import condition_status

pytestmark = pytest.mark.cluster

OWNED_KINDS = [
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("networking.istio.io/v1", "VirtualService"),
]


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def test_an_image_change_rolls_the_fork(world, cluster_world):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="roll",
        forks=[{"service": "web", "image": "ghcr.io/acme/web:1"}],
    )
    cw.settle(sandbox)
    name = fork_object_name("web", sandbox.routing_key)
    before = cw.cluster.get("apps/v1", "Deployment", name, cw.namespace)

    sandbox = services.sandbox_update(
        actor=world.bob, sandbox=sandbox, forks=[{"service": "web", "image": "ghcr.io/acme/web:2"}]
    )
    assert sandbox.generation == 2
    cw.settle(sandbox)
    after = cw.cluster.get("apps/v1", "Deployment", name, cw.namespace)
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/web:2"
    assert after["metadata"]["generation"] > before["metadata"]["generation"]
    assert after["status"]["updatedReplicas"] == 1
    assert sandbox.observed_generation == 2
    assert condition_status(sandbox.conditions, "Ready") == "True"


def test_delete_removes_routes_workloads_and_data(world, cluster_world, provisioner_dsn):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="bye",
        forks=[{"service": "web"}, {"service": "orders-gw"}],
    )
    cw.settle(sandbox)
    schema = f"sbx_{sandbox.routing_key}"
    assert _schema_exists(schema)
    assert sandbox.provisioned_data == [
        {
            "resource": "orders-db",
            "kind": "schema",
            "name": schema,
            "dsn_env": "SIDESTAGE_TEST_PROVISIONER_DSN",
        }
    ]

    services.sandbox_delete(actor=world.alice, sandbox=sandbox)
    cw.settle(sandbox, until="deleted")
    for api_version, kind in OWNED_KINDS:
        leftovers = cw.cluster.list(
            api_version,
            kind,
            namespace=cw.namespace,
            label_selector="app.kubernetes.io/managed-by=sidestage",
        )
        assert leftovers == [], f"{kind} left behind: {[o['metadata']['name'] for o in leftovers]}"
    assert not _schema_exists(schema)
    assert sandbox.deleted_at is not None
    assert condition_status(sandbox.conditions, "Deleted") == "True"
    # Nothing claims the forks or routes are still there.
    for gone in ("WorkloadsReady", "RoutesProgrammed", "Ready"):
        assert condition_status(sandbox.conditions, gone) == "False"
    # The baseline is untouched.
    assert cw.cluster.get("apps/v1", "Deployment", "web", cw.namespace) is not None
    # The record stays for the audit trail; another reconcile is a no-op.
    assert cw.settle(sandbox, until="gone").status == "gone"


def test_removing_a_fork_takes_its_route_out_before_its_workload(world, cluster_world):
    cw = cluster_world
    # orders-gw's data stays shared here: this test is about the order of deletes.
    world.shop.policy.rules.update(action="shared")
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="shrink", forks=[{"service": "web"}]
    )
    cw.settle(sandbox)
    key = sandbox.routing_key
    sandbox = services.sandbox_update(
        actor=world.alice, sandbox=sandbox, forks=[{"service": "orders-gw"}]
    )
    cw.cluster.stats.reset()
    cw.settle(sandbox)
    order = [m for m in cw.cluster.stats.mutated if "web" in m]
    assert order == [
        f"delete VirtualService {cw.namespace}/web-sidestage",
        f"delete Deployment {cw.namespace}/{fork_object_name('web', key)}",
        f"delete Service {cw.namespace}/{fork_object_name('web', key)}",
    ]
    assert cw.cluster.get("apps/v1", "Deployment", fork_object_name("orders-gw", key), cw.namespace)
