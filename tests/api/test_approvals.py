"""Approve and reject: only a lead of the team, never the person who asked."""

from __future__ import annotations

import pytest

from sandboxes.models import ApprovalState
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_for():
    """An API client signed in as a person (session auth), as a lead deciding would be."""
    from rest_framework.test import APIClient

    def make(user):
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def preview(world, make_sandbox):
    return make_sandbox(
        "preview", user=world.alice, profile="prod-like", forks=[world.fork("payments")]
    )


def test_a_member_cannot_approve(client_for, world, preview):
    response = client_for(world.bob).post(
        "/api/v1/sandboxes/preview/approve", {"reason": "fine"}, format="json"
    )
    assert response.status_code == 403
    assert error_of(response) == {
        "code": "forbidden",
        "message": "Only a lead of the team can approve or reject.",
        "fields": {},
    }


def test_a_lead_cannot_approve_their_own_request(client_for, world, preview):
    response = client_for(world.alice).post(
        "/api/v1/sandboxes/preview/approve", {"reason": "trust me"}, format="json"
    )
    assert response.status_code == 403
    assert error_of(response)["message"] == (
        "A lead cannot decide their own request; ask another lead."
    )


def test_another_lead_approves(session_for, world, preview):
    response = session_for(world.dana).post(
        "/api/v1/sandboxes/preview/approve?tenant=alice",
        {"reason": "reviewed", "validFor": 3600},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["decidedBy"], body["requestedBy"]) == ("approved", "dana", "alice")
    assert preview.approvals.get().state == ApprovalState.APPROVED
    again = session_for(world.dana).post(
        "/api/v1/sandboxes/preview/approve", {"reason": "twice"}, format="json"
    )
    assert again.status_code == 409
    assert error_of(again)["message"] == "Sandbox preview has no pending approval request."


def test_a_lead_rejects_with_a_reason(session_for, world, preview):
    dana = session_for(world.dana)
    response = dana.post("/api/v1/sandboxes/preview/reject", {"reason": "  "}, format="json")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"reason": ["Give a reason for the decision."]}
    response = dana.post("/api/v1/sandboxes/preview/reject", {"reason": "no"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "rejected"


def test_validity_is_bounded(session_for, world, preview):
    response = session_for(world.dana).post(
        "/api/v1/sandboxes/preview/approve", {"reason": "ok", "validFor": 0}, format="json"
    )
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"validFor": ["Must be between 1 second and 30 days."]}


def test_other_teams_leads_get_404(client_for, world, preview):
    response = client_for(world.charlie).post(
        "/api/v1/sandboxes/preview/approve", {"reason": "ok"}, format="json"
    )
    assert response.status_code == 404


def test_a_dev_sandbox_has_nothing_to_approve(client_for, world, make_sandbox):
    make_sandbox("dev-1", user=world.bob, tenant=world.bob_tenant)
    response = client_for(world.alice).post(
        "/api/v1/sandboxes/dev-1/approve", {"reason": "ok"}, format="json"
    )
    assert response.status_code == 409


def test_an_api_token_cannot_approve_even_a_leads(client_for, world, preview):
    # Whoever can read a pipeline's secrets could use a lead's token: the four-eyes rule
    # is about people, so a decision needs the lead's own session.
    response = client_for(world.dana).post(
        "/api/v1/sandboxes/preview/approve?tenant=alice", {"reason": "ok"}, format="json"
    )
    assert response.status_code == 403
    assert error_of(response)["message"].startswith("Approvals are a person's decision")
    assert preview.approvals.get().state == ApprovalState.PENDING


def test_a_member_patch_does_not_let_the_creating_lead_approve(client_for, session_for, world):
    """Issue 10's bypass through the API: alice (lead) creates, bob PATCHes the
    description, and alice's approval is refused with the four-eyes code."""
    created = client_for(world.alice).post(
        "/api/v1/sandboxes",
        {"name": "preview", "tenant": "alice", "profile": "prod-like", "forks": [world.fork()]},
        format="json",
    )
    assert created.status_code == 201, created.content
    patched = client_for(world.bob).patch(
        "/api/v1/sandboxes/preview?tenant=alice", {"description": "tweaked"}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["generation"] == 2
    response = session_for(world.alice).post(
        "/api/v1/sandboxes/preview/approve?tenant=alice", {"reason": "mine"}, format="json"
    )
    assert response.status_code == 403
    assert error_of(response) == {
        "code": "four_eyes",
        "message": "You created this sandbox, so another lead must decide it (four-eyes rule).",
        "fields": {},
    }
    ok = session_for(world.dana).post(
        "/api/v1/sandboxes/preview/approve?tenant=alice", {"reason": "reviewed"}, format="json"
    )
    assert ok.status_code == 200, ok.content
    assert (ok.json()["requestedBy"], ok.json()["decidedBy"]) == ("bob", "dana")


def test_an_expired_sandbox_cannot_be_approved(session_for, world, preview):
    type(preview).objects.filter(pk=preview.pk).update(expires_at=preview.created_at)
    response = session_for(world.dana).post(
        "/api/v1/sandboxes/preview/approve?tenant=alice", {"reason": "late"}, format="json"
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"
    assert "extend it before approving" in error_of(response)["message"]
    assert preview.approvals.get().state == ApprovalState.PENDING
