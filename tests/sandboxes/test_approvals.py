"""Approvals: only a lead of the team, never the requester, with a reason and expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sandboxes import services
from sandboxes.errors import Conflict, NotAllowed, ValidationFailed
from sandboxes.models import ApprovalState, AuditEvent


def _prod_like(world, actor, tenant, name="preview"):
    sandbox = services.sandbox_create(
        actor=actor, tenant=tenant, name=name, profile="prod-like", forks=[world.fork("payments")]
    )
    return sandbox, sandbox.approvals.get()


def test_a_lead_approves_another_persons_request(world):
    _, approval = _prod_like(world, world.bob, world.bob_tenant)
    decided = services.approval_decide(
        actor=world.alice, approval=approval, approve=True, reason="release candidate"
    )
    assert decided.state == ApprovalState.APPROVED
    assert decided.decided_by == world.alice
    assert decided.is_valid()
    assert decided.expires_at - decided.decided_at == timedelta(hours=24)
    event = AuditEvent.objects.get(verb="approval.approve")
    assert event.data["reason"] == "release candidate"


def test_a_member_cannot_approve(world):
    _, approval = _prod_like(world, world.alice, world.alice_tenant)
    with pytest.raises(NotAllowed, match="Only a lead"):
        services.approval_decide(actor=world.bob, approval=approval, approve=True, reason="ok")


def test_a_lead_cannot_approve_their_own_request(world):
    _, approval = _prod_like(world, world.alice, world.alice_tenant)
    with pytest.raises(NotAllowed, match="cannot decide their own request"):
        services.approval_decide(actor=world.alice, approval=approval, approve=True, reason="ok")
    # Another lead can.
    services.approval_decide(actor=world.dana, approval=approval, approve=True, reason="ok")


def test_a_lead_of_another_team_cannot_approve(world):
    _, approval = _prod_like(world, world.bob, world.bob_tenant)
    with pytest.raises(NotAllowed):
        services.approval_decide(actor=world.charlie, approval=approval, approve=True, reason="x")


def test_a_decision_needs_a_reason_and_a_sane_validity(world):
    _, approval = _prod_like(world, world.bob, world.bob_tenant)
    with pytest.raises(ValidationFailed) as err:
        services.approval_decide(
            actor=world.alice,
            approval=approval,
            approve=True,
            reason="  ",
            valid_for=timedelta(days=90),
        )
    assert err.value.fields == {
        "reason": ["Give a reason for the decision."],
        "valid_for": ["Must be between 1 second and 30 days."],
    }


def test_approvals_expire(world):
    _, approval = _prod_like(world, world.bob, world.bob_tenant)
    decided = services.approval_decide(
        actor=world.alice,
        approval=approval,
        approve=True,
        reason="ok",
        valid_for=timedelta(minutes=5),
    )
    assert decided.is_valid()
    assert not decided.is_valid(now=timezone.now() + timedelta(minutes=6))


def test_a_decision_is_final(world):
    _, approval = _prod_like(world, world.bob, world.bob_tenant)
    services.approval_decide(actor=world.alice, approval=approval, approve=False, reason="no")
    with pytest.raises(Conflict, match="already rejected"):
        services.approval_decide(actor=world.dana, approval=approval, approve=True, reason="yes")


def test_a_stale_request_cannot_be_approved(world):
    sandbox, approval = _prod_like(world, world.bob, world.bob_tenant)
    services.sandbox_update(actor=world.bob, sandbox=sandbox, forks=[world.fork("frontend")])
    approval.refresh_from_db()
    assert approval.state == ApprovalState.SUPERSEDED
    with pytest.raises(Conflict):
        services.approval_decide(actor=world.alice, approval=approval, approve=True, reason="x")


def test_dev_sandboxes_need_no_approval(world):
    sandbox = services.sandbox_create(
        actor=world.bob, tenant=world.bob_tenant, name="dev", forks=[world.fork("payments")]
    )
    assert not sandbox.approvals.exists()
    with pytest.raises(ValidationFailed):
        services.approval_request(actor=world.bob, sandbox=sandbox)


def test_expired_approvals_queue_a_reconcile(world, queued_reconciles):
    sandbox, approval = _prod_like(world, world.bob, world.bob_tenant)
    services.approval_decide(
        actor=world.alice,
        approval=approval,
        approve=True,
        reason="ok",
        valid_for=timedelta(minutes=5),
    )
    assert services.approvals_expire_due() == []
    later = timezone.now() + timedelta(minutes=6)
    assert services.approvals_expire_due(now=later) == [sandbox.pk]
    assert queued_reconciles == [sandbox.pk]


# --- The four-eyes rule covers everyone who wrote the spec, not only the requester ---------
def test_a_description_patch_makes_a_new_generation_with_a_new_author(world):
    sandbox, _ = _prod_like(world, world.alice, world.alice_tenant)
    services.sandbox_update(actor=world.bob, sandbox=sandbox, description="tweaked")
    sandbox.refresh_from_db()
    assert sandbox.generation == 2
    assert list(sandbox.revisions.values_list("generation", "author__username")) == [
        (1, "alice"),
        (2, "bob"),
    ]


def test_the_lead_who_created_the_sandbox_cannot_approve_after_a_member_touched_it(world):
    """The bypass from issue 10: a lead creates a prod-like sandbox, a member PATCHes its
    description (the request is now the member's), and the lead approves."""
    sandbox, _ = _prod_like(world, world.alice, world.alice_tenant)
    services.sandbox_update(actor=world.bob, sandbox=sandbox, description="tweaked")
    approval = sandbox.approvals.get(state=ApprovalState.PENDING)
    assert approval.requested_by == world.bob
    with pytest.raises(NotAllowed, match="You created this sandbox") as err:
        services.approval_decide(actor=world.alice, approval=approval, approve=True, reason="ok")
    assert err.value.code == "four_eyes"
    # Rejecting is a decision too.
    with pytest.raises(NotAllowed, match="You created this sandbox"):
        services.approval_decide(actor=world.alice, approval=approval, approve=False, reason="x")
    approval.refresh_from_db()
    assert approval.state == ApprovalState.PENDING
    services.approval_decide(actor=world.dana, approval=approval, approve=True, reason="ok")


def test_a_lead_who_changed_an_earlier_generation_cannot_approve_a_later_one(world):
    sandbox, _ = _prod_like(world, world.bob, world.bob_tenant)
    services.sandbox_update(actor=world.dana, sandbox=sandbox, labels={"pr": "42"})
    services.sandbox_update(actor=world.bob, sandbox=sandbox, description="again")
    approval = sandbox.approvals.get(state=ApprovalState.PENDING)
    assert (approval.generation, approval.requested_by) == (3, world.bob)
    with pytest.raises(NotAllowed, match=r"You changed this sandbox.s spec \(generation 2\)"):
        services.approval_decide(actor=world.dana, approval=approval, approve=True, reason="ok")
    decided = services.approval_decide(
        actor=world.alice, approval=approval, approve=True, reason="ok"
    )
    assert decided.state == ApprovalState.APPROVED


def test_a_lead_with_a_stake_does_not_see_the_request_in_their_queue(world):
    from sandboxes import selectors

    sandbox, _ = _prod_like(world, world.alice, world.alice_tenant)
    services.sandbox_update(actor=world.bob, sandbox=sandbox, description="tweaked")
    assert list(selectors.approvals_pending_for_lead(world.alice)) == []
    assert [a.sandbox for a in selectors.approvals_pending_for_lead(world.dana)] == [sandbox]


# --- TTL and deletion ------------------------------------------------------------------------
def test_an_expired_sandbox_cannot_be_approved(world):
    sandbox, approval = _prod_like(world, world.bob, world.bob_tenant)
    type(sandbox).objects.filter(pk=sandbox.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(Conflict, match=r"expired at .*; extend it before approving"):
        services.approval_decide(actor=world.alice, approval=approval, approve=True, reason="ok")
    approval.refresh_from_db()
    assert approval.state == ApprovalState.PENDING
    # Rejecting an expired request does no harm and clears the queue.
    rejected = services.approval_decide(
        actor=world.alice, approval=approval, approve=False, reason="expired"
    )
    assert rejected.state == ApprovalState.REJECTED


def test_an_extended_sandbox_can_be_approved_again(world):
    sandbox, approval = _prod_like(world, world.bob, world.bob_tenant)
    type(sandbox).objects.filter(pk=sandbox.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    services.sandbox_extend(actor=world.bob, sandbox=sandbox, ttl_seconds=3600)
    decided = services.approval_decide(
        actor=world.alice, approval=approval, approve=True, reason="ok"
    )
    assert decided.is_valid()


def test_a_sandbox_being_deleted_cannot_be_approved(world):
    sandbox, approval = _prod_like(world, world.bob, world.bob_tenant)
    services.sandbox_delete(actor=world.bob, sandbox=sandbox)
    with pytest.raises(Conflict):
        services.approval_decide(actor=world.alice, approval=approval, approve=True, reason="ok")
    approval.refresh_from_db()
    assert approval.state == ApprovalState.SUPERSEDED
