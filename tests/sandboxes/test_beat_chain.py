"""beat -> resync -> worker, with nothing patched: a real beat process sends the
scheduled resync through the real broker, a real worker runs it, and the reconcile it
queues reaches a sandbox whose own message was lost."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from sandboxes import services
from tests.support.worker import CELERY, REPO, start_worker, wait_for_sandbox

pytestmark = pytest.mark.worker


def test_the_beat_schedule_heals_a_lost_reconcile(world, transactional_db, tmp_path):
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="lost", forks=[world.fork()]
    )
    sandbox.refresh_from_db()
    assert sandbox.observed_generation == 0
    env = {"SIDESTAGE_CLUSTER": "none", "SIDESTAGE_VAR_DIR": str(tmp_path / "var")}
    # start_worker flushes the broker database first: the create's message is lost,
    # as if Redis had dropped it.
    worker = start_worker(tmp_path / "worker.log", SIDESTAGE_RESYNC_SECONDS="2", **env)
    beat_log = (tmp_path / "beat.log").open("wb")
    beat = subprocess.Popen(
        [
            str(CELERY),
            *("-A", "portal", "beat", "--loglevel", "INFO"),
            *("--schedule", str(tmp_path / "beat-schedule")),
        ],
        cwd=REPO,
        env={**worker.process_env, "SIDESTAGE_RESYNC_SECONDS": "2"},
        stdout=beat_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_sandbox(
            sandbox,
            lambda s: s.observed_generation == s.generation,
            worker,
            timeout=90,
        )
        ready = next(c for c in sandbox.conditions if c["type"] == "Ready")
        # Render-only mode: the manifests were written (the "Rendered" state).
        assert ready["reason"] == "Rendered"
        assert "sandboxes.tasks.resync_sandboxes" in worker.log
        assert "Sending due task resync-sandboxes" in (tmp_path / "beat.log").read_text()
    finally:
        if beat.poll() is None:
            os.killpg(beat.pid, signal.SIGTERM)
            beat.wait(timeout=20)
        beat_log.close()
        worker.stop()
