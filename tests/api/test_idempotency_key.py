"""`Idempotency-Key` on POST (docs/api.md, "Retries and idempotency")."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from sandboxes.models import AuditEvent, IdempotencyKey, Sandbox, Tenant
from sandboxes.services import idempotency_keys_purge
from tests.api.conftest import error_of
from tests.api.test_concurrency import bearer, doc, run_threads, secrets_for, statuses


@pytest.fixture(autouse=True)
def _no_broker(queued_reconciles):
    """Reconciles are recorded, not run."""


@pytest.mark.django_db
def test_a_retried_post_gets_the_first_response_and_no_second_object(world, client_for):
    alice = client_for(world.alice)
    first = alice.post(
        "/api/v1/sandboxes", doc(world, "pr-7"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == 201, first.content
    again = alice.post(
        "/api/v1/sandboxes", doc(world, "pr-7"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert Sandbox.objects.filter(name="pr-7").count() == 1
    assert AuditEvent.objects.filter(verb="sandbox.create").count() == 1
    # Without the key, the same POST is a new request: the name is taken.
    assert alice.post("/api/v1/sandboxes", doc(world, "pr-7"), format="json").status_code == 409


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422(world, client_for):
    alice = client_for(world.alice)
    key = {"HTTP_IDEMPOTENCY_KEY": "k-2"}
    assert alice.post("/api/v1/sandboxes", doc(world, "a"), format="json", **key).status_code == 201
    other = alice.post("/api/v1/sandboxes", doc(world, "b"), format="json", **key)
    assert other.status_code == 422
    assert error_of(other)["code"] == "idempotency_key_reused"
    assert not Sandbox.objects.filter(name="b").exists()


@pytest.mark.django_db
def test_keys_are_per_caller_and_errors_are_not_stored(world, client_for):
    key = {"HTTP_IDEMPOTENCY_KEY": "shared"}
    alice, bob = client_for(world.alice), client_for(world.bob, tenant=world.bob_tenant)
    bad = alice.post("/api/v1/sandboxes", doc(world, "x", ttl="forever"), format="json", **key)
    assert bad.status_code == 400
    assert not IdempotencyKey.objects.exists()
    # Fixed and retried with the same key: it runs.
    assert alice.post("/api/v1/sandboxes", doc(world, "x"), format="json", **key).status_code == 201
    # Another token's key of the same name is its own.
    assert (
        bob.post(
            "/api/v1/sandboxes", doc(world, "x", tenant="bob"), format="json", **key
        ).status_code
        == 201
    )
    assert Sandbox.objects.filter(name="x").count() == 2


@pytest.mark.django_db
def test_a_malformed_key_is_a_field_error(world, client_for):
    response = client_for(world.alice).post(
        "/api/v1/sandboxes", doc(world, "x"), format="json", HTTP_IDEMPOTENCY_KEY="ключ"
    )
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["Idempotency-Key"]


@pytest.mark.django_db
def test_keys_expire_after_a_day(world, client_for):
    alice = client_for(world.alice)
    key = {"HTTP_IDEMPOTENCY_KEY": "old"}
    assert alice.post("/api/v1/tenants", {"name": "qa"}, format="json", **key).status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    # An expired key is a fresh key: the request runs again (and finds the name taken).
    assert alice.post("/api/v1/tenants", {"name": "qa"}, format="json", **key).status_code == 409
    alice.post("/api/v1/tenants", {"name": "qa2"}, format="json", HTTP_IDEMPOTENCY_KEY="new")
    IdempotencyKey.objects.filter(key="new").update(
        created_at=timezone.now() - timedelta(hours=23, minutes=59)
    )
    assert idempotency_keys_purge() == 1  # "old"; "new" is kept for its 24 hours
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_with_one_key_make_one_object(world):
    secret = secrets_for(world, 1)[0]
    body = doc(world, "pr-9")

    results = run_threads(
        10,
        lambda i: bearer(secret).post(
            "/api/v1/sandboxes", body, format="json", HTTP_IDEMPOTENCY_KEY="pipeline-9"
        ),
    )
    assert statuses(results) == Counter({201: 10}), statuses(results)
    assert len({r.json()["routingKey"] for r in results}) == 1
    assert sum(r.get("Idempotent-Replayed") == "true" for r in results) == 9
    assert Sandbox.objects.filter(name="pr-9").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_tenant_posts_with_one_key_make_one_tenant(world):
    secret = secrets_for(world, 1)[0]
    results = run_threads(
        8,
        lambda i: bearer(secret).post(
            "/api/v1/tenants",
            {"name": "bot-1", "kind": "bot"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="t",
        ),
    )
    assert statuses(results) == Counter({201: 8}), statuses(results)
    assert Tenant.objects.filter(name="bot-1").count() == 1
