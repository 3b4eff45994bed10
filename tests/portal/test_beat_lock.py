"""Two beats on one database: the second waits as a standby until the first is gone
(the PostgreSQL advisory lock taken in portal/celery_signals.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests.support import worker as support

pytestmark = pytest.mark.worker


def _start_beat(tmp_path: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "SIDESTAGE_"))}
    env.update(
        DATABASE_URL=support.test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        DEBUG="false",
        SIDESTAGE_VAR_DIR=str(tmp_path / name),
    )
    log = tmp_path / f"{name}.log"
    process = subprocess.Popen(
        [
            str(support.CELERY),
            "-A",
            "portal",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(tmp_path / f"{name}-schedule"),
        ],
        cwd=support.REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, log


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None, f"beat exited:\n{log.read_text(errors='replace')}"
        assert time.monotonic() < deadline, f"no {text!r} in:\n{log.read_text(errors='replace')}"
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_a_second_beat_waits_until_the_first_is_gone(transactional_db, tmp_path):
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    first, first_log = _start_beat(tmp_path, "first")
    second = None
    try:
        _wait_for(first_log, "holding the beat lock", first)
        second, second_log = _start_beat(tmp_path, "second")
        _wait_for(second_log, "waiting as a standby", second)
        time.sleep(2)
        assert "holding the beat lock" not in second_log.read_text(errors="replace")
        _stop(first)
        _wait_for(second_log, "holding the beat lock", second)
    finally:
        _stop(first)
        if second is not None:
            _stop(second)
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
