"""Celery beat: what it schedules, and what the scheduled tasks do when they run."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from portal.celery import app as celery_app
from sandboxes import services
from sandboxes.models import AuditEvent, Sandbox
from sandboxes.tasks import expire_sandboxes, resync_sandboxes

SCHEDULED = {
    "sandboxes.tasks.expire_sandboxes",
    "sandboxes.tasks.resync_sandboxes",
    "sandboxes.tasks.expire_approvals",
}
REPO = Path(__file__).resolve().parents[2]


def _create(world, name: str, **kwargs) -> Sandbox:
    return services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name=name, forks=[world.fork()], **kwargs
    )


def test_the_schedule_names_the_periodic_tasks():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks >= SCHEDULED
    # The Celery app reads the same schedule (CELERY_ namespace).
    assert celery_app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE
    by_task = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert by_task["sandboxes.tasks.expire_sandboxes"] == settings.SIDESTAGE_EXPIRE_SECONDS
    assert by_task["sandboxes.tasks.resync_sandboxes"] == settings.SIDESTAGE_RESYNC_SECONDS


def test_every_scheduled_name_is_a_registered_task():
    celery_app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert set(celery_app.tasks) >= scheduled | SCHEDULED


def test_a_fresh_worker_process_discovers_the_scheduled_tasks():
    """Beat sends names, so the worker must find the tasks by autodiscovery alone,
    without anything having imported sandboxes.tasks first."""
    script = (
        "import django; django.setup()\n"
        "import sys\n"
        "from portal.celery import app\n"
        "assert 'sandboxes.tasks' not in sys.modules\n"
        "app.loader.import_default_modules()\n"
        "print('\\n'.join(sorted(app.tasks)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert set(result.stdout.split()) >= scheduled | {"sandboxes.tasks.reconcile_sandbox"}


def test_expire_sandboxes_marks_exactly_the_overdue_ones(
    world, queued_reconciles, django_capture_on_commit_callbacks
):
    now = timezone.now()
    overdue = _create(world, "overdue")
    just_due = _create(world, "just-due")
    fresh = _create(world, "fresh")
    already_deleting = _create(world, "leaving")
    services.sandbox_delete(actor=world.alice, sandbox=already_deleting)
    Sandbox.objects.filter(pk=overdue.pk).update(expires_at=now - timedelta(hours=1))
    Sandbox.objects.filter(pk=just_due.pk).update(expires_at=now - timedelta(seconds=1))
    Sandbox.objects.filter(pk=already_deleting.pk).update(expires_at=now - timedelta(hours=1))
    Sandbox.objects.filter(pk=fresh.pk).update(expires_at=now + timedelta(minutes=5))
    events_before = AuditEvent.objects.filter(verb="sandbox.expire").count()
    assert events_before == 0

    with django_capture_on_commit_callbacks(execute=True):
        expired = expire_sandboxes()

    assert sorted(expired) == sorted([overdue.pk, just_due.pk])
    marked = set(
        Sandbox.objects.filter(deletion_requested_at__isnull=False).values_list("pk", flat=True)
    )
    assert marked == {overdue.pk, just_due.pk, already_deleting.pk}
    fresh.refresh_from_db()
    assert fresh.deletion_requested_at is None
    events = AuditEvent.objects.filter(verb="sandbox.expire")
    assert sorted(e.sandbox_id for e in events) == sorted([overdue.pk, just_due.pk])
    assert all(e.actor is None and e.team == world.shop for e in events)
    assert all(e.data == {"reason": "TTL expired"} for e in events)
    assert sorted(queued_reconciles) == sorted([overdue.pk, just_due.pk])


def test_expire_sandboxes_twice_does_nothing_the_second_time(world, queued_reconciles):
    sandbox = _create(world, "overdue")
    Sandbox.objects.filter(pk=sandbox.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    assert expire_sandboxes() == [sandbox.pk]
    assert expire_sandboxes() == []
    assert AuditEvent.objects.filter(verb="sandbox.expire").count() == 1


def test_resync_queues_a_reconcile_for_every_sandbox_not_yet_deleted(world, queued_reconciles):
    live = _create(world, "live")
    deleting = _create(world, "deleting")
    services.sandbox_delete(actor=world.alice, sandbox=deleting)
    gone = _create(world, "gone")
    Sandbox.objects.filter(pk=gone.pk).update(
        deletion_requested_at=timezone.now(), deleted_at=timezone.now()
    )
    bobs = services.sandbox_create(
        actor=world.bob, tenant=world.bob_tenant, name="bobs", forks=[world.fork()]
    )
    charlies = services.sandbox_create(
        actor=world.charlie,
        tenant=world.charlie_tenant,
        name="charlies",
        forks=[{"service": "indexer", "image": "ghcr.io/acme/indexer:1"}],
    )
    queued_reconciles.clear()  # nothing above committed; start from a clean slate

    count = resync_sandboxes()

    expected = {live.pk, deleting.pk, bobs.pk, charlies.pk}
    assert count == len(expected)
    assert sorted(queued_reconciles) == sorted(expected)
    assert gone.pk not in queued_reconciles


@pytest.mark.parametrize("task", [expire_sandboxes, resync_sandboxes])
def test_the_periodic_tasks_are_harmless_with_no_sandboxes(db, queued_reconciles, task):
    assert task() in ([], 0)
    assert queued_reconciles == []
