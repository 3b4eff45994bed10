"""Reconciles are coalesced: changes made while a reconcile of the sandbox waits in the
queue publish nothing more, and yet no change is ever left unreconciled, even when
it is committed while a run is under way. Counted on the real Redis broker, with a
real worker; no clock in the assertions."""

from __future__ import annotations

import json
import re
import threading

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections, transaction

from sandboxes import services
from sandboxes.models import Sandbox
from sandboxes.queueing import queue_reconcile, queued_key
from sandboxes.tasks import reconcile_sandbox
from tests.support.worker import start_worker, wait_for_sandbox

pytestmark = pytest.mark.worker


@pytest.fixture
def broker(transactional_db):
    if not settings.REDIS_URL:
        pytest.fail('The coalescing tests need REDIS_URL (eval "$(scripts/services)").')
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()


def queued_reconciles(client: redis.Redis) -> list[dict]:
    """The reconcile messages waiting in the default queue: (args, kwargs) and headers."""
    out = []
    for raw in client.lrange("celery", 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] == "sandboxes.tasks.reconcile_sandbox":
            out.append(message)
    return out


def runs_logged(worker, at_least: int) -> int:
    """Reconcile runs the worker logged as finished, once at least `at_least` are (the
    log line follows the run's commit by a moment)."""
    for _ in range(400):
        runs = len(re.findall(r"reconcile_sandbox\[[0-9a-f-]+\] succeeded", worker.log))
        if runs >= at_least:
            return runs
        threading.Event().wait(0.05)
    return runs


def set_env(world, sandbox: Sandbox, value: str) -> Sandbox:
    return services.sandbox_update(
        actor=world.alice,
        sandbox=sandbox,
        forks=[world.fork(env=[{"name": "FEATURE", "value": value}])],
    )


def test_a_create_and_five_updates_before_the_run_publish_one_reconcile(world, broker, tmp_path):
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="burst", forks=[world.fork()]
    )
    for n in range(5):
        sandbox = set_env(world, sandbox, f"v{n}")
    sandbox.refresh_from_db()
    assert sandbox.generation == 6
    # Six committed changes, one message: the run that is queued reads them all.
    assert len(queued_reconciles(broker)) == 1

    worker = start_worker(
        tmp_path / "worker.log",
        flush=False,
        SIDESTAGE_CLUSTER="none",
        SIDESTAGE_VAR_DIR=str(tmp_path / "var"),
    )
    try:
        wait_for_sandbox(sandbox, lambda s: s.observed_generation == 6, worker)
        assert "v4" in json.dumps(sandbox.applied_manifests)
        # Reconciles per create (render-only: no readiness polls): exactly one.
        assert runs_logged(worker, 1) == 1
        # The run freed the claim: the next change publishes again, and is reconciled.
        set_env(world, sandbox, "after")
        wait_for_sandbox(sandbox, lambda s: s.observed_generation == 7, worker)
        assert runs_logged(worker, 2) == 2
    finally:
        worker.stop()


def test_a_failed_publish_releases_the_claim(world, broker, monkeypatch):
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="lost", forks=[world.fork()]
    )
    broker.flushdb()  # as if that first message were consumed and the claim freed

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(reconcile_sandbox, "delay", refuse)
    with pytest.raises(ConnectionError):
        queue_reconcile(sandbox.pk)
    monkeypatch.undo()
    # Nothing was queued under the claim, so the next request publishes.
    assert queue_reconcile(sandbox.pk) is True
    assert len(queued_reconciles(broker)) == 1


def _wait_until_blocked_on_a_lock(pid: int) -> None:
    with connections["default"].cursor() as cursor:
        for _ in range(2000):
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
            if row and row[0] == "Lock":
                return
            threading.Event().wait(0.01)
    raise AssertionError("the reconcile never waited for the sandbox row")


def test_a_change_committed_while_a_run_is_under_way_is_reconciled(world, broker):
    """The run has started (its claim is freed) and waits for the row; a change commits
    meanwhile. Whatever the run then reads, the change published a run of its own."""
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="racing", forks=[world.fork()]
    )
    assert len(queued_reconciles(broker)) == 1
    broker.delete("celery")  # this test runs that first reconcile itself, below
    pids: list[int] = []
    results: list[str] = []

    def run() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids.append(cursor.fetchone()[0])
            results.append(reconcile_sandbox.apply((sandbox.pk,)).get())
        finally:
            connection.close()

    with transaction.atomic():
        # The change holds the sandbox row until it commits.
        changed = set_env(world, sandbox, "during")
        runner = threading.Thread(target=run)
        runner.start()
        while not pids:
            threading.Event().wait(0.01)
        _wait_until_blocked_on_a_lock(pids[0])
        # The run has freed the claim already: nothing holds it now.
        assert cache.get(queued_key(sandbox.pk)) is None
    runner.join(timeout=60)
    assert results == ["render-only"]
    # The change found the claim free and published a reconcile of its own.
    assert len(queued_reconciles(broker)) == 1
    changed.refresh_from_db()
    assert changed.generation == 2


def test_many_concurrent_changes_are_all_reconciled_with_fewer_runs(world, broker, tmp_path):
    """Eight threads change one sandbox while two workers reconcile it: every change is
    reconciled (the last generation is observed, with the last value), and the number
    of runs is below the number of changes."""
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="storm", forks=[world.fork()]
    )
    workers = [
        start_worker(
            tmp_path / f"w{i}.log",
            flush=False,
            name=f"w{i}",
            SIDESTAGE_CLUSTER="none",
            SIDESTAGE_VAR_DIR=str(tmp_path / "var"),
        )
        for i in range(2)
    ]
    last: dict[int, str] = {}
    try:
        for worker in workers:
            worker.wait_ready()

        def writer(i: int) -> None:
            try:
                for n in range(5):
                    value = f"t{i}-{n}"
                    current = Sandbox.objects.get(pk=sandbox.pk)
                    set_env(world, current, value)
                last[i] = value
            finally:
                connection.close()

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        sandbox.refresh_from_db()
        final = sandbox.generation
        assert final == 1 + 40
        final_value = sandbox.spec["forks"][0]["env"][0]["value"]
        wait_for_sandbox(
            sandbox,
            lambda s: (
                s.observed_generation == final and final_value in json.dumps(s.applied_manifests)
            ),
            workers[0],
            timeout=120,
        )
        runs = sum(
            len(re.findall(r"reconcile_sandbox\[[0-9a-f-]+\] succeeded", w.log)) for w in workers
        )
        assert 1 <= runs < 41, runs
    finally:
        for worker in workers:
            worker.stop()
