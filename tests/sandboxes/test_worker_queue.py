"""A real Celery worker on the real Redis picks up the reconcile that a committed
`sandbox_create` queued, and the reconcile records what it observed."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from portal.celery import app as celery_app
from sandboxes import services
from tests.support.worker import start_worker, wait_for_sandbox


@pytest.fixture
def worker(transactional_db, tmp_path):
    if not settings.REDIS_URL:
        pytest.fail('The worker test needs REDIS_URL (eval "$(scripts/services)").')
    handle = start_worker(
        tmp_path / "worker.log",
        SIDESTAGE_CLUSTER="none",  # render only: no cluster in this tier
        SIDESTAGE_VAR_DIR=str(tmp_path / "var"),
    )
    yield handle
    handle.stop()
    assert handle.process.poll() is not None, "the worker is still running"


@pytest.mark.worker
def test_a_real_worker_runs_the_reconcile_queued_on_commit(world, worker):
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="pr-7", forks=[world.fork()]
    )  # transactional_db: this really commits, so on_commit really publishes to Redis

    wait_for_sandbox(sandbox, lambda s: s.observed_generation == s.generation, worker)

    assert sandbox.observed_generation == sandbox.generation == 1
    assert sandbox.condition("Ready") is not None
    assert re.search(
        r"Task sandboxes\.tasks\.reconcile_sandbox\[[0-9a-f-]{36}\] received", worker.log
    )
    assert worker.stop() is not None
    assert worker.process.poll() is not None


def test_the_app_is_configured_for_at_least_once_delivery_and_json_only():
    conf = celery_app.conf
    # A message is acknowledged after the task ran, and a worker that dies mid-task
    # gives it back: a reconcile is never lost (and is safe to run twice).
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    # Pickle would let anyone who can write to Redis run code in the worker.
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.task_always_eager is False
    # With Redis, an unacknowledged message comes back after the visibility timeout: it
    # must outlast the longest task plus the longest countdown (60 s), or a slow
    # reconcile would be delivered twice at once.
    if settings.REDIS_URL:
        visibility = conf.broker_transport_options["visibility_timeout"]
        assert visibility > conf.task_time_limit + 60
