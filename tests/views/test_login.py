"""Login and logout with Django auth."""

from __future__ import annotations

from django.urls import reverse

from tests.factories import PASSWORD


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_has_labelled_fields(client, db):
    body = client.get(reverse("login")).content.decode()
    assert '<label for="id_username">' in body
    assert '<label for="id_password">' in body


def test_login_then_dashboard(client, world):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_wrong_password_shows_an_error(client, world):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_logout_is_a_post(login, world):
    client = login(world.alice)
    body = client.get(reverse("dashboard")).content.decode()
    assert f'action="{reverse("logout")}"' in body
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302
