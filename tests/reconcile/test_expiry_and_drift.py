"""TTL expiry takes a sandbox down; drift (a fork deleted or edited by hand) heals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from routing.names import fork_object_name
from sandboxes import services
from sandboxes.models import AuditEvent, Sandbox

pytestmark = pytest.mark.cluster


def test_an_expired_sandbox_is_taken_down(world, cluster_world):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="short",
        ttl_seconds=60,
        forks=[{"service": "web"}],
    )
    cw.settle(sandbox)
    assert services.sandbox_expire_due() == []
    Sandbox.objects.filter(pk=sandbox.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.sandbox_expire_due() == [sandbox.pk]
    cw.settle(sandbox, until="deleted")
    assert (
        cw.cluster.get(
            "apps/v1", "Deployment", fork_object_name("web", sandbox.routing_key), cw.namespace
        )
        is None
    )
    event = AuditEvent.objects.get(verb="sandbox.expire")
    assert event.actor is None and event.data == {"reason": "TTL expired"}


def test_a_fork_deleted_by_hand_is_restored(world, cluster_world):
    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="drift", forks=[{"service": "web"}]
    )
    cw.settle(sandbox)
    name = fork_object_name("web", sandbox.routing_key)
    assert cw.cluster.delete("apps/v1", "Deployment", name, cw.namespace)
    cw.settle(sandbox)
    restored = cw.cluster.get("apps/v1", "Deployment", name, cw.namespace)
    assert restored["status"]["availableReplicas"] == 1


def test_a_hand_edit_of_our_fields_is_reverted(world, cluster_world, kube_cluster):
    from kubernetes import client

    cw = cluster_world
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="edit",
        forks=[{"service": "web", "image": "ghcr.io/acme/web:good"}],
    )
    cw.settle(sandbox)
    name = fork_object_name("web", sandbox.routing_key)
    with kube_cluster.api_client() as api:
        client.AppsV1Api(api).patch_namespaced_deployment(
            name, cw.namespace, {"spec": {"replicas": 3}}
        )
    cw.settle(sandbox)
    assert cw.cluster.get("apps/v1", "Deployment", name, cw.namespace)["spec"]["replicas"] == 1
