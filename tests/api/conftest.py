"""API test helpers: real bearer tokens issued through the service, a client per
person, and a sandbox factory that goes through `sandboxes.services`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from portal.auth import TokenRateThrottle
from sandboxes import services


@pytest.fixture(autouse=True)
def _fresh_throttle_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    # Throttle counters live in the shared cache (Redis in the suite), keyed by token
    # id; ids repeat between runs, so each test counts in buckets of its own.
    monkeypatch.setattr(
        TokenRateThrottle, "cache_format", f"throttle_{uuid.uuid4().hex}_%(scope)s_%(ident)s"
    )


@pytest.fixture
def client_for(world: Any) -> Callable[..., APIClient]:
    issued: dict[tuple[str, int | None], APIClient] = {}

    def make(user: Any, *, tenant: Any = None, team: Any = None) -> APIClient:
        key = (user.username, getattr(tenant, "pk", None))
        if key in issued:
            return issued[key]
        team = team or (tenant.team if tenant else user.teams.first())
        token = services.token_issue(
            actor=user, team=team, name=f"{user.username}-{len(issued)}", tenant=tenant
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.secret}")
        issued[key] = client
        return client

    return make


@pytest.fixture
def make_sandbox(world: Any) -> Callable[..., Any]:
    def make(name: str = "pr-1", *, user: Any = None, tenant: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("forks", [world.fork("orders")])
        return services.sandbox_create(
            actor=user or world.alice, tenant=tenant or world.alice_tenant, name=name, **kwargs
        )

    return make


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


@pytest.fixture
def live_api(live_server: Any) -> Any:
    """The live server (plain HTTP: tests/conftest.py turns the HTTPS redirect off
    before any server builds its middleware)."""
    return live_server
