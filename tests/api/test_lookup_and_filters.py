"""Finding a sandbox by name across tenants, and the list filters."""

from __future__ import annotations

import pytest
from django.utils import timezone

from sandboxes import conditions as c
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


def test_an_ambiguous_name_asks_for_the_tenant(world, client_for, make_sandbox):
    make_sandbox("pr-1")
    make_sandbox("pr-1", user=world.bob, tenant=world.bob_tenant)
    alice = client_for(world.alice)
    response = alice.get("/api/v1/sandboxes/pr-1")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        "tenant": [
            "Several sandboxes are named pr-1 (shop/alice, shop/bob); "
            "pass ?tenant=<name> or team/name."
        ]
    }
    assert alice.get("/api/v1/sandboxes/pr-1?tenant=bob").json()["tenant"] == "bob"
    assert alice.get("/api/v1/sandboxes/pr-1?tenant=shop/alice").json()["tenant"] == "alice"
    # A tenant-scoped token resolves it by itself.
    assert (
        client_for(world.bob, tenant=world.bob_tenant)
        .get("/api/v1/sandboxes/pr-1")
        .json()["tenant"]
        == "bob"
    )


def test_create_needs_a_tenant_when_the_caller_has_no_single_one(world, client_for):
    from sandboxes.models import Tenant

    Tenant.objects.filter(owner=world.dana).delete()
    response = client_for(world.dana).post(
        "/api/v1/sandboxes", {"name": "pr-1", "forks": [world.fork()]}, format="json"
    )
    assert error_of(response)["fields"] == {
        "tenant": ["You can use several tenants (or none); say which one with `tenant`."]
    }


def test_filters(world, client_for, make_sandbox):
    a = make_sandbox("a", labels={"pr": "1", "team": "web"})
    make_sandbox("b", labels={"pr": "2"}, forks=[world.fork("frontend", image="")])
    make_sandbox("c", user=world.bob, tenant=world.bob_tenant)
    a.conditions = c.set_condition(
        [],
        type_="Ready",
        status="True",
        reason="Ready",
        message="",
        generation=1,
        now=timezone.now(),
    )
    a.save(update_fields=["conditions"])
    alice = client_for(world.alice)

    def names(query: str) -> list[str]:
        response = alice.get(f"/api/v1/sandboxes?{query}")
        assert response.status_code == 200, response.content
        return sorted(s["name"] for s in response.json()["results"])

    assert names("") == ["a", "b", "c"]
    assert names("tenant=bob") == ["c"]
    assert names("condition=Ready") == ["a"]
    assert names("condition=Ready=Unknown") == ["b", "c"]
    assert names("service=frontend") == ["b"]
    assert names("service=orders&label=pr=1") == ["a"]
    assert names("label=team") == ["a"]


def test_unknown_tenant_filter_is_a_field_error(world, client_for):
    response = client_for(world.alice).get("/api/v1/sandboxes?tenant=nobody")
    assert error_of(response)["fields"] == {"tenant": ["Unknown tenant 'nobody'."]}


def test_events_filtered(world, client_for, make_sandbox):
    make_sandbox("a")
    make_sandbox("b")
    alice = client_for(world.alice)
    events = alice.get("/api/v1/events?sandbox=a&verb=sandbox.").json()["results"]
    assert [(e["verb"], e["sandbox"]) for e in events] == [("sandbox.create", "a")]
