"""Fixtures for the reconciler against the real control plane: baseline Deployments
and Services in a fresh namespace, catalog entries pointing at them, and a helper
that runs reconciles (as the requeue would) until the sandbox settles."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from bench.baseline import baseline_objects
from sandboxes.cluster import Cluster
from sandboxes.models import BaselineService, DataKind, Mesh, Sandbox
from sandboxes.reconcile import Outcome, reconcile
from tests import factories


@dataclass
class ClusterWorld:
    cluster: Cluster
    namespace: str
    web: BaselineService  # Istio
    orders: BaselineService  # Gateway API, with a Postgres database and a topic
    apply_baseline: Callable[..., None]

    def settle(self, sandbox: Sandbox, *, until: str = "ready", timeout: float = 90) -> Outcome:
        """Run reconciles the way the requeue does, until the outcome is `until`."""
        deadline = time.monotonic() + timeout
        outcome = reconcile(sandbox.pk, cluster=self.cluster)
        while outcome.status != until:
            if outcome.requeue_after is None or time.monotonic() > deadline:
                sandbox.refresh_from_db()
                raise AssertionError(
                    f"sandbox settled as {outcome.status}, not {until}: {sandbox.conditions}"
                )
            time.sleep(0.5)
            outcome = reconcile(sandbox.pk, cluster=self.cluster)
        sandbox.refresh_from_db()
        return outcome


@pytest.fixture
def cluster_world(world, kube_cluster, kube_namespace) -> ClusterWorld:
    cluster = Cluster(kube_cluster.api_client())

    def apply_baseline(name: str, **kwargs: object) -> None:
        for obj in baseline_objects(name, kube_namespace, **kwargs):
            cluster.apply(obj)

    apply_baseline("web")
    apply_baseline(
        "orders",
        env=[
            {"name": "DATABASE_URL", "value": "postgres://orders@db.shop:5432/orders"},
            {"name": "ORDERS_TOPIC", "value": "orders"},
        ],
    )
    world.shop.allowed_namespaces = [*world.shop.allowed_namespaces, kube_namespace]
    world.shop.save()
    web = factories.BaselineServiceFactory(name="web", namespace=kube_namespace, mesh=Mesh.ISTIO)
    orders = factories.BaselineServiceFactory(
        name="orders-gw",
        namespace=kube_namespace,
        deployment="orders",
        service="orders",
        mesh=Mesh.GATEWAY_API,
    )
    factories.DataResourceFactory(
        baseline=orders,
        name="orders-db",
        kind=DataKind.POSTGRES,
        env_var="DATABASE_URL",
        provisioner_dsn_env="SIDESTAGE_TEST_PROVISIONER_DSN",
    )
    factories.DataResourceFactory(
        baseline=orders, name="orders-events", kind=DataKind.KAFKA_TOPIC, env_var="ORDERS_TOPIC"
    )
    cluster.stats.reset()
    return ClusterWorld(cluster, kube_namespace, web, orders, apply_baseline)


@pytest.fixture
def provisioner_dsn(monkeypatch):
    """The worker's DSN for creating sandbox schemas: the test database's server."""
    from django.db import connection

    s = connection.settings_dict
    dsn = f"postgresql://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
    monkeypatch.setenv("SIDESTAGE_TEST_PROVISIONER_DSN", dsn)
    return dsn
