"""Login throttling (django-axes): after a few failures, even the right password is
refused for a while, at /accounts/login/ and /admin/login/, and the lockout reads the
same whether the username exists or not."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from portal.auth import client_ip
from tests import factories
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed logins"


def _without_secrets(html: bytes) -> bytes:
    """Per-client values (the CSRF token, the CSP nonce) differ between any two pages."""
    return re.sub(rb'("X-CSRFToken": "|nonce=")[^"]*', rb"\1", html)


def _hammer(client: Client, url: str, username: str, times: int = 40) -> list[int]:
    return [
        client.post(url, {"username": username, "password": f"wrong-{i}"}).status_code
        for i in range(times)
    ]


def test_forty_wrong_passwords_then_the_right_one_is_refused(world):
    client = Client()
    url = reverse("login")
    codes = _hammer(client, url, "alice")
    assert codes[:4] == [200] * 4  # the form again, "didn't match"
    assert set(codes[4:]) == {429}  # the 5th failure locks (AXES_FAILURE_LIMIT)
    response = client.post(url, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    # Not signed in.
    assert client.get(reverse("dashboard")).status_code == 302


def test_the_admin_login_is_throttled_too(db):
    factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    url = reverse("admin:login")
    codes = _hammer(client, url, "root")
    assert set(codes[4:]) == {429}
    response = client.post(url, {"username": "root", "password": PASSWORD})
    assert response.status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_lockout_does_not_reveal_whether_the_user_exists(world):
    url = reverse("login")
    real, ghost = Client(), Client()
    real_codes = _hammer(real, url, "alice", times=8)
    ghost_codes = _hammer(ghost, url, "nobody-by-this-name", times=8)
    assert real_codes == ghost_codes
    real_page = real.post(url, {"username": "alice", "password": PASSWORD})
    ghost_page = ghost.post(url, {"username": "nobody-by-this-name", "password": PASSWORD})
    assert real_page.status_code == ghost_page.status_code == 429
    assert _without_secrets(real_page.content) == _without_secrets(ghost_page.content)
    assert b"alice" not in real_page.content


def test_the_lock_is_per_username_and_address(world):
    url = reverse("login")
    _hammer(Client(REMOTE_ADDR="203.0.113.7"), url, "alice", times=10)
    # Somebody guessing from elsewhere cannot lock alice out of her own desk.
    elsewhere = Client(REMOTE_ADDR="198.51.100.2")
    response = elsewhere.post(url, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302


def test_the_client_address_behind_trusted_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.SIDESTAGE_TRUSTED_PROXIES = 0
    assert client_ip(request) == "10.0.0.1"  # no proxy configured: the socket's peer
    settings.SIDESTAGE_TRUSTED_PROXIES = 1
    # One proxy appended the address it saw; "6.6.6.6" is whatever the client claimed.
    assert client_ip(request) == "203.0.113.9"
    settings.SIDESTAGE_TRUSTED_PROXIES = 3  # fewer hops than proxies: do not guess
    assert client_ip(request) == "10.0.0.1"
