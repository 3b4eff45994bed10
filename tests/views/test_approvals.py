"""The leads' queue: what would be deployed, the data-policy summary, and who sees
the controls."""

from __future__ import annotations

from django.urls import reverse

URL = reverse("approvals")


def _prod_like(world, make_sandbox, user=None, tenant=None, name="preview"):
    return make_sandbox(
        user=user or world.bob,
        tenant=tenant or world.bob_tenant,
        name=name,
        profile="prod-like",
        forks=[world.fork("orders", env=[{"name": "FLAG", "value": "on"}])],
    )


def test_a_lead_sees_the_request_with_forks_and_data_plan(login, world, make_sandbox):
    sandbox = _prod_like(world, make_sandbox)
    approval = sandbox.approvals.get()
    body = login(world.alice).get(URL).content.decode()
    assert f'id="approval-{approval.pk}"' in body
    assert "ghcr.io/acme/orders:pr-1" in body
    assert "FLAG=on" in body
    assert "orders-db" in body and "isolated-schema" in body
    assert "orders-events" in body and "prefix" in body
    assert 'value="approve"' in body and 'value="reject"' in body


def test_a_member_never_sees_the_controls(login, world, make_sandbox):
    _prod_like(world, make_sandbox)
    body = login(world.bob).get(URL).content.decode()
    assert 'value="approve"' not in body
    assert "Only leads approve" in body
    assert "preview" in body  # bob's own request, listed as waiting


def test_a_lead_does_not_see_their_own_request(login, world, make_sandbox):
    _prod_like(world, make_sandbox, user=world.alice, tenant=world.alice_tenant)
    body = login(world.alice).get(URL).content.decode()
    assert 'value="approve"' not in body
    assert "Nothing is waiting for you" in body
    assert 'value="approve"' in login(world.dana).get(URL).content.decode()


def test_other_teams_requests_are_not_shown(login, world, make_sandbox):
    _prod_like(world, make_sandbox)
    body = login(world.charlie).get(URL).content.decode()
    assert "preview" not in body


def test_nav_badge_counts_what_waits_for_a_lead(login, world, make_sandbox):
    _prod_like(world, make_sandbox)
    assert 'aria-label="1 waiting"' in login(world.alice).get(URL).content.decode()
    assert 'waiting"' not in login(world.bob).get(URL).content.decode()
