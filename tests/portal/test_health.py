"""/healthz and /readyz: real PostgreSQL, real Redis, no login, no HTTPS redirect."""

from __future__ import annotations

import socket

import pytest

from portal.celery import app as celery_app


def _closed_loopback_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable_broker(settings, monkeypatch):
    """Point the Celery app (and the settings it reads) at a closed port; restored after.

    First the app's connection pool gets a live connection to the good broker, so a
    health check that reused pooled connections would wrongly answer 200."""
    good_url = celery_app.conf.broker_write_url
    with celery_app.pool.acquire(block=True, timeout=5) as pooled:
        pooled.ensure_connection(max_retries=1)
    bad_url = f"redis://127.0.0.1:{_closed_loopback_port()}/1"
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    changes = celery_app.conf.changes
    had_override, previous = "broker_url" in changes, changes.get("broker_url")
    settings.CELERY_BROKER_URL = bad_url
    changes["broker_url"] = bad_url
    assert celery_app.conf.broker_write_url == bad_url
    yield bad_url
    if had_override:
        changes["broker_url"] = previous
    else:
        del changes["broker_url"]
    settings.CELERY_BROKER_URL = good_url  # the settings fixture would, but only later
    assert celery_app.conf.broker_write_url == good_url


def test_healthz_is_ok_with_the_real_database_and_broker(client, db):
    assert celery_app.conf.broker_write_url.startswith("redis://")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_503_and_names_the_broker_when_it_is_unreachable(client, db, unreachable_broker):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.content.decode()
    assert body.startswith("broker: ")
    assert "database" not in body  # the database is fine; only the broker is named


def test_readyz_is_ok_when_migrations_are_applied(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.content == b"ready\n"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_need_no_login(client, db, path):
    response = client.get(path)  # an anonymous client: no session, no token
    assert response.status_code == 200
    assert "Location" not in response


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_exempt_from_the_https_redirect(client, db, settings, path):
    settings.SECURE_SSL_REDIRECT = True
    # The redirect is on: an ordinary page over plain HTTP goes to HTTPS ...
    login = client.get("/accounts/login/")
    assert login.status_code == 301
    assert login["Location"].startswith("https://")
    # ... but a kubelet probing over plain HTTP gets the real answer.
    assert client.get(path).status_code == 200


def test_probes_only_answer_get(client, db):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405
