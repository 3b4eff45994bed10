"""A real Celery worker on the real Redis picks up the reconcile that a committed
`sandbox_create` queued, and the reconcile records what it observed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

from portal.celery import app as celery_app
from sandboxes import services

REPO = Path(__file__).resolve().parents[2]
CELERY = REPO / ".venv" / "bin" / "celery"
CATCH_UP_SECONDS = 60


def _test_database_url() -> str:
    """The URL of the database this test is using (pytest-django's test_<name>)."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = quote(db["PASSWORD"] or "", safe="")
    auth = f"{user}:{password}@" if password else f"{user}@"
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(CELERY),
                *("-A", "portal", "worker", "--pool", "solo", "--concurrency", "1"),
                *("-Q", "celery", "--loglevel", "INFO", "--without-mingle", "--without-gossip"),
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so we can stop all of it
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()
        return self.process.returncode


@pytest.fixture
def worker(transactional_db, tmp_path):
    if not settings.REDIS_URL:
        pytest.fail('The worker test needs REDIS_URL (eval "$(scripts/services)").')
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "SIDESTAGE_", "KUBE"))
    }
    env.update(
        DATABASE_URL=_test_database_url(),
        DATABASE_CONN_MAX_AGE="0",
        REDIS_URL=settings.REDIS_URL,
        SIDESTAGE_CLUSTER="none",  # render only: no cluster in this tier
        SIDESTAGE_VAR_DIR=str(tmp_path / "var"),
        DEBUG="false",
    )
    handle = Worker(tmp_path / "worker.log", env)
    yield handle
    handle.stop()
    assert handle.process.poll() is not None, "the worker is still running"


@pytest.mark.worker
def test_a_real_worker_runs_the_reconcile_queued_on_commit(world, worker):
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="pr-7", forks=[world.fork()]
    )  # transactional_db: this really commits, so on_commit really publishes to Redis

    deadline = time.monotonic() + CATCH_UP_SECONDS
    while True:
        sandbox.refresh_from_db()
        if sandbox.observed_generation == sandbox.generation:
            break
        if worker.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(
                f"observed_generation {sandbox.observed_generation} never reached "
                f"{sandbox.generation}; worker exit={worker.process.poll()}\n{worker.log}"
            )
        time.sleep(0.25)

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
