"""Discovery against the real control plane, with only the permissions the chart
grants (`DISCOVERY_PERMISSIONS`, through a ServiceAccount token)."""

from __future__ import annotations

import pytest

from sandboxes.catalog.discovery import discover, read_snapshot
from sandboxes.catalog.runner import run_catalog_sync
from sandboxes.cluster import ClusterError
from sandboxes.models import AuditEvent, BaselineDrift, BaselineService, CatalogSource

pytestmark = pytest.mark.cluster

FORKABLE = {"sidestage.dev/forkable": "true"}


def test_the_restricted_token_holds_exactly_the_discovery_permissions(discovery_world):
    dw = discovery_world
    ns = dw.namespace("perm", labels={"istio-injection": "enabled"})
    dw.workload("orders", ns, annotations=FORKABLE)
    # What discovery needs works...
    assert dw.restricted.get("v1", "Namespace", ns, None) is not None
    assert dw.restricted.list("apps/v1", "Deployment", label_selector="", namespace=ns)
    # ...and nothing more: no Secrets, no Pods, no writes.
    with pytest.raises(ClusterError) as caught:
        dw.restricted.list("v1", "Secret", label_selector="", namespace=ns)
    assert caught.value.reason == "Forbidden"
    with pytest.raises(ClusterError) as caught:
        dw.restricted.list("v1", "Pod", label_selector="", namespace=ns)
    assert caught.value.reason == "Forbidden"
    with pytest.raises(ClusterError) as caught:
        dw.restricted.delete("apps/v1", "Deployment", "orders", ns)
    assert caught.value.reason == "Forbidden"


def test_discovers_annotated_deployments_with_the_right_mesh(db, discovery_world):
    dw = discovery_world
    istio = dw.namespace("istio", labels={"istio-injection": "enabled"})
    linkerd = dw.namespace("linkerd", annotations={"linkerd.io/inject": "enabled"})
    ambient = dw.namespace("ambient", labels={"istio.io/dataplane-mode": "ambient"})
    plain = dw.namespace("plain")
    outside = dw.namespace("outside", labels={"istio-injection": "enabled"})

    dw.workload(
        "orders",
        istio,
        annotations={
            **FORKABLE,
            "sidestage.dev/name": "orders-api",
            "sidestage.dev/description": "Takes orders.",
            "sidestage.dev/entry-path": "/orders",
            "sidestage.dev/data.DATABASE_URL": "postgres",
            "sidestage.dev/data.ORDERS_TOPIC": "kafka-topic",
        },
    )
    dw.workload("payments", linkerd, annotations=FORKABLE)
    dw.workload("internal", linkerd)  # not annotated: never in the catalog
    dw.workload("search", ambient, annotations=FORKABLE, port=9090)
    dw.workload("web", plain, annotations=FORKABLE, pod_labels={"sidecar.istio.io/inject": "true"})
    dw.workload("nomesh", plain, annotations=FORKABLE)  # nothing says which mesh
    dw.workload("elsewhere", outside, annotations=FORKABLE)  # namespace not in the setting

    run = run_catalog_sync(
        dw.restricted, namespaces=[istio, linkerd, ambient, plain], backstage_sources=[]
    )

    entries = {e.name: e for e in BaselineService.objects.filter(source=CatalogSource.CLUSTER)}
    assert sorted(entries) == ["orders-api", "payments", "search", "web"]
    orders = entries["orders-api"]
    assert (orders.namespace, orders.deployment, orders.service, orders.ports, orders.mesh) == (
        istio,
        "orders",
        "orders",
        [8080],
        "istio",
    )
    assert (orders.description, orders.entry_path) == ("Takes orders.", "/orders")
    assert sorted((r.env_var, r.kind) for r in orders.data_resources.all()) == [
        ("DATABASE_URL", "postgres"),
        ("ORDERS_TOPIC", "kafka-topic"),
    ]
    assert "namespace label istio-injection=enabled" in orders.detection["evidence"]
    assert orders.detection["dataplane"] == "istio-sidecar"
    assert orders.last_seen_at is not None
    # The test control plane has the Gateway API CRDs: Linkerd and ambient use HTTPRoute.
    assert entries["payments"].mesh == "gateway-api"
    assert (
        "namespace annotation linkerd.io/inject=enabled"
        in entries["payments"].detection["evidence"]
    )
    assert (entries["search"].mesh, entries["search"].ports) == ("gateway-api", [9090])
    assert entries["search"].detection["dataplane"] == "istio-ambient"
    assert entries["web"].mesh == "istio"
    assert "pod template label sidecar.istio.io/inject=true" in entries["web"].detection["evidence"]
    assert "Gateway API HTTPRoute served" in entries["web"].detection["evidence"]
    assert any(line.startswith(f"{plain}/nomesh:") for line in run.sync.skipped)
    assert not BaselineService.objects.filter(namespace=outside).exists()
    assert not BaselineService.objects.filter(deployment="internal").exists()
    assert AuditEvent.objects.filter(verb="catalog.discovered").count() == 4

    # A second run with nothing new changes nothing.
    again = run_catalog_sync(
        dw.restricted, namespaces=[istio, linkerd, ambient, plain], backstage_sources=[]
    )
    assert again.lines() == [line for line in again.lines() if line.startswith("skipped")]
    assert AuditEvent.objects.count() == 4


def test_a_port_change_and_a_deletion_are_noticed(db, discovery_world):
    dw = discovery_world
    ns = dw.namespace("drift", labels={"istio-injection": "enabled"})
    dw.workload("orders", ns, annotations=FORKABLE)
    dw.workload("cart", ns, annotations=FORKABLE)
    run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    assert BaselineService.objects.filter(namespace=ns).count() == 2

    dw.workload("orders", ns, annotations=FORKABLE, port=9090)  # the Service's port moves
    dw.admin.delete("apps/v1", "Deployment", "cart", ns)
    run = run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    assert sorted(run.sync.drifted) == ["cart", "orders"]

    orders = BaselineService.objects.get(namespace=ns, name="orders")
    assert orders.drift == BaselineDrift.CHANGED
    assert "ports 8080 -> 9090" in orders.drift_message
    assert orders.ports == [8080]  # the catalog keeps what forks were built against
    assert orders.observed["ports"] == [9090]
    cart = BaselineService.objects.get(namespace=ns, name="cart")
    assert cart.drift == BaselineDrift.NOT_FOUND
    assert cart.retired_at is None

    # The Deployment comes back and the port is put back: both marks clear.
    dw.workload("cart", ns, annotations=FORKABLE)
    dw.workload("orders", ns, annotations=FORKABLE, port=8080)
    run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    assert set(BaselineService.objects.filter(namespace=ns).values_list("drift", flat=True)) == {""}


def test_a_removed_annotation_retires_the_entry(db, discovery_world):
    dw = discovery_world
    ns = dw.namespace("retire", labels={"istio-injection": "enabled"})
    dw.workload("orders", ns, annotations=FORKABLE)
    run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    dw.workload("orders", ns, annotations={})
    run = run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    assert run.sync.retired == ["orders"]
    entry = BaselineService.objects.get(namespace=ns, name="orders")
    assert entry.retired_at is not None and entry.drift == ""
    dw.workload("orders", ns, annotations=FORKABLE)
    run = run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    assert run.sync.restored == ["orders"]
    entry.refresh_from_db()
    assert entry.retired_at is None


def test_a_namespace_it_may_not_read_is_reported_and_left_alone(db, discovery_world):
    dw = discovery_world
    ns = dw.namespace("gone-later", labels={"istio-injection": "enabled"})
    dw.workload("orders", ns, annotations=FORKABLE)
    snapshot = read_snapshot(dw.restricted, [ns, "no-such-namespace-xyz"])
    assert snapshot.unreadable == {"no-such-namespace-xyz": "The namespace does not exist."}
    assert [w.deployment for w in discover(snapshot)] == ["orders"]


def test_without_rights_a_namespace_is_reported_forbidden(
    db, discovery_world, kube_api, kube_namespace
):
    from kubernetes import client

    from sandboxes.cluster import Cluster

    dw = discovery_world
    ns = dw.namespace("norights", labels={"istio-injection": "enabled"})
    dw.workload("orders", ns, annotations=FORKABLE)
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_service_account(kube_namespace, {"metadata": {"name": "nobody"}})
    token = core.create_namespaced_service_account_token(
        "nobody",
        kube_namespace,
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 600},
        },
    ).status.token
    conf = client.Configuration()
    conf.host = kube_api.configuration.host
    conf.ssl_ca_cert = kube_api.configuration.ssl_ca_cert
    conf.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(conf) as api:
        snapshot = read_snapshot(Cluster(api, retries=1), [ns])
    assert list(snapshot.unreadable) == [ns]
    assert snapshot.unreadable[ns].startswith("Forbidden: ")
    assert snapshot.capabilities.gateway_api  # API discovery needs no rule
    report = run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    assert report.sync.created == ["orders"]
