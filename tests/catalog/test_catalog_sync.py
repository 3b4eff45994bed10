"""The catalog services on PostgreSQL, fed with what discovery makes of API objects:
hand-made entries are left alone, bad annotations are reported, drift is accepted
explicitly, and concurrent syncs neither duplicate nor fail."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.baseline import baseline_objects
from sandboxes.catalog import services
from sandboxes.catalog.discovery import ClusterSnapshot, discover
from sandboxes.catalog.mesh_detection import ClusterCapabilities
from sandboxes.errors import Conflict
from sandboxes.models import AuditEvent, BaselineDrift, BaselineService, CatalogSource
from tests import factories

FORKABLE = {"sidestage.dev/forkable": "true"}


def snapshot(*workloads: tuple[str, dict, int], ns: str = "shop-disc") -> ClusterSnapshot:
    deployments, svcs = [], []
    for name, notes, port in workloads:
        deployment, service = baseline_objects(name, ns)
        deployment["metadata"]["annotations"] = notes
        service["spec"]["ports"] = [{"port": port}]
        deployments.append(deployment)
        svcs.append(service)
    namespace = {"metadata": {"name": ns, "labels": {"istio-injection": "enabled"}}}
    return ClusterSnapshot(
        namespaces={ns: namespace},
        deployments={ns: deployments},
        services={ns: svcs},
        capabilities=ClusterCapabilities(gateway_api=True, istio_crds=True),
    )


def sync(snap: ClusterSnapshot) -> services.SyncReport:
    return services.catalog_sync(discovered=discover(snap), read_namespaces=snap.read_namespaces)


@pytest.mark.django_db
def test_hand_made_entries_are_left_alone():
    manual = factories.BaselineServiceFactory(name="cart", namespace="shop-disc")
    report = sync(snapshot(("cart", FORKABLE, 8080), ("till", FORKABLE, 8080)))
    # Same Service as a hand-made entry: reported, not taken over.
    assert report.created == ["till"]
    assert report.skipped == [
        "shop-disc/cart: catalog name cart is taken by shop-disc/cart (manual); "
        "set sidestage.dev/name."
    ]
    report = sync(snapshot(("till", FORKABLE, 8080)))  # cart's Deployment is gone
    manual.refresh_from_db()
    assert (manual.source, manual.drift, manual.last_seen_at) == (CatalogSource.MANUAL, "", None)
    assert report.drifted == []


@pytest.mark.django_db
def test_bad_annotations_are_reported_per_workload():
    report = sync(
        snapshot(
            ("till", {**FORKABLE, "sidestage.dev/data.DB_URL": "mysql"}, 8080),
            ("scale", {**FORKABLE, "sidestage.dev/name": "Not_A_Name"}, 8080),
            ("rack", {**FORKABLE, "sidestage.dev/entry-path": "no-slash"}, 8080),
        )
    )
    assert report.created == []
    by_workload = {line.split(":")[0]: line for line in report.skipped}
    assert "must be one of postgres, kafka-topic, queue, redis" in by_workload["shop-disc/till"]
    assert "Catalog name 'Not_A_Name'" in by_workload["shop-disc/scale"]
    assert "must be a URL path" in by_workload["shop-disc/rack"]


@pytest.mark.django_db
def test_a_change_is_accepted_explicitly(django_capture_on_commit_callbacks):
    sync(snapshot(("till", FORKABLE, 8080)))
    sync(snapshot(("till", FORKABLE, 9090)))
    entry = BaselineService.objects.get(name="till")
    assert (entry.drift, entry.ports) == (BaselineDrift.CHANGED, [8080])
    accepted = services.catalog_accept_drift(baseline=entry)
    assert (accepted.drift, accepted.ports, accepted.drift_message) == ("", [9090], "")
    assert AuditEvent.objects.filter(verb="catalog.drift_accepted", team=None).count() == 1
    with pytest.raises(Conflict):
        services.catalog_accept_drift(baseline=entry)
    # The next sync agrees with the catalog now, and writes only the time it saw it.
    seen = BaselineService.objects.get(name="till").last_seen_at
    with CaptureQueriesContext(connection) as queries:
        report = sync(snapshot(("till", FORKABLE, 9090)))
    assert report.lines() == []
    writes = [q["sql"] for q in queries if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))]
    assert len(writes) == 1 and "last_seen_at" in writes[0]
    assert BaselineService.objects.get(name="till").last_seen_at > seen


@pytest.mark.django_db(transaction=True)
def test_concurrent_syncs_create_each_entry_once():
    snap = snapshot(*[(f"w{i}", FORKABLE, 8080) for i in range(5)])
    discovered = discover(snap)
    barrier = threading.Barrier(12)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            services.catalog_sync(discovered=discovered, read_namespaces=snap.read_namespaces)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(BaselineService.objects.values_list("name", flat=True)) == [
        f"w{i}" for i in range(5)
    ]
    assert AuditEvent.objects.filter(verb="catalog.discovered").count() == 5


@pytest.mark.django_db
def test_a_lost_service_and_a_mesh_move_are_drift():
    sync(snapshot(("till", FORKABLE, 8080)))
    no_service = snapshot(("till", FORKABLE, 8080))
    no_service.services["shop-disc"] = []
    assert sync(no_service).drifted == ["till"]
    entry = BaselineService.objects.get(name="till")
    assert entry.drift == BaselineDrift.CHANGED
    assert "Service till is gone: No Service selects this Deployment's pods." in (
        entry.drift_message
    )
    moved = snapshot(("till", FORKABLE, 8080))
    moved.namespaces["shop-disc"]["metadata"] = {
        "name": "shop-disc",
        "annotations": {"linkerd.io/inject": "enabled"},
    }
    sync(moved)
    entry.refresh_from_db()
    assert entry.drift_message == (
        "mesh istio -> gateway-api (accept with `sync_catalog --accept till`)."
    )
    assert entry.mesh == "istio"
