"""Drift of the catalog reaches the sandboxes that fork it, as a condition, through
the real reconciler; a retired entry takes no new forks but its sandboxes go on."""

from __future__ import annotations

import time

import pytest

from sandboxes import services
from sandboxes.catalog.drift import BASELINE_CURRENT
from sandboxes.catalog.runner import run_catalog_sync
from sandboxes.errors import ValidationFailed
from sandboxes.reconcile import reconcile

pytestmark = pytest.mark.cluster

FORKABLE = {"sidestage.dev/forkable": "true"}


def settle(sandbox, cluster, until="ready", timeout=90):
    deadline = time.monotonic() + timeout
    outcome = reconcile(sandbox.pk, cluster=cluster)
    while outcome.status != until and time.monotonic() < deadline:
        if outcome.requeue_after is None:
            break
        time.sleep(0.5)
        outcome = reconcile(sandbox.pk, cluster=cluster)
    sandbox.refresh_from_db()
    assert outcome.status == until, sandbox.conditions
    return outcome


def test_port_change_then_deletion_give_conditions(
    world, discovery_world, django_capture_on_commit_callbacks, queued_reconciles
):
    dw = discovery_world
    ns = dw.namespace("sbx", labels={"istio-injection": "enabled"})
    dw.workload("basket", ns, annotations=FORKABLE)
    run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    world.shop.allowed_namespaces = [*world.shop.allowed_namespaces, ns]
    world.shop.save()
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="drift", forks=[{"service": "basket"}]
    )
    settle(sandbox, dw.admin)
    assert sandbox.condition(BASELINE_CURRENT) is None

    dw.workload("basket", ns, annotations=FORKABLE, port=9090)
    with django_capture_on_commit_callbacks(execute=True):
        run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    assert sandbox.pk in queued_reconciles  # told now, not at the next resync
    settle(sandbox, dw.admin)  # still works: the baseline is there
    changed = sandbox.condition(BASELINE_CURRENT)
    assert (changed.status, changed.reason) == ("False", "BaselineChanged")
    assert "ports 8080 -> 9090" in changed.message
    assert sandbox.ready_status == "True"

    dw.admin.delete("apps/v1", "Deployment", "basket", ns)
    run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    settle(sandbox, dw.admin, until="failed")
    gone = sandbox.condition(BASELINE_CURRENT)
    assert (gone.status, gone.reason) == ("False", "BaselineNotFound")
    assert sandbox.condition("Ready").reason == "BaselineNotFound"


def test_a_retired_entry_takes_no_new_forks_but_its_sandboxes_go_on(world, discovery_world):
    dw = discovery_world
    ns = dw.namespace("ret", labels={"istio-injection": "enabled"})
    dw.workload("basket", ns, annotations=FORKABLE)
    dw.workload("cart", ns, annotations=FORKABLE)
    run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    world.shop.allowed_namespaces = [*world.shop.allowed_namespaces, ns]
    world.shop.save()
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="keeps", forks=[{"service": "basket"}]
    )
    settle(sandbox, dw.admin)

    dw.workload("basket", ns, annotations={})  # the annotation goes away
    run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])

    with pytest.raises(ValidationFailed) as caught:
        services.sandbox_create(
            actor=world.alice, tenant=world.alice_tenant, name="new", forks=[{"service": "basket"}]
        )
    assert "retired from the catalog" in caught.value.fields["forks[0].service"][0]
    with pytest.raises(ValidationFailed) as caught:  # nor beside another fork
        services.sandbox_create(
            actor=world.alice,
            tenant=world.alice_tenant,
            name="extra",
            forks=[{"service": "cart"}, {"service": "basket"}],
        )
    assert list(caught.value.fields) == ["forks[1].service"]
    # The sandbox that already forks it keeps working and may still be changed.
    updated = services.sandbox_update(
        actor=world.alice, sandbox=sandbox, forks=[{"service": "basket"}, {"service": "cart"}]
    )
    assert updated.generation == 2
    settle(sandbox, dw.admin)
    assert sandbox.ready_status == "True"
