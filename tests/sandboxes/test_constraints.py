"""Invariants enforced by PostgreSQL itself, not only by the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from sandboxes import services
from sandboxes.models import Approval, ApprovalState, Fork, Membership, Role, Sandbox, Tenant
from tests import factories


def _raw_sandbox(world, **overrides) -> Sandbox:
    now = timezone.now()
    fields = {
        "tenant": world.alice_tenant,
        "name": "raw",
        "routing_key": "k" * 20,
        "ttl": timedelta(hours=1),
        "expires_at": now + timedelta(hours=1),
        "created_by": world.alice,
        **overrides,
    }
    return Sandbox.objects.create(**fields)


def _violates(constraint: str, create) -> None:
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        create()


def test_sandbox_name_is_unique_per_tenant(world):
    _raw_sandbox(world, name="a", routing_key="a" * 20)
    _violates(
        "sandbox_unique_name_per_tenant",
        lambda: _raw_sandbox(world, name="a", routing_key="b" * 20),
    )
    _raw_sandbox(world, tenant=world.bob_tenant, name="a", routing_key="c" * 20)


def test_routing_keys_and_tenant_keys_are_unique(world):
    _raw_sandbox(world, name="a", routing_key="a" * 20)
    _violates("routing_key", lambda: _raw_sandbox(world, name="b", routing_key="a" * 20))
    _violates(
        "tenant_key",
        lambda: Tenant.objects.create(
            team=world.shop, name="dup", tenant_key=world.alice_tenant.tenant_key
        ),
    )


def test_one_fork_per_service_per_sandbox(world):
    sandbox = _raw_sandbox(world)
    Fork.objects.create(sandbox=sandbox, baseline=world.orders)
    _violates(
        "fork_unique_service", lambda: Fork.objects.create(sandbox=sandbox, baseline=world.orders)
    )


def test_tenant_name_unique_per_team_and_membership_unique(world):
    _violates(
        "tenant_unique_name_per_team",
        lambda: Tenant.objects.create(team=world.shop, name="alice", tenant_key="z" * 20),
    )
    _violates(
        "membership_unique_user_team",
        lambda: Membership.objects.create(team=world.shop, user=world.alice, role=Role.MEMBER),
    )
    _violates(
        "membership_role_valid",
        lambda: Membership.objects.create(team=world.search, user=world.bob, role="owner"),
    )


def test_observed_generation_never_exceeds_generation(world):
    sandbox = _raw_sandbox(world)
    sandbox.observed_generation = 2
    _violates("sandbox_observed_le_generation", sandbox.save)


def test_a_lead_cannot_decide_their_own_request_even_bypassing_services(world):
    sandbox = _raw_sandbox(world, profile="prod-like")
    approval = Approval.objects.create(sandbox=sandbox, generation=1, requested_by=world.alice)
    approval.state = ApprovalState.APPROVED
    approval.decided_by = world.alice
    approval.decided_at = timezone.now()
    approval.expires_at = timezone.now() + timedelta(hours=1)
    _violates("approval_not_self_decided", approval.save)


def test_only_one_pending_approval_per_sandbox(world):
    sandbox = _raw_sandbox(world, profile="prod-like")
    Approval.objects.create(sandbox=sandbox, generation=1, requested_by=world.alice)
    _violates(
        "approval_one_pending_per_sandbox",
        lambda: Approval.objects.create(sandbox=sandbox, generation=1, requested_by=world.bob),
    )


def test_an_approval_without_expiry_cannot_be_approved(world):
    sandbox = _raw_sandbox(world, profile="prod-like")
    approval = Approval.objects.create(sandbox=sandbox, generation=1, requested_by=world.bob)
    approval.state = ApprovalState.APPROVED
    approval.decided_by = world.alice
    approval.decided_at = timezone.now()
    _violates("approval_approved_has_expiry", approval.save)


def test_team_default_ttl_cannot_exceed_its_maximum(db):
    _violates(
        "team_default_ttl_le_max",
        lambda: factories.TeamFactory(max_ttl=timedelta(hours=1), default_ttl=timedelta(hours=2)),
    )


def test_tokens_store_only_a_hash(world):
    issued = services.token_issue(actor=world.alice, team=world.shop, name="ci")
    row = type(issued.token).objects.values().get(pk=issued.token.pk)
    assert issued.secret.startswith("sst_")
    assert all(issued.secret not in str(value) for value in row.values())
    assert row["secret_hash"] == type(issued.token).hash_secret(issued.secret)
