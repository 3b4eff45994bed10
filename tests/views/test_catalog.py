"""The catalog: readable by every member, scoped to the team's namespaces."""

from __future__ import annotations

from django.urls import reverse

URL = reverse("catalog")


def test_members_read_the_catalog_with_data_and_policy(login, world):
    body = login(world.bob).get(URL).content.decode()
    for name in ("orders", "frontend", "payments", "world"):
        assert f'id="cat-{name}"' in body
    assert 'id="cat-indexer"' not in body
    assert "orders-db" in body and "isolated-schema" in body
    assert "Edit in the admin" not in body  # editing stays in the admin, for staff


def test_staff_get_a_link_to_the_admin(login, world):
    world.alice.is_staff = True
    world.alice.save()
    assert "Edit in the admin" in login(world.alice).get(URL).content.decode()


def test_other_team_sees_its_own(login, world):
    body = login(world.charlie).get(URL).content.decode()
    assert 'id="cat-indexer"' in body
    assert 'id="cat-orders"' not in body


def test_login_required_and_read_only(client, login, world):
    assert client.get(URL).status_code == 302
    assert login(world.alice).post(URL).status_code == 405
