"""Provisional: the real level-triggered reconciler lands with the reconciler issue.

Until then a reconcile records honestly that nothing was deployed, and finishes
deletions (there is nothing in any cluster to take down yet).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from sandboxes import conditions as c
from sandboxes.models import Sandbox


def reconcile(sandbox_id: int) -> str:
    with transaction.atomic():
        sandbox = Sandbox.objects.select_for_update().filter(pk=sandbox_id).first()
        if sandbox is None or sandbox.deleted_at:
            return "gone"
        now = timezone.now()
        if sandbox.is_deleting:
            sandbox.conditions = c.set_condition(
                sandbox.conditions,
                type_=c.DELETED,
                status="True",
                reason="Deleted",
                message="Nothing was deployed.",
                generation=sandbox.generation,
                now=now,
            )
            sandbox.deleted_at = now
        else:
            sandbox.conditions = c.set_condition(
                sandbox.conditions,
                type_=c.READY,
                status="False",
                reason="NoCluster",
                message="No reconciler is configured yet; nothing is deployed.",
                generation=sandbox.generation,
                now=now,
            )
        sandbox.observed_generation = sandbox.generation
        sandbox.save(update_fields=["conditions", "observed_generation", "deleted_at"])
        return "ok"


def run_reconcile_task(task: Any, sandbox_id: int) -> str:
    return reconcile(sandbox_id)


def queue_resync() -> int:
    from sandboxes.tasks import reconcile_sandbox

    ids = list(Sandbox.objects.present().values_list("pk", flat=True))
    for sandbox_id in ids:
        reconcile_sandbox.delay(sandbox_id)
    return len(ids)
