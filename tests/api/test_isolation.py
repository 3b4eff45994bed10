"""Tenant isolation: charlie (team search) never reads, changes or deletes anything of
team shop's, through any endpoint, and gets 404 (never 403) so names do not leak."""

from __future__ import annotations

import pytest

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices(world, make_sandbox):
    return make_sandbox("pr-1")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/sandboxes/pr-1", None),
        ("patch", "/api/v1/sandboxes/pr-1", {"description": "mine now"}),
        ("delete", "/api/v1/sandboxes/pr-1", None),
        ("post", "/api/v1/sandboxes/pr-1/extend", {"ttl": 3600}),
        ("post", "/api/v1/sandboxes/pr-1/approve", {"reason": "ok"}),
        ("post", "/api/v1/sandboxes/pr-1/reject", {"reason": "no"}),
        ("get", "/api/v1/sandboxes/pr-1/wait?timeout=0", None),
        ("get", "/api/v1/sandboxes/pr-1/snippets", None),
        ("get", "/api/v1/sandboxes/pr-1/snippets/curl", None),
        ("get", "/api/v1/sandboxes/pr-1?tenant=shop/alice", None),
        ("get", "/api/v1/sandboxes/pr-1?tenant=alice", None),
    ],
)
def test_charlie_gets_404_for_everything_of_shops(client_for, world, alices, method, path, body):
    charlie = client_for(world.charlie)
    response = getattr(charlie, method)(path, body, format="json")
    assert response.status_code == 404, response.content
    assert error_of(response) == {
        "code": "not_found",
        "message": "Sandbox 'pr-1' not found.",
        "fields": {},
    }
    alices.refresh_from_db()
    assert alices.description == "" and alices.deletion_requested_at is None


def test_charlie_lists_nothing_of_shops(client_for, world, alices, make_sandbox):
    make_sandbox(
        "search-1",
        user=world.charlie,
        tenant=world.charlie_tenant,
        forks=[world.fork("indexer", image="ghcr.io/acme/indexer:1")],
    )
    body = client_for(world.charlie).get("/api/v1/sandboxes").json()
    assert [(s["team"], s["name"]) for s in body["results"]] == [("search", "search-1")]
    tenants = client_for(world.charlie).get("/api/v1/tenants").json()["results"]
    assert [t["name"] for t in tenants] == ["charlie"]
    events = client_for(world.charlie).get("/api/v1/events").json()["results"]
    assert {e["team"] for e in events} == {"search"}


def test_charlie_cannot_put_over_a_shop_sandbox_or_use_a_shop_tenant(client_for, world, alices):
    charlie = client_for(world.charlie)
    doc = {"name": "pr-1", "tenant": "shop/alice", "forks": [world.fork("indexer")]}
    response = charlie.put("/api/v1/sandboxes/pr-1", doc, format="json")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"tenant": ["Unknown tenant 'shop/alice'."]}
    alices.refresh_from_db()
    assert alices.generation == 1


def test_bob_sees_alices_sandbox_in_his_team(client_for, world, alices):
    response = client_for(world.bob).get("/api/v1/sandboxes/pr-1")
    assert response.status_code == 200
    assert response.json()["tenant"] == "alice"


def test_a_tenant_scoped_token_sees_only_its_tenant(client_for, world, alices, make_sandbox):
    make_sandbox("pr-2", user=world.bob, tenant=world.bob_tenant)
    bob_ci = client_for(world.bob, tenant=world.bob_tenant)
    assert [s["name"] for s in bob_ci.get("/api/v1/sandboxes").json()["results"]] == ["pr-2"]
    assert bob_ci.get("/api/v1/sandboxes/pr-1").status_code == 404
    assert bob_ci.delete("/api/v1/sandboxes/pr-1").status_code == 404
    response = bob_ci.post(
        "/api/v1/sandboxes",
        {"name": "pr-3", "tenant": "alice", "forks": [world.fork()]},
        format="json",
    )
    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        "tenant": ["This API token may only act for tenant bob."]
    }
