"""Snippets: every format by name, built by routing.snippets from the sandbox's key."""

from __future__ import annotations

import pytest

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


def _ports_resolved(sandbox, ports=(8080,)):
    """What the reconciler records from the live baseline Service and Deployment
    (tests/reconcile/test_container_ports.py proves it does)."""
    sandbox.forks.update(status={"containerPorts": list(ports)})


def test_all_snippets_carry_the_key(world, client_for, make_sandbox):
    sandbox = make_sandbox("pr-1")
    _ports_resolved(sandbox)
    body = client_for(world.bob).get("/api/v1/sandboxes/pr-1/snippets").json()
    key = sandbox.routing_key
    assert body["routingKey"] == key
    assert body["url"] == "http://orders.shop.svc.cluster.local:8080/"
    assert body["snippets"]["header"] == f"x-sidestage-route: {key}"
    assert body["snippets"]["baggage"] == f"baggage: sidestage={key}"
    assert f"baggage: sidestage={key}" in body["snippets"]["curl"]
    assert "dtab" not in body["snippets"]
    assert f"deployment/orders-sbx-{key}" in body["snippets"]["mirrord"]
    # A real in-cluster address, never a placeholder.
    assert body["snippets"]["grpcurl"].endswith(" orders.shop.svc.cluster.local:8080 list")


@pytest.mark.parametrize("fmt", ["curl", "baggage", "header", "modheader", "mirrord"])
def test_each_format_by_name(world, client_for, make_sandbox, fmt):
    sandbox = make_sandbox("pr-1")
    _ports_resolved(sandbox)
    body = client_for(world.alice).get(f"/api/v1/sandboxes/pr-1/snippets/{fmt}").json()
    assert body["format"] == fmt
    assert sandbox.routing_key in body["content"]


def test_dtab_for_a_linkerd1_fork(world, client_for, make_sandbox):
    sandbox = make_sandbox("pr-1", forks=[world.fork("world", image="")])
    body = client_for(world.alice).get("/api/v1/sandboxes/pr-1/snippets/dtab").json()
    dtab = f"/host/world => /srv/world-sbx-{sandbox.routing_key};"
    assert body["content"] == f"l5d-dtab: {dtab}"


def test_every_snippet_of_a_linkerd1_sandbox_carries_the_dtab(world, client_for, make_sandbox):
    sandbox = make_sandbox("pr-1", forks=[world.fork("world", image="")])
    body = client_for(world.alice).get("/api/v1/sandboxes/pr-1/snippets").json()
    dtab = f"/host/world => /srv/world-sbx-{sandbox.routing_key};"
    # The Host the router names /host/world by, no port: the dentry and the URL agree.
    assert body["url"] == "http://world/"
    for fmt in (
        "curl",
        "httpie",
        "grpcurl",
        "python-requests",
        "javascript-fetch",
        "opentelemetry-python",
        "postman",
        "modheader",
    ):
        assert dtab in body["snippets"][fmt], fmt
    assert "-authority world " in body["snippets"]["grpcurl"]
    assert body["snippets"]["grpcurl"].endswith(" world.hello.svc.cluster.local:7778 list")


def test_grpcurl_uses_the_catalogs_grpc_port(world, client_for, make_sandbox):
    world.orders.ports = [8080, 9090]
    world.orders.grpc_port = 9090
    world.orders.save()
    make_sandbox("pr-1")
    body = client_for(world.alice).get("/api/v1/sandboxes/pr-1/snippets/grpcurl").json()
    assert body["content"].endswith(" orders.shop.svc.cluster.local:9090 list")


def test_mirrord_without_resolved_container_ports_is_a_409(world, client_for, make_sandbox):
    make_sandbox("pr-1")
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/snippets/mirrord")
    assert response.status_code == 409
    assert error_of(response)["message"].startswith(
        "No mirrord config for orders: its container ports are unknown (the reconciler has "
        "not read the baseline Service and Deployment yet)."
    )
    sandbox = world.alice_tenant.sandboxes.get(name="pr-1")
    sandbox.forks.update(status={"containerPortsError": "the baseline Service does not exist"})
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/snippets/mirrord")
    assert response.status_code == 409
    assert "(the baseline Service does not exist)" in error_of(response)["message"]
    # The list of every snippet leaves it out instead of failing.
    body = client_for(world.alice).get("/api/v1/sandboxes/pr-1/snippets").json()
    assert "mirrord" not in body["snippets"]


def test_dtab_without_linkerd1_is_404(world, client_for, make_sandbox):
    make_sandbox("pr-1")
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/snippets/dtab")
    assert response.status_code == 404
    assert error_of(response)["message"] == (
        "This sandbox has no Linkerd 1 fork, so it needs no dtab."
    )


def test_unknown_format_is_404(world, client_for, make_sandbox):
    make_sandbox("pr-1")
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/snippets/telnet")
    assert response.status_code == 404
    assert error_of(response)["message"].startswith("Unknown snippet format 'telnet'; one of:")


def test_custom_url(world, client_for, make_sandbox):
    make_sandbox("pr-1")
    body = (
        client_for(world.alice)
        .get("/api/v1/sandboxes/pr-1/snippets/curl?url=https://shop.staging.example/cart")
        .json()
    )
    assert body["content"].endswith("https://shop.staging.example/cart")
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/snippets/curl?url=nope")
    assert error_of(response)["fields"] == {"url": ["Enter a valid URL."]}


def test_links_in_the_document(world, client_for, make_sandbox):
    make_sandbox("pr-1")
    links = client_for(world.alice).get("/api/v1/sandboxes/pr-1").json()["snippets"]
    assert links["curl"] == (
        "http://testserver/api/v1/sandboxes/pr-1/snippets/curl?tenant=shop/alice"
    )
