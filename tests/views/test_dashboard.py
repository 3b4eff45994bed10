"""The dashboard: scoping, filters, the live status partial and the empty state."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from sandboxes import conditions as c
from sandboxes.models import Sandbox
from tests.views.conftest import htmx


def _mark_ready(sandbox: Sandbox) -> None:
    sandbox.conditions = c.set_condition(
        sandbox.conditions,
        type_=c.READY,
        status="True",
        reason="AllRoutesProgrammed",
        message="",
        generation=sandbox.generation,
        now=timezone.now(),
    )
    sandbox.observed_generation = sandbox.generation
    sandbox.save()


def test_lists_the_sandboxes_of_my_teams_only(login, world, make_sandbox):
    make_sandbox(name="shop-one")
    make_sandbox(
        user=world.charlie,
        tenant=world.charlie_tenant,
        name="search-one",
        forks=[world.fork("indexer", image="")],
    )
    body = login(world.bob).get(reverse("dashboard")).content.decode()
    assert "shop-one" in body
    assert "search-one" not in body
    body = login(world.charlie).get(reverse("dashboard")).content.decode()
    assert "search-one" in body
    assert "shop-one" not in body


def test_row_shows_tenant_profile_forks_ready_and_time_left(login, world, make_sandbox):
    sandbox = make_sandbox(forks=[world.fork("orders"), world.fork("frontend")])
    _mark_ready(sandbox)
    body = login(world.alice).get(reverse("dashboard")).content.decode()
    row = body[body.index(f'id="sandbox-row-{sandbox.pk}"') :]
    row = row[: row.index("</tr>")]
    for text in (
        "pr-1",
        "shop/alice",
        "dev",
        "orders",
        "frontend",
        "Ready",
        "AllRoutesProgrammed",
        "7h",
    ):
        assert text in row


def test_filters_mine_team_and_needs_approval(login, world, make_sandbox):
    make_sandbox(name="alices")
    make_sandbox(user=world.bob, tenant=world.bob_tenant, name="bobs")
    make_sandbox(
        user=world.bob,
        tenant=world.bob_tenant,
        name="bobs-preview",
        profile="prod-like",
        forks=[world.fork("payments")],
    )
    client = login(world.bob)
    mine = client.get(reverse("dashboard"), {"filter": "mine"}).content.decode()
    assert "bobs" in mine and "alices" not in mine
    team = client.get(reverse("dashboard"), {"filter": "team"}).content.decode()
    assert "bobs" in team and "alices" in team
    approval = client.get(reverse("dashboard"), {"filter": "approval"}).content.decode()
    assert "bobs-preview" in approval and ">bobs<" not in approval and "alices" not in approval
    assert "Awaiting approval" in approval


def test_htmx_gets_only_the_list_and_polls_while_in_progress(login, world, make_sandbox):
    sandbox = make_sandbox()
    client = login(world.alice)
    response = client.get(reverse("dashboard"), headers=htmx("sandbox-list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="sandbox-list"')
    assert "<html" not in body
    assert 'hx-trigger="every 2s"' in body  # not reconciled yet
    assert "HX-Request" in response["Vary"]

    _mark_ready(sandbox)
    body = client.get(reverse("dashboard"), headers=htmx("sandbox-list")).content.decode()
    assert "hx-trigger" not in body  # nothing in progress: the poll stops


def test_a_plain_or_navigation_request_gets_the_whole_page(login, world, make_sandbox):
    make_sandbox()
    client = login(world.alice)
    assert "<html" in client.get(reverse("dashboard")).content.decode()
    # The main navigation goes through htmx too, aimed at #page.
    body = client.get(reverse("dashboard"), headers=htmx("page")).content.decode()
    assert "<html" in body


def test_empty_state_explains_and_offers_the_first_sandbox(login, world):
    body = login(world.alice).get(reverse("dashboard")).content.decode()
    assert "No sandboxes yet" in body
    assert "routing key" in body
    assert f'href="{reverse("sandbox_create")}"' in body


def test_deleted_sandboxes_are_not_listed(login, world, make_sandbox):
    sandbox = make_sandbox(name="gone")
    Sandbox.objects.filter(pk=sandbox.pk).update(
        deletion_requested_at=timezone.now(), deleted_at=timezone.now()
    )
    body = login(world.alice).get(reverse("dashboard")).content.decode()
    assert "gone" not in body


def test_nav_links_have_real_hrefs_beside_hx_get(login, world):
    body = login(world.alice).get(reverse("dashboard")).content.decode()
    for name in ("dashboard", "sandbox_create", "approvals", "catalog", "policies"):
        url = reverse(name)
        assert f'href="{url}" hx-get="{url}"' in body


def test_htmx_is_served_from_static_and_csrf_rides_on_every_htmx_request(login, world):
    body = login(world.alice).get(reverse("dashboard")).content.decode()
    assert "/static/vendor/htmx-2.0.11.min.js" in body
    assert "unpkg" not in body and "cdn" not in body.lower()
    assert 'hx-headers=\'{"X-CSRFToken": "' in body
