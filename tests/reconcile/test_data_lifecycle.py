"""Sandbox data through the reconciler: a database per sandbox, provisioned once and
not again on a no-op resync; a policy that turns to deny takes the fork and its data
down; expiry takes routes down first, then workloads, then data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from routing.meshes.istio import sandbox_rule_name
from routing.names import fork_object_name, shared_route_name
from sandboxes import data_isolation, services
from sandboxes.conditions import condition_status
from sandboxes.models import DataAction, DataKind, Sandbox
from sandboxes.reconcile import reconcile

pytestmark = pytest.mark.cluster


def _exists(kind: str, name: str) -> bool:
    query = {
        "schema": "SELECT 1 FROM pg_namespace WHERE nspname = %s",
        "database": "SELECT 1 FROM pg_database WHERE datname = %s",
    }[kind]
    with connection.cursor() as cursor:
        cursor.execute(query, [name])
        return cursor.fetchone() is not None


def _fork_env(cw, sandbox, service: str) -> dict[str, str]:
    deployment = cw.cluster.get(
        "apps/v1", "Deployment", fork_object_name(service, sandbox.routing_key), cw.namespace
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def test_isolated_database_is_provisioned_once_and_dropped_on_delete(
    world, cluster_world, provisioner_dsn
):
    cw = cluster_world
    world.shop.policy.rules.filter(kind=DataKind.POSTGRES).update(
        action=DataAction.ISOLATED_DATABASE
    )
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="owndb", forks=[{"service": "orders-gw"}]
    )
    provisions_before = data_isolation.stats.provisions
    cw.settle(sandbox)
    database = f"sbx_{sandbox.routing_key}"
    assert _exists("database", database)
    assert sandbox.provisioned_data == [
        {
            "resource": "orders-db",
            "kind": "database",
            "name": database,
            "dsn_env": "SIDESTAGE_TEST_PROVISIONER_DSN",
        }
    ]
    assert _fork_env(cw, sandbox, "orders-gw")["DATABASE_URL"].endswith(f"/{database}")
    # Provisioned exactly once, though several runs went by while the fork rolled out.
    assert data_isolation.stats.provisions == provisions_before + 1

    # A no-op resync: no admin connection, no mutating API call.
    cw.cluster.stats.reset()
    provisions_before = data_isolation.stats.provisions
    assert reconcile(sandbox.pk, cluster=cw.cluster).status == "ready"
    assert data_isolation.stats.provisions == provisions_before
    assert cw.cluster.stats.mutations == 0

    services.sandbox_delete(actor=world.alice, sandbox=sandbox)
    cw.settle(sandbox, until="deleted")
    assert not _exists("database", database)


def test_a_policy_that_turns_to_deny_takes_fork_and_data_down(
    world, cluster_world, provisioner_dsn
):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="denied",
        forks=[{"service": "orders-gw"}],
    )
    cw.settle(sandbox)
    schema = f"sbx_{sandbox.routing_key}"
    assert _exists("schema", schema)
    name = fork_object_name("orders-gw", sandbox.routing_key)
    route_kind = ("gateway.networking.k8s.io/v1", "HTTPRoute")
    assert cw.cluster.get(*route_kind, name, cw.namespace) is not None

    world.shop.policy.rules.filter(kind=DataKind.POSTGRES).update(action=DataAction.DENY)
    outcome = reconcile(sandbox.pk, cluster=cw.cluster)
    assert outcome.status == "blocked"
    sandbox.refresh_from_db()
    ready = next(c for c in sandbox.conditions if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PolicyDenied")
    assert condition_status(sandbox.conditions, "PolicySatisfied") == "False"
    assert cw.cluster.get(*route_kind, name, cw.namespace) is None
    assert cw.cluster.get("apps/v1", "Deployment", name, cw.namespace) is None
    assert cw.cluster.get("v1", "Service", name, cw.namespace) is None
    assert not _exists("schema", schema)
    assert sandbox.provisioned_data == []
    # The baseline keeps serving.
    assert cw.cluster.get("apps/v1", "Deployment", "orders", cw.namespace) is not None


def test_expiry_takes_routes_then_workloads_then_data_down(world, cluster_world, provisioner_dsn):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="ttl",
        ttl_seconds=60,
        forks=[{"service": "web"}, {"service": "orders-gw"}],
    )
    cw.settle(sandbox)
    key = sandbox.routing_key
    schema = f"sbx_{key}"
    assert _exists("schema", schema)
    Sandbox.objects.filter(pk=sandbox.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.sandbox_expire_due() == [sandbox.pk]

    cw.cluster.stats.reset()
    first = reconcile(sandbox.pk, cluster=cw.cluster)
    # Routes and workloads were asked to go; the data waits until they are gone.
    # The data goes only in a run that found no workload left: while any remains
    # ("deleting"), the schema is still there.
    assert first.status in {"deleting", "deleted"}
    if first.status == "deleting":
        assert _exists("schema", schema)
        cw.settle(sandbox, until="deleted")
    mutated = cw.cluster.stats.mutated
    fork_web, fork_orders = fork_object_name("web", key), fork_object_name("orders-gw", key)
    order = [
        mutated.index(f"delete VirtualService {cw.namespace}/{shared_route_name('web')}"),
        mutated.index(f"delete HTTPRoute {cw.namespace}/{fork_orders}"),
    ]
    workloads = [
        mutated.index(f"delete Deployment {cw.namespace}/{fork_web}"),
        mutated.index(f"delete Deployment {cw.namespace}/{fork_orders}"),
    ]
    assert max(order) < min(workloads), mutated
    assert not _exists("schema", schema)
    for api_version, kind, name in (
        ("apps/v1", "Deployment", fork_web),
        ("apps/v1", "Deployment", fork_orders),
        ("v1", "Service", fork_web),
        ("gateway.networking.k8s.io/v1", "HTTPRoute", fork_orders),
    ):
        assert cw.cluster.get(api_version, kind, name, cw.namespace) is None, (kind, name)
    vs = cw.cluster.get(
        "networking.istio.io/v1", "VirtualService", shared_route_name("web"), cw.namespace
    )
    assert vs is None or sandbox_rule_name(key) not in [r["name"] for r in vs["spec"]["http"]]
    sandbox.refresh_from_db()
    assert sandbox.deleted_at is not None and sandbox.provisioned_data == []
