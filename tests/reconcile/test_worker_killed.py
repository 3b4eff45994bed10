"""A worker killed in the middle of a reconcile: the message was not acknowledged
(acks_late), so Redis hands it back after the visibility timeout, another worker runs
the reconcile again, and the sandbox converges."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sandboxes import services
from sandboxes.conditions import condition_status
from tests.support.slow_proxy import HoldingProxy
from tests.support.worker import start_worker, wait_for_sandbox

pytestmark = [pytest.mark.cluster, pytest.mark.worker]
VISIBILITY_TIMEOUT = 6  # seconds; production uses 300


def _proxied_kubeconfig(kubeconfig: str, port: int, path: Path) -> str:
    config = json.loads(Path(kubeconfig).read_text())
    for cluster in config["clusters"]:
        server = urlsplit(cluster["cluster"]["server"])
        cluster["cluster"]["server"] = f"{server.scheme}://127.0.0.1:{port}"
    path.write_text(json.dumps(config))
    return str(path)


def test_a_killed_worker_s_reconcile_is_redelivered_and_converges(
    world, cluster_world, kube_cluster, transactional_db, tmp_path
):
    server = urlsplit(
        json.loads(Path(kube_cluster.kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    )
    proxy = HoldingProxy(server.hostname, server.port)
    kubeconfig = _proxied_kubeconfig(kube_cluster.kubeconfig, proxy.port, tmp_path / "kc.json")
    env = {
        "SIDESTAGE_CLUSTER": "kubeconfig",
        "SIDESTAGE_KUBECONFIG": kubeconfig,
        "SIDESTAGE_VAR_DIR": str(tmp_path / "var"),
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
    }
    proxy.hold.set()
    first = start_worker(tmp_path / "first.log", **env)
    second = None
    try:
        sandbox = services.sandbox_create(
            actor=world.alice,
            tenant=world.alice_tenant,
            name="killed",
            forks=[{"service": "web"}],
        )
        # The first worker took the task and is waiting on its first API call.
        assert proxy.held.wait(60), f"the worker never called the API:\n{first.log}"
        received = re.search(r"reconcile_sandbox\[([0-9a-f-]{36})\] received", first.log)
        assert received, first.log
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        sandbox.refresh_from_db()
        assert sandbox.observed_generation == 0  # nothing was committed

        proxy.release()
        # No flush: the unacknowledged message in Redis is the point.
        second = start_worker(tmp_path / "second.log", flush=False, **env)
        wait_for_sandbox(
            sandbox,
            lambda s: condition_status(s.conditions, "Ready") == "True",
            second,
            timeout=120,
        )
        # The same message, redelivered: the same task id ran on the second worker.
        assert f"reconcile_sandbox[{received.group(1)}] received" in second.log
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()
        proxy.close()
