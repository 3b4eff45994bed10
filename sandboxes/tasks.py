"""Celery tasks. They take ids only and call into services or the reconciler, so a
lost or repeated message does no harm: every task is safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from sandboxes import services

log = logging.getLogger(__name__)


@shared_task(name="sandboxes.tasks.reconcile_sandbox", bind=True, max_retries=None)
def reconcile_sandbox(self, sandbox_id: int, polls: int = 0) -> str:  # type: ignore[no-untyped-def]
    # `polls`: how many readiness polls came before this one (0 for a change), which
    # sets the next poll's countdown. Still an id, not an event: the run reads the row.
    from sandboxes import reconcile

    return reconcile.run_reconcile_task(self, sandbox_id, polls)


@shared_task(name="sandboxes.tasks.expire_sandboxes")
def expire_sandboxes() -> list[int]:
    expired = services.sandbox_expire_due()
    if expired:
        log.info("expired %d sandboxes: %s", len(expired), expired)
    return expired


@shared_task(name="sandboxes.tasks.expire_approvals")
def expire_approvals() -> list[int]:
    return services.approvals_expire_due()


@shared_task(name="sandboxes.tasks.resync_sandboxes")
def resync_sandboxes() -> int:
    """Queue a reconcile for every sandbox that may still have objects in the cluster,
    so drift and lost messages heal themselves."""
    from sandboxes import reconcile

    return reconcile.queue_resync()


@shared_task(name="sandboxes.tasks.sweep_orphans")
def sweep_orphans() -> list[str]:
    """Delete owned objects whose sandbox is gone (lost messages, manual DB edits)."""
    from sandboxes.cluster import cluster_from_settings
    from sandboxes.sweep import sweep_orphans as sweep

    deleted = sweep(cluster_from_settings())
    if deleted:
        log.info("swept %d orphaned objects: %s", len(deleted), deleted)
    return deleted


@shared_task(name="sandboxes.tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Forget `Idempotency-Key`s older than 24 hours."""
    return services.idempotency_keys_purge()


@shared_task(name="sandboxes.tasks.sync_catalog")
def sync_catalog() -> list[str]:
    """Discover forkable services and import Backstage files (sandboxes/catalog/).
    Off until SIDESTAGE_DISCOVERY_NAMESPACES names namespaces and a cluster is set."""
    from sandboxes.catalog.runner import configured_namespaces, run_catalog_sync
    from sandboxes.cluster import cluster_from_settings

    cluster = cluster_from_settings()
    if cluster is None or not configured_namespaces():
        return []
    lines = run_catalog_sync(cluster).lines()
    for line in lines:
        log.info("catalog: %s", line)
    return lines
