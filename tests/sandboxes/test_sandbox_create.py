"""sandbox_create: what it writes, what it queues, and what it refuses."""

from __future__ import annotations

import pytest

from routing.keys import is_valid_routing_key
from sandboxes import services
from sandboxes.errors import NotAllowed, QuotaExceeded, ValidationFailed
from sandboxes.models import Approval, ApprovalState, AuditEvent, Sandbox


def test_create_writes_sandbox_forks_audit_and_queues_on_commit(
    world, queued_reconciles, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sandbox = services.sandbox_create(
            actor=world.alice,
            tenant=world.alice_tenant,
            name="pr-42",
            forks=[world.fork("orders", env=[{"name": "LOG_LEVEL", "value": "debug"}])],
        )
    sandbox.refresh_from_db()
    assert sandbox.generation == 1
    assert sandbox.observed_generation == 0
    assert is_valid_routing_key(sandbox.routing_key)
    assert [f.baseline.name for f in sandbox.forks.all()] == ["orders"]
    assert sandbox.spec["forks"][0]["env"] == [{"name": "LOG_LEVEL", "value": "debug"}]
    assert sandbox.expires_at - sandbox.created_at == world.shop.default_ttl
    event = AuditEvent.objects.get(sandbox=sandbox)
    assert (event.verb, event.actor, event.team) == ("sandbox.create", world.alice, world.shop)
    assert event.data["spec"]["name"] == "pr-42"
    assert queued_reconciles == [sandbox.pk]


def test_nothing_is_queued_when_the_transaction_rolls_back(
    world, queued_reconciles, django_capture_on_commit_callbacks
):
    from django.db import transaction

    class Boom(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        services.sandbox_create(
            actor=world.alice, tenant=world.alice_tenant, name="pr-1", forks=[world.fork()]
        )
        raise Boom
    assert queued_reconciles == []
    assert not Sandbox.objects.filter(name="pr-1").exists()


def test_prod_like_create_opens_a_pending_approval(world):
    sandbox = services.sandbox_create(
        actor=world.bob,
        tenant=world.bob_tenant,
        name="preview",
        profile="prod-like",
        forks=[world.fork("payments")],
    )
    approval = Approval.objects.get(sandbox=sandbox)
    assert approval.state == ApprovalState.PENDING
    assert approval.requested_by == world.bob
    assert approval.generation == sandbox.generation


def test_a_non_member_cannot_create_in_another_teams_tenant(world):
    with pytest.raises(NotAllowed):
        services.sandbox_create(
            actor=world.charlie, tenant=world.alice_tenant, name="x", forks=[world.fork()]
        )


def test_team_quota_is_enforced(world):
    world.shop.max_sandboxes = 1
    world.shop.save()
    services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="one", forks=[world.fork()]
    )
    with pytest.raises(QuotaExceeded, match="quota of 1"):
        services.sandbox_create(
            actor=world.bob, tenant=world.bob_tenant, name="two", forks=[world.fork()]
        )


def test_a_deleted_sandbox_frees_its_quota_slot(world):
    world.shop.max_sandboxes = 1
    world.shop.save()
    first = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="one", forks=[world.fork()]
    )
    services.sandbox_delete(actor=world.alice, sandbox=first)
    services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="two", forks=[world.fork()]
    )


def test_duplicate_name_per_tenant_is_a_field_error(world):
    services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="same", forks=[world.fork()]
    )
    with pytest.raises(ValidationFailed) as err:
        services.sandbox_create(
            actor=world.alice, tenant=world.alice_tenant, name="same", forks=[world.fork()]
        )
    assert err.value.fields == {"name": ["Tenant alice already has a sandbox named same."]}
    # Another tenant may use the same name.
    services.sandbox_create(
        actor=world.bob, tenant=world.bob_tenant, name="same", forks=[world.fork()]
    )


def test_a_name_is_free_again_once_the_sandbox_is_fully_deleted(world):
    from django.utils import timezone

    first = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="pr-42", forks=[world.fork()]
    )
    services.sandbox_delete(actor=world.alice, sandbox=first)
    # Still being deleted: the name is taken.
    with pytest.raises(ValidationFailed):
        services.sandbox_create(
            actor=world.alice, tenant=world.alice_tenant, name="pr-42", forks=[world.fork()]
        )
    Sandbox.objects.filter(pk=first.pk).update(deleted_at=timezone.now())
    second = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="pr-42", forks=[world.fork()]
    )
    assert second.pk != first.pk
    assert second.routing_key != first.routing_key
    assert Sandbox.objects.filter(name="pr-42").count() == 2
