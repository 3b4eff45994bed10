"""Every answer under /api/ is the JSON error shape, a real 500 included."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


def _raw_client() -> Client:
    # raise_request_exception=False: answer like a server would, instead of re-raising.
    return Client(raise_request_exception=False)


def test_a_bug_in_a_drf_view_is_a_json_500(client_for, world, monkeypatch, caplog):
    """A real failure in a real viewset: the selector it reads through breaks."""
    from sandboxes import selectors

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    api = client_for(world.alice)
    api.raise_request_exception = False
    monkeypatch.setattr(selectors, "sandboxes_for_user", broken)
    with caplog.at_level(logging.ERROR, logger="sidestage.errors"):
        response = api.get("/api/v1/sandboxes")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    error = error_of(response)
    assert error["code"] == "server_error"
    assert error["fields"] == {}
    incident = response["X-Sidestage-Incident"]
    assert incident in error["message"]
    # The traceback goes to the log, never to the client.
    assert "the database went away" not in response.content.decode()
    assert any(incident in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.urls("tests.portal.urls_boom")
def test_a_bug_in_a_plain_django_view_under_api_is_a_json_500():
    response = _raw_client().get("/api/test-boom")
    assert response.status_code == 500
    assert error_of(response)["code"] == "server_error"


@pytest.mark.urls("tests.portal.urls_boom")
def test_a_500_outside_the_api_stays_an_html_page():
    response = _raw_client().get("/test-boom")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_a_bad_host_under_api_is_json(settings):
    settings.ALLOWED_HOSTS = ["portal.example"]
    response = _raw_client().get("/api/v1/sandboxes", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"
