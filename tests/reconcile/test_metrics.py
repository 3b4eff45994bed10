"""The metrics move under a real reconcile: in this process (the web side's /metrics),
and summed over a prefork worker's children in multiprocess mode (the worker pods'
endpoint), with the queue lag measured by the real worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from sandboxes import services
from sandboxes.conditions import condition_status
from tests import factories
from tests.support import worker as support
from tests.support.metrics import TOKEN, scrape, value


@pytest.mark.cluster
def test_the_numbers_move_under_a_real_reconcile(client, settings, world, cluster_world):
    settings.SIDESTAGE_METRICS_TOKEN = TOKEN
    cw = cluster_world
    before = scrape(client)

    ready = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="metered", forks=[{"service": "web"}]
    )
    cw.settle(ready)
    waiting = services.sandbox_create(
        actor=world.bob,
        tenant=world.bob_tenant,
        name="waits",
        profile="prod-like",
        forks=[{"service": "web"}],
    )
    cw.settle(waiting, until="blocked")
    factories.BaselineServiceFactory(name="ghost", namespace=cw.namespace, deployment="ghost")
    broken = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="broken", forks=[{"service": "ghost"}]
    )
    cw.settle(broken, until="failed")
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("sidestage_reconcile_duration_seconds_count", outcome="ready") >= 1
    assert moved("sidestage_reconcile_duration_seconds_count", outcome="progressing") >= 1
    assert moved("sidestage_reconcile_duration_seconds_count", outcome="blocked") >= 1
    assert moved("sidestage_reconcile_failures_total", reason="BaselineNotFound") >= 1
    assert moved("sidestage_write_to_routes_programmed_seconds_count") == 1
    assert (
        moved("sidestage_cluster_api_requests_total", verb="patch", resource="deployments.apps")
        >= 1
    )
    assert (
        moved("sidestage_cluster_api_requests_total", verb="get", resource="deployments.apps") >= 1
    )
    assert moved("sidestage_cluster_api_requests_total", verb="list", resource="services") >= 1
    assert moved("sidestage_sandboxes", state="Ready") == 1
    assert moved("sidestage_sandboxes", state="AwaitingApproval") == 1
    assert moved("sidestage_sandboxes", state="Failed") == 1
    assert moved("sidestage_approvals_pending") == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def prefork_worker(transactional_db, kube_cluster, tmp_path) -> Iterator[tuple[int, str]]:
    """A real prefork worker (two children) in multiprocess mode, serving its metrics."""
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    port, multiproc = _free_port(), tmp_path / "prometheus"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "SIDESTAGE_", "KUBE"))
    }
    env.update(
        DATABASE_URL=support.test_database_url(),
        DATABASE_CONN_MAX_AGE="0",
        REDIS_URL=settings.REDIS_URL,
        DEBUG="false",
        SIDESTAGE_CLUSTER="kubeconfig",
        SIDESTAGE_KUBECONFIG=kube_cluster.kubeconfig,
        SIDESTAGE_VAR_DIR=str(tmp_path / "var"),
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        SIDESTAGE_WORKER_METRICS_PORT=str(port),
        SIDESTAGE_WORKER_METRICS_ADDR="127.0.0.1",
        SIDESTAGE_METRICS_TOKEN=TOKEN,
    )
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [
            str(support.CELERY),
            "-A",
            "portal",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=support.REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield port, str(multiproc)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


@pytest.mark.cluster
@pytest.mark.worker
def test_a_prefork_worker_reports_every_childs_samples(
    client, settings, monkeypatch, world, cluster_world, prefork_worker
):
    port, multiproc = prefork_worker
    url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 60
    while True:
        try:
            assert httpx.get(url, timeout=2).status_code == 401
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = httpx.get(url, headers=auth, timeout=5).text

    sandboxes = [
        services.sandbox_create(
            actor=world.alice, tenant=world.alice_tenant, name=f"mp{i}", forks=[{"service": "web"}]
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 120
    for sandbox in sandboxes:
        while condition_status(sandbox.conditions, "Ready") != "True":
            assert time.monotonic() < deadline, f"not Ready: {sandbox.conditions}"
            time.sleep(0.25)
            sandbox.refresh_from_db()
    after = httpx.get(url, headers=auth, timeout=5).text

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    task = "sandboxes.tasks.reconcile_sandbox"
    assert moved("sidestage_task_queue_lag_seconds_count", task=task) >= 2
    assert moved("sidestage_reconcile_duration_seconds_count", outcome="ready") == 2
    assert moved("sidestage_write_to_routes_programmed_seconds_count") == 2
    assert (
        moved("sidestage_cluster_api_requests_total", verb="patch", resource="deployments.apps")
        >= 2
    )
    # The worker's own endpoint has no database gauges (the web pods serve those).
    assert "sidestage_sandboxes" not in after

    # The web side in multiprocess mode sums the same files, plus the database gauges.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", multiproc)
    settings.SIDESTAGE_METRICS_TOKEN = TOKEN
    web = scrape(client)
    assert value(web, "sidestage_reconcile_duration_seconds_count", outcome="ready") >= 2
    assert value(web, "sidestage_sandboxes", state="Ready") == 2
