"""Listing costs the same number of queries for 3 sandboxes as for 30."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
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


UNSHOWN = ('"applied_manifests"', '"provisioned_data"')


def _reads_unshown_columns(ctx: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].lstrip().upper().startswith("SELECT") and any(c in q["sql"] for c in UNSHOWN)
    ]


def test_lists_and_documents_never_read_the_columns_they_do_not_show(
    world, client_for, make_sandbox
):
    """What the reconciler applied is a few KB per row and only the detail page shows
    it: no list, API document or dashboard reads it (nor the provisioned data)."""
    sandbox = make_sandbox("pr-1")
    manifests = [{"kind": "Deployment", "metadata": {"name": "x" * 3000}}]
    type(sandbox).objects.filter(pk=sandbox.pk).update(applied_manifests=manifests)
    api = client_for(world.alice)
    browser = Client()
    browser.force_login(world.alice)
    for http, url in (
        (api, "/api/v1/sandboxes?page_size=50"),
        (api, f"/api/v1/sandboxes/{sandbox.name}"),
        (browser, "/"),
        (browser, "/approvals/"),
    ):
        with CaptureQueriesContext(connection) as ctx:
            assert http.get(url).status_code == 200, url
        assert _reads_unshown_columns(ctx) == [], url
    # The detail page shows the YAML, so it does read it, in the one query it had.
    with CaptureQueriesContext(connection) as ctx:
        page = browser.get(f"/sandboxes/{sandbox.pk}/")
    assert page.status_code == 200
    assert len(_reads_unshown_columns(ctx)) == 1
