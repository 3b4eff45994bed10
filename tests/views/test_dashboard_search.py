"""Dashboard search, filters, sorting and paging: scoped, said when unknown, and a
constant number of queries however many sandboxes there are."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sandboxes import services
from sandboxes.models import Sandbox
from sandboxes.views.dashboard import PAGE_SIZE
from tests.support.status import report_ready


def _names(response) -> list[str]:
    return re.findall(
        r'<tr id="sandbox-row-\d+">\s*<td data-label="Name"><a [^>]*>([^<]+)</a>',
        response.content.decode(),
    )


def test_search_and_filters(login, world, make_sandbox):
    make_sandbox(name="pr-1", forks=[world.fork("orders")], labels={"pr": "1"})
    make_sandbox(name="pr-2", forks=[world.fork("payments", image="")])
    bobs = make_sandbox(user=world.bob, tenant=world.bob_tenant, name="feature-x")
    report_ready(bobs.pk, status="True", reason="Ready")
    client = login(world.alice)
    url = reverse("dashboard")
    assert _names(client.get(url, {"q": "pr-"})) == ["pr-2", "pr-1"]
    assert _names(client.get(url, {"service": "payments"})) == ["pr-2"]
    assert _names(client.get(url, {"owner": "bob"})) == ["feature-x"]
    assert _names(client.get(url, {"label": "pr=1"})) == ["pr-1"]
    assert _names(client.get(url, {"label": "pr"})) == ["pr-1"]
    assert _names(client.get(url, {"state": "ready"})) == ["feature-x"]
    assert _names(client.get(url, {"sort": "name"})) == ["feature-x", "pr-1", "pr-2"]
    assert _names(client.get(url, {"sort": "-name"})) == ["pr-2", "pr-1", "feature-x"]
    nothing = client.get(url, {"q": "zzz"}).content.decode()
    assert "Nothing matches this search" in nothing
    odd = client.get(url, {"state": "sleepy", "sort": "colour", "label": "Bad Label"})
    body = odd.content.decode()
    assert "There is no state “sleepy”" in body
    assert "Cannot sort by “colour”" in body
    assert "is not a label" in body
    assert len(_names(odd)) == 3


def test_other_teams_are_never_searched(login, world, make_sandbox):
    make_sandbox(
        user=world.charlie,
        tenant=world.charlie_tenant,
        name="pr-9",
        forks=[world.fork("indexer", image="")],
    )
    assert _names(login(world.alice).get(reverse("dashboard"), {"q": "pr-9"})) == []


def test_paging_with_a_constant_number_of_queries(login, world, make_sandbox, settings):
    world.shop.max_sandboxes = 500
    world.shop.save()
    for i in range(PAGE_SIZE + 5):
        services.sandbox_create(
            actor=world.alice,
            tenant=world.alice_tenant,
            name=f"sb-{i:03d}",
            forks=[world.fork("orders")],
        )
    client = login(world.alice)
    url = reverse("dashboard")
    first = client.get(url, {"sort": "name"})
    assert len(_names(first)) == PAGE_SIZE
    body = first.content.decode()
    assert f"Page 1 of 2 ({PAGE_SIZE + 5} sandboxes)" in body
    second = client.get(url, {"sort": "name", "page": "2"})
    assert _names(second) == [f"sb-{i:03d}" for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
    with CaptureQueriesContext(connection) as big:
        client.get(url, {"sort": "name"})
    Sandbox.objects.filter(name__gte="sb-010").delete()
    with CaptureQueriesContext(connection) as small:
        client.get(url, {"sort": "name"})
    assert len(big.captured_queries) == len(small.captured_queries)


def test_expiring_soon_marker(login, world, make_sandbox):
    soon = make_sandbox(name="soon")
    make_sandbox(name="later")
    Sandbox.objects.filter(pk=soon.pk).update(expires_at=timezone.now() + timedelta(minutes=30))
    body = login(world.alice).get(reverse("dashboard")).content.decode()
    row = body[body.index(f'id="sandbox-row-{soon.pk}"') :]
    assert "expiring soon" in row[: row.index("</tr>")]
    assert body.count("expiring soon") == 1
