"""Several real Celery worker processes (2 processes x 4 threads) reconcile sandboxes
that fork the same services at once, against the real control plane. The shared
VirtualService and the per-sandbox HTTPRoutes must never lose (or double) a rule:
every sandbox's rule is there exactly once when all report RoutesProgrammed, and none
is left after a concurrent delete. The catalog-row lock in the reconciler
(docs/architecture.md, "Locking") is what makes this hold."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from sandboxes import services
from sandboxes.conditions import ROUTES_PROGRAMMED, condition_status
from sandboxes.models import Mesh, Sandbox
from tests import factories
from tests.support.worker import start_worker

pytestmark = [pytest.mark.cluster, pytest.mark.worker]

SANDBOXES = 12


@pytest.fixture
def two_workers(transactional_db, kube_cluster, tmp_path):
    env = {
        "SIDESTAGE_CLUSTER": "kubeconfig",
        "SIDESTAGE_KUBECONFIG": kube_cluster.kubeconfig,
        "SIDESTAGE_VAR_DIR": str(tmp_path / "var"),
    }
    workers = [
        start_worker(
            tmp_path / f"worker-{i}.log",
            flush=i == 0,
            pool="threads",
            concurrency=4,
            name=f"w{i}",
            **env,
        )
        for i in range(2)
    ]
    yield workers
    for w in workers:
        w.stop()
    assert all(w.process.poll() is not None for w in workers)


def _wait(predicate, workers, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        dead = [w for w in workers if w.process.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(w.log[-3000:] for w in workers)
            raise AssertionError(f"never got there: {what}\n{logs}")
        time.sleep(0.5)


def _vs_rules(cw) -> list[str]:
    vs = cw.cluster.get("networking.istio.io/v1", "VirtualService", "web-sidestage", cw.namespace)
    return [rule["name"] for rule in vs["spec"]["http"]] if vs else []


def _route_keys(cw) -> list[str]:
    routes = cw.cluster.list(
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        label_selector="sidestage.dev/service=api-gw",
        namespace=cw.namespace,
    )
    return [
        r["metadata"]["labels"]["sidestage.dev/sandbox"]
        for r in routes
        if "sidestage.dev/sandbox" in r["metadata"]["labels"]
    ]


def test_parallel_workers_never_lose_a_route_rule(world, cluster_world, two_workers):
    cw = cluster_world
    cw.apply_baseline("api")
    factories.BaselineServiceFactory(
        name="api-gw",
        namespace=cw.namespace,
        deployment="api",
        service="api",
        mesh=Mesh.GATEWAY_API,
    )
    world.shop.max_sandboxes = SANDBOXES + 5
    world.shop.save()
    sandboxes = []
    for i in range(SANDBOXES):
        tenant = factories.TenantFactory(team=world.shop, name=f"ci-{i}")
        sandboxes.append(
            services.sandbox_create(
                actor=world.alice,
                tenant=tenant,
                name=f"s{i}",
                forks=[{"service": "web", "replicas": 0}, {"service": "api-gw", "replicas": 0}],
            )
        )
    ids = [s.pk for s in sandboxes]

    def all_programmed() -> bool:
        rows = Sandbox.objects.filter(pk__in=ids)
        return all(
            condition_status(s.conditions, ROUTES_PROGRAMMED) == "True"
            and s.observed_generation == s.generation
            for s in rows
        )

    _wait(all_programmed, two_workers, "every sandbox RoutesProgrammed")
    keys = sorted(s.routing_key for s in Sandbox.objects.filter(pk__in=ids))
    rules = _vs_rules(cw)
    assert Counter(rules) == Counter([f"sbx-{k}" for k in keys] + ["baseline"]), rules
    assert sorted(_route_keys(cw)) == keys
    # Both workers took part: the reconciles really ran in parallel processes.
    assert all("reconcile_sandbox" in w.log for w in two_workers)

    # Delete half at once, while the workers are still busy with each other's services.
    doomed, kept = sandboxes[: SANDBOXES // 2], sandboxes[SANDBOXES // 2 :]
    for sandbox in doomed:
        services.sandbox_delete(actor=world.alice, sandbox=sandbox)
    doomed_ids = [s.pk for s in doomed]
    _wait(
        lambda: not Sandbox.objects.filter(pk__in=doomed_ids, deleted_at__isnull=True).exists(),
        two_workers,
        "the deleted half gone",
    )
    kept_keys = sorted(Sandbox.objects.get(pk=s.pk).routing_key for s in kept)
    assert Counter(_vs_rules(cw)) == Counter([f"sbx-{k}" for k in kept_keys] + ["baseline"])
    assert sorted(_route_keys(cw)) == kept_keys

    for sandbox in kept:
        services.sandbox_delete(actor=world.alice, sandbox=sandbox)
    _wait(
        lambda: not Sandbox.objects.filter(pk__in=ids, deleted_at__isnull=True).exists(),
        two_workers,
        "every sandbox gone",
    )
    assert _vs_rules(cw) == []
    assert _route_keys(cw) == []
