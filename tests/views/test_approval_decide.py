"""Approve or reject: leads only, never one's own request, always with a reason."""

from __future__ import annotations

from django.urls import reverse

from sandboxes.models import ApprovalState, AuditEvent
from tests.views.conftest import htmx


def _approval(world, make_sandbox, user=None, tenant=None):
    sandbox = make_sandbox(
        user=user or world.bob,
        tenant=tenant or world.bob_tenant,
        name="preview",
        profile="prod-like",
        forks=[world.fork("payments")],
    )
    return sandbox.approvals.get()


def _post(client, approval, headers=None, **data):
    prefix = f"a{approval.pk}-"
    fields = {
        prefix + key: value
        for key, value in {
            "decision": "approve",
            "reason": "looks fine",
            "valid_for": "24",
            **data,
        }.items()
    }
    return client.post(
        reverse("approval_decide", args=[approval.pk]), fields, headers=headers or {}
    )


def test_lead_approves_through_htmx_and_gets_the_decided_card(login, world, make_sandbox):
    approval = _approval(world, make_sandbox)
    response = _post(login(world.alice), approval, headers=htmx(f"approval-{approval.pk}"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<article id="approval-{approval.pk}"')
    assert "Approved" in body and "looks fine" in body
    assert 'value="approve"' not in body
    approval.refresh_from_db()
    assert approval.state == ApprovalState.APPROVED
    assert approval.decided_by == world.alice
    assert AuditEvent.objects.filter(verb="approval.approve", actor=world.alice).exists()


def test_lead_rejects_without_javascript(login, world, make_sandbox):
    approval = _approval(world, make_sandbox)
    client = login(world.dana)
    response = _post(client, approval, decision="reject", reason="not today")
    assert response.status_code == 302
    assert response["Location"] == reverse("approvals")
    approval.refresh_from_db()
    assert (approval.state, approval.reason) == (ApprovalState.REJECTED, "not today")


def test_a_reason_is_required(login, world, make_sandbox):
    approval = _approval(world, make_sandbox)
    response = _post(
        login(world.alice), approval, headers=htmx(f"approval-{approval.pk}"), reason="  "
    )
    assert response.status_code == 422
    assert "Give a reason" in response.content.decode()
    approval.refresh_from_db()
    assert approval.state == ApprovalState.PENDING


def test_a_member_posting_anyway_gets_403(login, world, make_sandbox):
    approval = _approval(world, make_sandbox, user=world.alice, tenant=world.alice_tenant)
    response = _post(login(world.bob), approval, headers=htmx(f"approval-{approval.pk}"))
    assert response.status_code == 403
    approval.refresh_from_db()
    assert approval.state == ApprovalState.PENDING


def test_a_lead_cannot_decide_their_own_request(login, world, make_sandbox):
    approval = _approval(world, make_sandbox, user=world.alice, tenant=world.alice_tenant)
    response = _post(login(world.alice), approval)
    assert response.status_code == 403
    approval.refresh_from_db()
    assert approval.state == ApprovalState.PENDING


def test_another_teams_lead_gets_404(login, world, make_sandbox):
    approval = _approval(world, make_sandbox)
    assert _post(login(world.charlie), approval).status_code == 404


def test_deciding_twice_is_a_conflict(login, world, make_sandbox):
    approval = _approval(world, make_sandbox)
    _post(login(world.alice), approval)
    response = _post(login(world.dana), approval, headers=htmx(f"approval-{approval.pk}"))
    assert response.status_code == 409
    assert "already approved" in response.content.decode()


def test_only_post(login, world, make_sandbox):
    approval = _approval(world, make_sandbox)
    url = reverse("approval_decide", args=[approval.pk])
    assert login(world.alice).get(url).status_code == 405


def test_the_creating_lead_sees_why_after_a_member_edited(login, world, make_sandbox):
    from sandboxes import services

    sandbox = make_sandbox(
        user=world.alice,
        tenant=world.alice_tenant,
        name="preview",
        profile="prod-like",
        forks=[world.fork("payments")],
    )
    services.sandbox_update(actor=world.bob, sandbox=sandbox, description="tweaked")
    approval = sandbox.approvals.get(state=ApprovalState.PENDING)
    client = login(world.alice)
    response = _post(client, approval, headers=htmx(f"approval-{approval.pk}"))
    assert response.status_code == 403
    body = response.content.decode()
    assert body.lstrip().startswith(f'<article id="approval-{approval.pk}"')
    assert "You created this sandbox, so another lead must decide it" in body
    page = _post(client, approval)
    assert page.status_code == 403
    assert "another lead must decide it (four-eyes rule)" in page.content.decode()
    approval.refresh_from_db()
    assert approval.state == ApprovalState.PENDING
