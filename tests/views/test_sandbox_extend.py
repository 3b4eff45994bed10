"""Extend a sandbox's TTL from its page."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from sandboxes.models import AuditEvent, Sandbox
from tests.views.conftest import htmx


def _url(sandbox: Sandbox) -> str:
    return reverse("sandbox_extend", args=[sandbox.pk])


def test_htmx_extend_swaps_the_expiry_card(login, world, make_sandbox):
    sandbox = make_sandbox(ttl_seconds=3600)
    response = login(world.bob).post(_url(sandbox), {"hours": "72"}, headers=htmx("expiry"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="expiry"')
    assert "2d 23h" in body or "3d 0h" in body
    sandbox.refresh_from_db()
    assert sandbox.expires_at - timezone.now() > timedelta(hours=71)
    assert AuditEvent.objects.filter(sandbox=sandbox, verb="sandbox.extend", actor=world.bob)


def test_plain_extend_redirects_with_a_message(login, world, make_sandbox):
    sandbox = make_sandbox(ttl_seconds=3600)
    client = login(world.alice)
    response = client.post(_url(sandbox), {"hours": "24"})
    assert response.status_code == 302
    assert response["Location"] == reverse("sandbox_detail", args=[sandbox.pk])
    assert "now expires in 24 hours" in client.get(response["Location"]).content.decode()


def test_choices_beyond_the_team_maximum_are_refused(login, world, make_sandbox):
    world.shop.max_ttl = timedelta(days=1)
    world.shop.save()
    sandbox = make_sandbox(ttl_seconds=3600)
    response = login(world.alice).post(_url(sandbox), {"hours": "168"}, headers=htmx("expiry"))
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()


def test_a_deleting_sandbox_cannot_be_extended(login, world, make_sandbox):
    sandbox = make_sandbox()
    Sandbox.objects.filter(pk=sandbox.pk).update(deletion_requested_at=timezone.now())
    response = login(world.alice).post(_url(sandbox), {"hours": "4"}, headers=htmx("expiry"))
    assert response.status_code == 409


def test_get_is_not_allowed_and_other_teams_get_404(login, world, make_sandbox):
    sandbox = make_sandbox()
    assert login(world.alice).get(_url(sandbox)).status_code == 405
    assert login(world.charlie).post(_url(sandbox), {"hours": "4"}).status_code == 404


def test_csrf_is_required(world, make_sandbox):
    from django.test import Client

    sandbox = make_sandbox()
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    response = client.post(_url(sandbox), {"hours": "4"}, headers=htmx("expiry"))
    assert response.status_code == 403
    client.get(reverse("sandbox_detail", args=[sandbox.pk]))
    token = client.cookies["csrftoken"].value
    response = client.post(
        _url(sandbox), {"hours": "4"}, headers=htmx("expiry", **{"X-CSRFToken": token})
    )
    assert response.status_code == 200
