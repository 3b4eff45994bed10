"""A lead approves a prod-like sandbox while the requester's page updates by itself."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sandboxes import services
from sandboxes.models import ApprovalState
from tests.browser.conftest import assert_not_reloaded, mark_no_reload

pytestmark = pytest.mark.browser


def test_lead_approves_and_the_requester_sees_it_without_reloading(logged_in, bworld):
    sandbox = services.sandbox_create(
        actor=bworld.bob,
        tenant=bworld.bob_tenant,
        name="preview",
        profile="prod-like",
        forks=[{"service": "orders", "image": "ghcr.io/acme/orders:rc-1"}],
        approval_note="for the QA run",
    )
    bob = logged_in("bob")
    bob.goto(f"/sandboxes/{sandbox.pk}/")
    approval_box = bob.locator("#sandbox-status")
    expect(approval_box).to_contain_text("Waiting for a lead's approval")
    mark_no_reload(bob)

    # bob is a member: no approve control, and the queue says so.
    bob_queue = logged_in("bob")
    bob_queue.goto("/approvals/")
    expect(bob_queue.get_by_role("button", name="Approve")).to_have_count(0)

    alice = logged_in("alice")
    alice.get_by_role("link", name="Approvals").click()
    card = alice.locator(f"#approval-{sandbox.approvals.get().pk}")
    expect(card).to_contain_text("ghcr.io/acme/orders:rc-1")
    expect(card).to_contain_text("orders-db")
    expect(card).to_contain_text("for the QA run")
    # No reason: refused inline.
    card.get_by_role("button", name="Approve").click()
    expect(card).to_contain_text("Give a reason")
    card.get_by_label("Reason").fill("QA needs it today")
    card.get_by_role("button", name="Approve").click()
    expect(card).to_contain_text("Approved by alice")
    assert sandbox.approvals.get().state == ApprovalState.APPROVED

    expect(approval_box).to_contain_text("Approved by alice", timeout=15_000)
    expect(approval_box).to_contain_text("QA needs it today")
    assert_not_reloaded(bob)
