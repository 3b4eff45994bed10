"""The reconciler's row locks (docs/architecture.md, "Locking") on the real
PostgreSQL: while a reconcile holds its sandbox and the catalog entries it touches
(for its whole run, cluster I/O included), a create that forks the same services must
not wait for it. Its Fork insert checks the foreign key to the catalog entry with KEY
SHARE, which FOR NO KEY UPDATE lets through and FOR UPDATE would block."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from sandboxes import services
from sandboxes.models import Sandbox
from sandboxes.reconcile import Outcome, SandboxReconciler, reconcile

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_running_reconcile_does_not_block_creates_of_its_services(
    world, queued_reconciles, monkeypatch
):
    running = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="running",
        forks=[world.fork("frontend"), world.fork("payments")],
    )
    holding, release = threading.Event(), threading.Event()
    locked: list[str] = []

    def run_holding_locks(self: SandboxReconciler) -> Outcome:
        # The real lock the run takes on the catalog rows, then a long "cluster call".
        locked.extend(b.name for b in self.touched_services({}))
        holding.set()
        release.wait(30)
        return Outcome("ready")

    monkeypatch.setattr(SandboxReconciler, "run", run_holding_locks)

    def reconcile_in_thread() -> None:
        try:
            reconcile(running.pk, cluster=None)
        finally:
            connection.close()

    worker = threading.Thread(target=reconcile_in_thread)
    worker.start()
    try:
        assert holding.wait(30)
        assert sorted(locked) == ["frontend", "payments"]
        with transaction.atomic():
            # Fail fast instead of hanging if the reconcile's locks block us.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '3s'")
            other = services.sandbox_create(
                actor=world.bob,
                tenant=world.bob_tenant,
                name="other",
                forks=[world.fork("frontend"), world.fork("payments")],
            )
        assert other.forks.count() == 2
    finally:
        release.set()
        worker.join(30)
    assert not worker.is_alive()
    assert Sandbox.objects.count() == 2
