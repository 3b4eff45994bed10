"""A prefork child killed mid-reconcile, and the broker (a private Redis with the
persistence production needs) restarted in the middle of a burst of creates."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.chaos.conftest import (
    Watch,
    all_ready,
    assert_converged_cleanly,
    child_with_connection_to,
    create_burst,
    publishing_to,
    record_figures,
    worker_env,
)
from tests.support.slow_proxy import HoldingProxy
from tests.support.worker import start_worker

pytestmark = [pytest.mark.cluster, pytest.mark.worker, pytest.mark.chaos]


def _proxied_kubeconfig(kubeconfig: str, port: int, path: Path) -> str:
    config = json.loads(Path(kubeconfig).read_text())
    for cluster in config["clusters"]:
        server = urlsplit(cluster["cluster"]["server"])
        cluster["cluster"]["server"] = f"{server.scheme}://127.0.0.1:{port}"
    path.write_text(json.dumps(config))
    return str(path)


def test_a_prefork_child_killed_mid_reconcile(
    world, cluster_world, kube_cluster, transactional_db, tmp_path
):
    """The parent sees its child die (WorkerLostError); with acks_late and
    reject_on_worker_lost the message goes back to the queue at once, and another
    child runs the reconcile again."""
    server = urlsplit(
        json.loads(Path(kube_cluster.kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    )
    proxy = HoldingProxy(server.hostname, server.port)
    kubeconfig = _proxied_kubeconfig(kube_cluster.kubeconfig, proxy.port, tmp_path / "kc.json")
    # A long read timeout and budget: the child must still be inside its call when killed.
    env = worker_env(
        kube_cluster,
        tmp_path,
        SIDESTAGE_KUBECONFIG=kubeconfig,
        SIDESTAGE_KUBE_CONNECT_TIMEOUT="8",
        SIDESTAGE_KUBE_READ_TIMEOUT="8",
        SIDESTAGE_RECONCILE_BUDGET_SECONDS="10",
    )
    proxy.hold.set()
    worker = start_worker(tmp_path / "worker.log", pool="prefork", concurrency=2, **env)
    try:
        worker.wait_ready()
        (sandbox,) = create_burst(world, "pfk", 1)
        assert proxy.held.wait(60), f"the worker never called the API:\n{worker.log}"
        child = None
        deadline = time.monotonic() + 10
        while child is None and time.monotonic() < deadline:
            child = child_with_connection_to(worker.process.pid, proxy.port)
            time.sleep(0.1)
        assert child is not None, "no prefork child holds a connection to the API"
        received = re.findall(r"reconcile_sandbox\[([0-9a-f-]{36})\] received", worker.log)
        assert len(received) == 1, worker.log
        watch = Watch([sandbox.pk])
        killed_at = watch.mark()
        os.kill(child, signal.SIGKILL)
        proxy.release()
        converged_at = watch.until(
            all_ready, timeout=90, what="the sandbox to converge", worker=worker
        )
        assert_converged_cleanly(cluster_world, [sandbox])
        log = worker.log
        assert "WorkerLostError" in log or "signal 9" in log, log
        # The same message, run again by the same worker (no visibility timeout wait).
        assert log.count(f"reconcile_sandbox[{received[0]}] received") >= 2, log
        record_figures(
            "prefork child killed mid-reconcile",
            converged_after_kill_seconds=round(converged_at - killed_at, 1),
        )
    finally:
        worker.stop()
        proxy.close()


def test_redis_restarted_mid_burst(
    world, cluster_world, kube_cluster, transactional_db, tmp_path, private_redis
):
    """Messages queued, held unacknowledged (acks_late) or waiting out a countdown
    survive a broker restart: Redis keeps them on disk (appendonly), the worker
    reconnects, and a publish during the restart retries. No resync runs here: every
    sandbox converging means no reconcile was lost."""
    env = worker_env(kube_cluster, tmp_path)
    worker = start_worker(
        tmp_path / "worker.log",
        pool="prefork",
        concurrency=2,
        redis_url=private_redis.url,
        **env,
    )
    try:
        worker.wait_ready()
        with publishing_to(private_redis.url):
            first = create_burst(world, "rds", 3)
            watch = Watch([s.pk for s in first])
            time.sleep(1.0)  # some reconciles in flight, some queued
            stopped_at = watch.mark()
            private_redis.stop()
            private_redis.start()
            back_at = watch.mark()
            second = create_burst(world, "rds", 3, start=3)
            watch.ids += [s.pk for s in second]
            sandboxes = first + second
            converged_at = watch.until(
                all_ready, timeout=120, what="every sandbox to converge", worker=worker
            )
        assert_converged_cleanly(cluster_world, sandboxes)
        assert worker.process.poll() is None, "the worker died with the broker"
        record_figures(
            "redis restarted mid-burst",
            sandboxes=len(sandboxes),
            broker_down_seconds=round(back_at - stopped_at, 1),
            converged_after_restart_seconds=round(converged_at - back_at, 1),
        )
    finally:
        worker.stop()
