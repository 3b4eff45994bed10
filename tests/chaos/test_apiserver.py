"""The kube-apiserver frozen (SIGSTOP) for longer than the task's soft time limit
during a burst of creates, and killed outright and started again on the same port.
No reconcile is lost, the outage shows while it lasts, and everything converges
within the requeue backoff once the API answers again (no resync runs here)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.chaos.conftest import (
    CHAOS_LIMITS,
    OUTAGE_REASONS,
    Watch,
    all_ready,
    apiserver_pid,
    assert_converged_cleanly,
    create_burst,
    private_plane,
    record_figures,
    run_testenv,
    shown_to_people,
    worker_env,
)
from tests.support.worker import start_worker

pytestmark = [pytest.mark.cluster, pytest.mark.worker, pytest.mark.chaos]
SOFT_LIMIT = int(CHAOS_LIMITS["CELERY_TASK_SOFT_TIME_LIMIT"])
FREEZE_SECONDS = SOFT_LIMIT + 13


def test_a_frozen_apiserver_during_a_burst(
    world, cluster_world, kube_cluster, transactional_db, tmp_path
):
    run_dir = private_plane(kube_cluster)
    worker = start_worker(
        tmp_path / "worker.log",
        pool="prefork",
        concurrency=2,
        **worker_env(kube_cluster, tmp_path),
    )
    pid = apiserver_pid(run_dir)
    frozen = False
    try:
        worker.wait_ready()
        before = create_burst(world, "frz", 2)
        watch = Watch([s.pk for s in before])
        os.kill(pid, signal.SIGSTOP)
        frozen, frozen_at = True, watch.mark()
        during = create_burst(world, "frz", 3, start=2)
        watch.ids += [s.pk for s in during]
        sandboxes = before + during
        # Every sandbox shows the outage while the API server is still frozen.
        visible_at = watch.until(
            lambda st: (
                len(st) == len(sandboxes)
                and all(reason in OUTAGE_REASONS for _, reason in st.values())
            ),
            timeout=FREEZE_SECONDS - 1,
            what="every sandbox to show the outage",
            worker=worker,
        )
        api_body, ui_page = shown_to_people(world, during[-1])
        assert "ClusterUnreachable" in api_body or "ReconcileTimeout" in api_body
        assert "ClusterUnreachable" in ui_page or "ReconcileTimeout" in ui_page
        time.sleep(max(0.0, FREEZE_SECONDS - (watch.mark() - frozen_at)))
        os.kill(pid, signal.SIGCONT)
        frozen = False
        thawed_at = watch.mark()
        converged_at = watch.until(
            all_ready, timeout=90, what="every sandbox to converge", worker=worker
        )
        assert_converged_cleanly(cluster_world, sandboxes)
        for sandbox in sandboxes:
            shown = watch.reasons(sandbox.pk, between=(frozen_at, thawed_at))
            assert shown & OUTAGE_REASONS, (sandbox.name, shown)
        record_figures(
            "apiserver frozen (SIGSTOP)",
            sandboxes=len(sandboxes),
            outage_seconds=round(thawed_at - frozen_at, 1),
            soft_time_limit=SOFT_LIMIT,
            visible_after_seconds={
                s.name: round(watch.first(s.pk, lambda st: st[1] in OUTAGE_REASONS) - frozen_at, 1)
                for s in sandboxes
            },
            all_visible_after_seconds=round(visible_at - frozen_at, 1),
            converged_after_recovery_seconds=round(converged_at - thawed_at, 1),
            max_backoff=int(CHAOS_LIMITS["SIDESTAGE_RECONCILE_MAX_BACKOFF"]),
        )
    finally:
        if frozen:
            os.kill(pid, signal.SIGCONT)
        worker.stop()


def test_an_apiserver_killed_and_restarted_on_the_same_port(
    world, cluster_world, kube_cluster, transactional_db, tmp_path
):
    run_dir = private_plane(kube_cluster)
    worker = start_worker(
        tmp_path / "worker.log",
        pool="prefork",
        concurrency=2,
        **worker_env(kube_cluster, tmp_path),
    )
    down = False
    try:
        worker.wait_ready()
        sandboxes = create_burst(world, "kil", 3)
        watch = Watch([s.pk for s in sandboxes])
        run_testenv("kill-apiserver", f"--run-dir={run_dir}")
        down, killed_at = True, watch.mark()
        visible_at = watch.until(
            lambda st: all(reason in OUTAGE_REASONS for _, reason in st.values()),
            timeout=30,
            what="every sandbox to show the outage",
            worker=worker,
        )
        run_testenv("start-apiserver", f"--run-dir={run_dir}")
        down = False
        back_at = watch.mark()
        converged_at = watch.until(
            all_ready, timeout=90, what="every sandbox to converge", worker=worker
        )
        assert_converged_cleanly(cluster_world, sandboxes)
        record_figures(
            "apiserver killed and restarted",
            sandboxes=len(sandboxes),
            outage_seconds=round(back_at - killed_at, 1),
            all_visible_after_seconds=round(visible_at - killed_at, 1),
            converged_after_recovery_seconds=round(converged_at - back_at, 1),
        )
    finally:
        if down:
            run_testenv("start-apiserver", f"--run-dir={run_dir}")
        worker.stop()
