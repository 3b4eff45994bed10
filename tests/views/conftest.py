"""Fixtures for the browser-view tests: logged-in clients, sandboxes made through the
services (as in production), and the headers htmx sends."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sandboxes import services
from sandboxes.models import Sandbox


def htmx(target: str, **extra: str) -> dict[str, str]:
    """Headers of an htmx request aimed at the element with id `target`."""
    return {"HX-Request": "true", "HX-Target": target, **extra}


@pytest.fixture(autouse=True)
def _no_queue(queued_reconciles: list[int]) -> list[int]:
    # Views queue reconciles on commit; these tests do not run a worker.
    return queued_reconciles


@pytest.fixture
def login(client: Client) -> Any:
    def _login(user: Any) -> Client:
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def make_sandbox(world: Any) -> Any:
    def _make(user: Any = None, tenant: Any = None, name: str = "pr-1", **kwargs: Any) -> Sandbox:
        kwargs.setdefault("forks", [world.fork("orders")])
        return services.sandbox_create(
            actor=user or world.alice, tenant=tenant or world.alice_tenant, name=name, **kwargs
        )

    return _make
