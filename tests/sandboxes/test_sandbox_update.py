"""sandbox_update bumps the generation only on a real change; extend and delete."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sandboxes import services
from sandboxes.errors import Conflict, ValidationFailed
from sandboxes.models import ApprovalState, AuditEvent


@pytest.fixture
def sandbox(world):
    return services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="pr-7",
        forks=[world.fork("payments", image="ghcr.io/acme/payments:1")],
    )


def test_a_changed_image_bumps_the_generation_and_is_audited(
    world, sandbox, queued_reconciles, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        updated = services.sandbox_update(
            actor=world.bob,
            sandbox=sandbox,
            forks=[world.fork("payments", image="ghcr.io/acme/payments:2")],
        )
    assert updated.generation == 2
    assert updated.forks.get().image == "ghcr.io/acme/payments:2"
    event = AuditEvent.objects.get(verb="sandbox.update")
    assert event.actor == world.bob
    assert event.data["before"]["forks"][0]["image"] == "ghcr.io/acme/payments:1"
    assert event.data["after"]["forks"][0]["image"] == "ghcr.io/acme/payments:2"
    assert queued_reconciles == [sandbox.pk]


def test_the_same_spec_again_changes_nothing(world, sandbox):
    services.sandbox_update(
        actor=world.alice,
        sandbox=sandbox,
        forks=[world.fork("payments", image="ghcr.io/acme/payments:1")],
    )
    sandbox.refresh_from_db()
    assert sandbox.generation == 1
    assert not AuditEvent.objects.filter(verb="sandbox.update").exists()


def test_adding_and_removing_forks(world, sandbox):
    updated = services.sandbox_update(
        actor=world.alice, sandbox=sandbox, forks=[world.fork("frontend"), world.fork("orders")]
    )
    assert sorted(f.baseline.name for f in updated.forks.all()) == ["frontend", "orders"]
    assert updated.generation == 2


def test_invalid_update_changes_nothing(world, sandbox):
    with pytest.raises(ValidationFailed):
        services.sandbox_update(actor=world.alice, sandbox=sandbox, forks=[world.fork("nope")])
    sandbox.refresh_from_db()
    assert sandbox.generation == 1
    assert [f.baseline.name for f in sandbox.forks.all()] == ["payments"]


def test_changing_a_prod_like_sandbox_needs_a_new_approval(world):
    sandbox = services.sandbox_create(
        actor=world.bob,
        tenant=world.bob_tenant,
        name="preview",
        profile="prod-like",
        forks=[world.fork("payments")],
    )
    first = sandbox.approvals.get()
    services.approval_decide(actor=world.alice, approval=first, approve=True, reason="looks fine")
    services.sandbox_update(
        actor=world.bob, sandbox=sandbox, forks=[world.fork("payments", replicas=2)]
    )
    first.refresh_from_db()
    assert first.state == ApprovalState.SUPERSEDED
    pending = sandbox.approvals.get(state=ApprovalState.PENDING)
    assert pending.generation == 2


def test_extend_sets_a_new_expiry_within_the_team_maximum(world, sandbox):
    before = timezone.now()
    services.sandbox_extend(actor=world.bob, sandbox=sandbox, ttl_seconds=2 * 3600)
    sandbox.refresh_from_db()
    assert before + timedelta(hours=2) <= sandbox.expires_at <= timezone.now() + timedelta(hours=2)
    assert AuditEvent.objects.filter(verb="sandbox.extend", sandbox=sandbox).count() == 1
    with pytest.raises(ValidationFailed) as err:
        services.sandbox_extend(actor=world.bob, sandbox=sandbox, ttl_seconds=10**9)
    assert err.value.fields == {"ttl": ["Must be at most 604800 seconds (the team's maximum)."]}


def test_delete_marks_once_and_blocks_further_changes(world, sandbox):
    services.sandbox_delete(actor=world.alice, sandbox=sandbox)
    services.sandbox_delete(actor=world.alice, sandbox=sandbox)
    sandbox.refresh_from_db()
    assert sandbox.is_deleting
    assert AuditEvent.objects.filter(verb="sandbox.delete").count() == 1
    with pytest.raises(Conflict):
        services.sandbox_update(actor=world.alice, sandbox=sandbox, forks=[world.fork("frontend")])
    with pytest.raises(Conflict):
        services.sandbox_extend(actor=world.alice, sandbox=sandbox, ttl_seconds=60)
