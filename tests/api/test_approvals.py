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
