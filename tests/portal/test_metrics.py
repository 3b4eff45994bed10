"""/metrics is off without a token and closed without the right one. (The numbers
moving under a real reconcile: tests/reconcile/test_metrics.py.)"""

from __future__ import annotations

import pytest

from tests.support.metrics import TOKEN, scrape


@pytest.mark.django_db
def test_metrics_are_off_without_a_token(client, settings):
    settings.SIDESTAGE_METRICS_TOKEN = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.django_db
def test_metrics_need_the_token(client, settings):
    settings.SIDESTAGE_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    text = scrape(client)
    assert "sidestage_sandboxes" in text and "sidestage_approvals_pending" in text
