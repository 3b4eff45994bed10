"""The polled status partial of the sandbox page."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from sandboxes import conditions as c
from sandboxes import services
from tests.views.conftest import htmx


def test_htmx_partial_polls_while_in_progress_then_stops(login, world, make_sandbox):
    sandbox = make_sandbox()
    url = reverse("sandbox_status", args=[sandbox.pk])
    client = login(world.alice)
    response = client.get(url, headers=htmx("sandbox-status"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="sandbox-status"')
    assert 'hx-trigger="every 2s"' in body
    assert "Reconciling" in body
    assert "HX-Target" in response["Vary"]

    sandbox.conditions = c.set_condition(
        [],
        type_=c.READY,
        status="True",
        reason="Ready",
        message="2 routes",
        generation=1,
        now=timezone.now(),
    )
    sandbox.observed_generation = 1
    sandbox.save()
    body = client.get(url, headers=htmx("sandbox-status")).content.decode()
    assert "hx-trigger" not in body
    assert "status-true" in body


def test_the_decision_appears_for_the_requester(login, world, make_sandbox):
    sandbox = make_sandbox(
        user=world.bob, tenant=world.bob_tenant, profile="prod-like", forks=[world.fork("payments")]
    )
    url = reverse("sandbox_status", args=[sandbox.pk])
    client = login(world.bob)
    assert "Waiting for a lead" in client.get(url, headers=htmx("sandbox-status")).content.decode()
    approval = sandbox.approvals.get()
    services.approval_decide(actor=world.alice, approval=approval, approve=True, reason="ok")
    body = client.get(url, headers=htmx("sandbox-status")).content.decode()
    assert "Approved" in body and "alice" in body and "ok" in body


def test_plain_get_redirects_to_the_page(login, world, make_sandbox):
    sandbox = make_sandbox()
    response = login(world.alice).get(reverse("sandbox_status", args=[sandbox.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("sandbox_detail", args=[sandbox.pk])


def test_other_teams_get_404(login, world, make_sandbox):
    sandbox = make_sandbox()
    url = reverse("sandbox_status", args=[sandbox.pk])
    assert login(world.charlie).get(url, headers=htmx("sandbox-status")).status_code == 404
