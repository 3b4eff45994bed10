"""A real Celery worker process for tests about the queue: started in its own process
group on the test database and the real Redis, and always stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[2]
CELERY = REPO / ".venv" / "bin" / "celery"
CATCH_UP_SECONDS = 60


def test_database_url() -> str:
    """The URL of the database this test is using (pytest-django's test_<name>)."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = quote(db["PASSWORD"] or "", safe="")
    auth = f"{user}:{password}@" if password else f"{user}@"
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    def __init__(
        self,
        log_path: Path,
        env: dict[str, str],
        *,
        pool: str = "solo",
        concurrency: int = 1,
        name: str = "worker",
    ) -> None:
        self.log_path = log_path
        self.process_env = env
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(CELERY),
                *("-A", "portal", "worker", "--pool", pool, "--concurrency", str(concurrency)),
                *("--hostname", f"{name}@%h"),
                *("-Q", "celery", "--loglevel", "INFO", "--without-mingle", "--without-gossip"),
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so we can stop all of it
        )

    def wait_ready(self, timeout: float = 90) -> None:
        """Until the worker says it is ready to consume (its pool is up)."""
        deadline = time.monotonic() + timeout
        while " ready." not in self.log:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the worker never became ready:\n{self.log}")
            time.sleep(0.2)

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


def start_worker(
    log_path: Path,
    *,
    flush: bool = True,
    pool: str = "solo",
    concurrency: int = 1,
    name: str = "worker",
    redis_url: str | None = None,
    database_url: str | None = None,
    **env_overrides: str,
) -> Worker:
    """Start a worker on the test database (after flushing the test Redis database,
    unless `flush` is False); the caller stops it. `env_overrides` select the cluster
    mode and the like; `pool`, `concurrency` and `name` make several workers that run
    tasks in parallel; `pool="prefork"` runs it as production does."""
    redis_url = redis_url or settings.REDIS_URL
    if flush:
        redis.Redis.from_url(redis_url).flushdb()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "SIDESTAGE_", "KUBE"))
    }
    env.update(
        DATABASE_URL=database_url or test_database_url(),
        DATABASE_CONN_MAX_AGE="0",
        REDIS_URL=redis_url,
        DEBUG="false",
        **env_overrides,
    )
    return Worker(log_path, env, pool=pool, concurrency=concurrency, name=name)


def wait_for_sandbox(
    sandbox: Any, done: Callable[[Any], bool], worker: Worker, *, timeout: float = 60
) -> None:
    """Poll the sandbox row until `done(sandbox)`; fail with the worker's log if the
    worker dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        sandbox.refresh_from_db()
        if done(sandbox):
            return
        if worker.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(
                f"sandbox never got there: generation {sandbox.generation}, observed "
                f"{sandbox.observed_generation}, conditions {sandbox.conditions}; "
                f"worker exit={worker.process.poll()}\n{worker.log}"
            )
        time.sleep(0.25)
