"""A fork still rolling out is polled again after a short, growing countdown (0.2 s,
0.4 s, ... up to 3 s), carried by the requeued message itself: read back from the
real Redis queue after a real first pass against the control plane."""

from __future__ import annotations

import base64
import datetime as dt
import json
from types import SimpleNamespace

import pytest
import redis

from sandboxes import cluster as cluster_module
from sandboxes import services
from sandboxes.metrics import ENQUEUED_HEADER
from sandboxes.reconcile import run_reconcile_task

pytestmark = [pytest.mark.cluster, pytest.mark.worker]


def published_polls(client: redis.Redis) -> list[tuple[dict, float]]:
    """(kwargs, countdown in seconds) of each reconcile message waiting in the queue."""
    out = []
    for raw in client.lrange("celery", 0, -1):
        message = json.loads(raw)
        headers = message["headers"]
        if headers["task"] != "sandboxes.tasks.reconcile_sandbox":
            continue
        body = json.loads(base64.b64decode(message["body"]))
        eta = dt.datetime.fromisoformat(headers["eta"]).timestamp()
        out.append((body[1], round(eta - headers[ENQUEUED_HEADER], 2)))
    return out


@pytest.mark.parametrize(("polls_before", "countdown"), [(0, 0.2), (1, 0.4), (4, 3.0), (9, 3.0)])
def test_a_rolling_out_fork_is_polled_with_a_growing_countdown(
    world, cluster_world, settings, monkeypatch, polls_before, countdown
):
    if not settings.REDIS_URL:
        pytest.fail('needs REDIS_URL (eval "$(scripts/services)")')
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    settings.SIDESTAGE_CLUSTER = "kubeconfig"
    monkeypatch.setattr(cluster_module, "_cluster", cluster_world.cluster)
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="polls", forks=[{"service": "web"}]
    )
    task = SimpleNamespace(request=SimpleNamespace(retries=0))

    # The first pass applies the fork's Deployment: nobody has rolled it out yet.
    assert run_reconcile_task(task, sandbox.pk, polls_before) == "progressing"

    # (The ETA is set a moment before the publish stamps its header: hence approx.)
    assert published_polls(client) == [
        ({"polls": polls_before + 1}, pytest.approx(countdown, abs=0.1))
    ]
    client.flushdb()


def test_the_old_fixed_countdown_is_one_setting_away(settings):
    from sandboxes.reconcile import readiness_poll_seconds

    assert [readiness_poll_seconds(n) for n in range(6)] == [0.2, 0.4, 0.8, 1.6, 3.0, 3.0]
    settings.SIDESTAGE_READINESS_POLL_MS = 3000
    assert {readiness_poll_seconds(n) for n in range(6)} == {3.0}
