"""API tokens: hashed, shown once, scoped, revocable, last use recorded."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from sandboxes.models import ApiToken
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


def test_the_secret_is_shown_once_and_stored_hashed(world, client_for):
    alice = client_for(world.alice)
    response = alice.post("/api/v1/tokens", {"name": "ci", "tenant": "alice"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["secret"]
    token = ApiToken.objects.get(name="ci")
    assert token.secret_hash == ApiToken.hash_secret(secret) and secret not in token.secret_hash
    assert body["tenant"] == "alice"
    listed = alice.get("/api/v1/tokens").json()["results"]
    assert all("secret" not in t for t in listed)
    assert "secret" not in alice.get(f"/api/v1/tokens/{token.pk}").json()

    ci = APIClient()
    ci.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert ci.get("/api/v1/sandboxes").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None

    assert alice.delete(f"/api/v1/tokens/{token.pk}").json()["revokedAt"] is not None
    response = ci.get("/api/v1/sandboxes")
    assert response.status_code == 401
    assert error_of(response)["message"] == "This API token is revoked or expired."


def test_a_tenant_token_cannot_issue_a_team_token(world, client_for):
    ci = client_for(world.bob, tenant=world.bob_tenant)
    response = ci.post("/api/v1/tokens", {"name": "escalate"}, format="json")
    assert response.status_code == 403
    assert error_of(response)["message"] == (
        "A tenant-scoped API token may only issue tokens for its tenant."
    )


def test_duplicate_names_and_other_teams(world, client_for):
    alice = client_for(world.alice)
    alice.post("/api/v1/tokens", {"name": "ci"}, format="json")
    response = alice.post("/api/v1/tokens", {"name": "ci"}, format="json")
    assert error_of(response)["fields"] == {"name": ["Team shop already has a token named ci."]}
    response = alice.post("/api/v1/tokens", {"name": "x", "team": "search"}, format="json")
    assert error_of(response)["fields"] == {"team": ["Unknown team 'search'."]}


def test_charlie_cannot_see_or_revoke_shops_tokens(world, client_for):
    alice = client_for(world.alice)
    token_id = alice.post("/api/v1/tokens", {"name": "ci"}, format="json").json()["id"]
    charlie = client_for(world.charlie)
    assert charlie.get(f"/api/v1/tokens/{token_id}").status_code == 404
    assert charlie.delete(f"/api/v1/tokens/{token_id}").status_code == 404
    assert ApiToken.objects.get(pk=token_id).revoked_at is None


def test_a_member_cannot_revoke_someone_elses_token(world, client_for):
    token_id = (
        client_for(world.alice).post("/api/v1/tokens", {"name": "ci"}, format="json").json()["id"]
    )
    response = client_for(world.bob).delete(f"/api/v1/tokens/{token_id}")
    assert response.status_code == 403


def test_throttled_per_token(world, client_for, settings):
    from portal.auth import TokenRateThrottle

    original = TokenRateThrottle.THROTTLE_RATES
    TokenRateThrottle.THROTTLE_RATES = {"token": "3/min"}
    try:
        alice = client_for(world.alice)
        codes = [alice.get("/api/v1/services").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert error_of(alice.get("/api/v1/services"))["code"] == "throttled"
        assert client_for(world.bob).get("/api/v1/services").status_code == 200
    finally:
        TokenRateThrottle.THROTTLE_RATES = original


def test_tenants_create(world, client_for):
    alice = client_for(world.alice)
    response = alice.post("/api/v1/tenants", {"name": "ci-shop", "kind": "ci"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "ci"
    response = client_for(world.bob).post(
        "/api/v1/tenants", {"name": "bot", "kind": "bot"}, format="json"
    )
    assert error_of(response)["fields"] == {
        "kind": ["Only a lead can create tenants for CI pipelines and bots."]
    }
