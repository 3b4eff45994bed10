"""Listing costs the same number of queries for 3 sandboxes as for 30."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sandboxes import services
from sandboxes.models import Team

pytestmark = pytest.mark.django_db


def list_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/api/v1/sandboxes?page_size=100").status_code == 200
    return len(ctx.captured_queries)


def test_list_is_constant_in_the_number_of_sandboxes(
    world, client_for, django_assert_max_num_queries
):
    Team.objects.filter(pk=world.shop.pk).update(max_sandboxes=100)
    alice = client_for(world.alice)

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            services.sandbox_create(
                actor=world.alice,
                tenant=world.alice_tenant,
                name=f"pr-{i}",
                forks=[world.fork("orders"), world.fork("frontend", image="")],
            )

    add(3, 0)
    small = list_queries(alice)
    add(27, 3)
    with django_assert_max_num_queries(small):
        response = alice.get("/api/v1/sandboxes?page_size=100")
    assert response.json()["count"] == 30


def test_page_size_is_capped(world, client_for, make_sandbox):
    make_sandbox("pr-1")
    body = client_for(world.alice).get("/api/v1/sandboxes?page_size=100000").json()
    assert body["count"] == 1
    from sandboxes.api.pagination import CappedPageNumberPagination

    assert CappedPageNumberPagination.max_page_size == 200
