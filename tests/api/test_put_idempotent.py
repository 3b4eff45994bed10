"""`PUT /api/v1/sandboxes/{name}`: create-or-update by name, safe to re-run."""

from __future__ import annotations

import pytest

from sandboxes.models import AuditEvent, Sandbox
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


def doc(world, **overrides):
    return {
        "name": "pr-42",
        "tenant": "alice",
        "profile": "dev",
        "ttl": "8h",
        "labels": {"pr": "42"},
        "description": "PR 42",
        "forks": [world.fork("orders", env=[{"name": "LOG_LEVEL", "value": "debug"}])],
        **overrides,
    }


def test_the_same_document_twice_is_one_sandbox_and_no_bump(client_for, world):
    alice = client_for(world.alice)
    first = alice.put("/api/v1/sandboxes/pr-42", doc(world), format="json")
    assert first.status_code == 201, first.content
    expires = first.json()["expiresAt"]
    second = alice.put("/api/v1/sandboxes/pr-42", doc(world), format="json")
    assert second.status_code == 200, second.content
    assert Sandbox.objects.filter(name="pr-42").count() == 1
    assert second.json()["generation"] == 1
    assert second.json()["expiresAt"] == expires
    assert AuditEvent.objects.filter(verb="sandbox.update").count() == 0


def test_a_changed_document_bumps_once(client_for, world):
    alice = client_for(world.alice)
    alice.put("/api/v1/sandboxes/pr-42", doc(world), format="json")
    changed = doc(world, forks=[world.fork("orders", image="ghcr.io/acme/orders:pr-2")])
    assert alice.put("/api/v1/sandboxes/pr-42", changed, format="json").json()["generation"] == 2
    assert alice.put("/api/v1/sandboxes/pr-42", changed, format="json").json()["generation"] == 2


def test_a_response_can_be_applied_again(client_for, world):
    alice = client_for(world.alice)
    body = alice.put("/api/v1/sandboxes/pr-42", doc(world), format="json").json()
    again = alice.put("/api/v1/sandboxes/pr-42", body, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["generation"] == 1


def test_a_different_ttl_extends_without_a_bump(client_for, world):
    alice = client_for(world.alice)
    alice.put("/api/v1/sandboxes/pr-42", doc(world), format="json")
    response = alice.put("/api/v1/sandboxes/pr-42", doc(world, ttl=7200), format="json")
    assert (response.json()["ttl"], response.json()["generation"]) == (7200, 1)


def test_a_bad_ttl_leaves_the_spec_unchanged(client_for, world):
    alice = client_for(world.alice)
    alice.put("/api/v1/sandboxes/pr-42", doc(world), format="json")
    response = alice.put(
        "/api/v1/sandboxes/pr-42", doc(world, description="new", ttl=10**9), format="json"
    )
    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        "ttl": ["Must be at most 604800 seconds (the team's maximum)."]
    }
    assert Sandbox.objects.get(name="pr-42").description == "PR 42"


def test_path_and_document_names_must_agree(client_for, world):
    response = client_for(world.alice).put("/api/v1/sandboxes/pr-1", doc(world), format="json")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        "name": ["The path says 'pr-1' but the document says 'pr-42'."]
    }


def test_put_without_tenant_uses_the_callers_own_tenant(client_for, world):
    body = doc(world)
    del body["tenant"]
    response = client_for(world.bob).put("/api/v1/sandboxes/pr-42", body, format="json")
    assert response.status_code == 201
    assert response.json()["tenant"] == "bob"


def test_put_on_a_deleting_sandbox_conflicts(client_for, world):
    alice = client_for(world.alice)
    alice.put("/api/v1/sandboxes/pr-42", doc(world), format="json")
    assert alice.delete("/api/v1/sandboxes/pr-42").status_code == 202
    response = alice.put("/api/v1/sandboxes/pr-42", doc(world), format="json")
    assert response.status_code == 409
    assert error_of(response)["message"] == (
        "Sandbox pr-42 is being deleted and cannot be changed."
    )


def test_a_pipeline_can_recreate_a_name_once_the_old_sandbox_is_gone(client_for, world):
    from django.utils import timezone

    alice = client_for(world.alice)
    old_key = alice.put("/api/v1/sandboxes/pr-42", doc(world), format="json").json()["routingKey"]
    assert alice.delete("/api/v1/sandboxes/pr-42").status_code == 202
    # The reconciler finished the deletion.
    Sandbox.objects.filter(name="pr-42").update(deleted_at=timezone.now())
    assert alice.get("/api/v1/sandboxes/pr-42").json()["routingKey"] == old_key
    again = alice.put("/api/v1/sandboxes/pr-42", doc(world), format="json")
    assert again.status_code == 201, again.content
    assert again.json()["routingKey"] != old_key
    # By name, the present sandbox wins over the deleted one.
    assert alice.get("/api/v1/sandboxes/pr-42").json()["routingKey"] == again.json()["routingKey"]


def test_patch_changes_only_what_it_names(client_for, world):
    alice = client_for(world.alice)
    alice.put("/api/v1/sandboxes/pr-42", doc(world), format="json")
    response = alice.patch("/api/v1/sandboxes/pr-42", {"labels": {"pr": "43"}}, format="json")
    body = response.json()
    assert (body["labels"], body["description"], body["generation"]) == ({"pr": "43"}, "PR 42", 2)
