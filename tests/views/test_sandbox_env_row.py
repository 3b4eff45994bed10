"""The env row that htmx appends to a service's card."""

from __future__ import annotations

from django.urls import reverse

from tests.views.conftest import htmx

URL = reverse("sandbox_env_row")


def test_htmx_gets_one_empty_focused_row(login, world):
    response = login(world.alice).get(URL, {"service": "orders"}, headers=htmx("env-orders"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('name="orders-env-name"') == 1
    assert 'name="orders-env-value"' in body
    assert "autofocus" in body
    assert "data-remove-row" in body
    assert "<html" not in body


def test_unknown_or_foreign_service_is_404(login, world):
    client = login(world.alice)
    assert client.get(URL, {"service": "nope"}, headers=htmx("env-nope")).status_code == 404
    # indexer is in search's namespace: not in alice's catalog.
    assert client.get(URL, {"service": "indexer"}, headers=htmx("env-indexer")).status_code == 404


def test_plain_get_goes_back_to_the_form(login, world):
    response = login(world.alice).get(URL, {"service": "orders"})
    assert response.status_code == 302
    assert response["Location"] == reverse("sandbox_create")
