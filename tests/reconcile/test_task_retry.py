"""The task layer's retry path, on a real worker and the real broker: while the API
server does not answer, the reconcile is retried with growing backoff (capped) and the
sandbox says ClusterUnreachable; once it answers, the next retry converges it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sandboxes import services
from sandboxes.conditions import condition_status
from tests.support.slow_proxy import HoldingProxy
from tests.support.worker import start_worker, wait_for_sandbox

pytestmark = [pytest.mark.cluster, pytest.mark.worker]
MAX_BACKOFF = 4


def test_transient_failures_retry_with_backoff_then_converge(
    world, cluster_world, kube_cluster, transactional_db, tmp_path
):
    config = json.loads(Path(kube_cluster.kubeconfig).read_text())
    server = urlsplit(config["clusters"][0]["cluster"]["server"])
    proxy = HoldingProxy(server.hostname, server.port, max_hold=600)
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    kubeconfig = tmp_path / "kc.json"
    kubeconfig.write_text(json.dumps(config))
    proxy.hold.set()  # accepts connections, answers nothing: a hung API server
    worker = start_worker(
        tmp_path / "worker.log",
        SIDESTAGE_CLUSTER="kubeconfig",
        SIDESTAGE_KUBECONFIG=str(kubeconfig),
        SIDESTAGE_VAR_DIR=str(tmp_path / "var"),
        SIDESTAGE_KUBE_CONNECT_TIMEOUT="1",
        SIDESTAGE_KUBE_READ_TIMEOUT="1",
        SIDESTAGE_KUBE_ATTEMPTS="2",
        SIDESTAGE_RECONCILE_MAX_BACKOFF=str(MAX_BACKOFF),
    )
    try:
        sandbox = services.sandbox_create(
            actor=world.alice, tenant=world.alice_tenant, name="retry", forks=[{"service": "web"}]
        )
        wait_for_sandbox(
            sandbox,
            lambda s: len(re.findall(r"Retry in", worker.log)) >= 4,
            worker,
            timeout=90,
        )
        ready = next(c for c in sandbox.conditions if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "ClusterUnreachable")
        assert "The Kubernetes API is unreachable" in ready["message"]
        countdowns = [float(x) for x in re.findall(r"Retry in ([0-9.]+)s", worker.log)]
        # 1, 2, 4, 4... seconds with up to 20 % jitter: growing, then capped.
        assert countdowns[0] < countdowns[1] < countdowns[2], countdowns
        assert max(countdowns) <= MAX_BACKOFF * 1.2, countdowns
        # The same message all along: one task id, retried.
        ids = set(re.findall(r"reconcile_sandbox\[([0-9a-f-]{36})\] retry", worker.log))
        assert len(ids) == 1, worker.log

        proxy.release()
        wait_for_sandbox(
            sandbox,
            lambda s: condition_status(s.conditions, "Ready") == "True",
            worker,
            timeout=90,
        )
    finally:
        worker.stop()
        proxy.close()
