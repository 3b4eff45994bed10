"""The reconciler benchmark's world: its own database, a team whose policy shares every
resource, and per size N a namespace with 20 catalog services (10 Istio, 10 Gateway
API) and one tenant per sandbox."""

from __future__ import annotations

import datetime as dt
import time
import urllib.parse
from typing import Any

# Not "sidestage_bench": another benchmark on this machine used that name, and two
# benches dropping each other's database (WITH FORCE) kill each other's connections.
BENCH_DB = "sidestage_reconcile_bench"
SERVICES = 20
BENCH_LABEL = "sidestage.dev/bench"
# Alternated over the catalog, so that even N=10 covers both.
BENCH_MESHES = ("istio", "gateway-api")


def bench_database_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit(f"DATABASE_URL must be PostgreSQL, not {parts.scheme!r}")
    return urllib.parse.urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def recreate_database(server_url: str, *, create: bool) -> None:
    """Drop `sidestage_bench` (if it exists) and optionally create it again."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def seed_team() -> tuple[Any, Any]:
    """A team with a high quota, a lead, and a policy under which every resource is
    `shared`. Returns (team, user)."""
    from django.contrib.auth import get_user_model

    from sandboxes.models import (
        DataAction,
        DataIsolationPolicy,
        DataIsolationRule,
        Membership,
        Role,
        Team,
    )

    policy = DataIsolationPolicy.objects.create(
        name="bench-all-shared",
        description="Every data resource is used as is (the benchmark measures routing).",
        fallback_action=DataAction.SHARED,
    )
    DataIsolationRule.objects.create(
        policy=policy, kind="*", profile="*", action=DataAction.SHARED, note="bench"
    )
    team = Team.objects.create(
        name="Bench",
        slug="bench",
        policy=policy,
        max_sandboxes=1_000_000,
        max_forks_per_sandbox=10,
        max_replicas=3,
        max_ttl=dt.timedelta(days=7),
        default_ttl=dt.timedelta(hours=8),
        allowed_namespaces=[],
        allowed_registries=["ghcr.io/acme"],
    )
    user = get_user_model().objects.create(username="bench-lead")
    Membership.objects.create(team=team, user=user, role=Role.LEAD)
    return team, user


def seed_size(
    team: Any, n: int, namespace: str, cluster: Any, core: Any
) -> tuple[list[Any], list[Any]]:
    """The namespace, 20 catalog services (10 Istio, 10 Gateway API) with their baseline
    Deployments and Services applied, and one tenant per sandbox."""
    from kubernetes import client

    from bench.baseline import baseline_objects
    from routing.keys import generate_routing_key
    from sandboxes.models import BaselineService, DataKind, DataResource, Tenant

    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels={BENCH_LABEL: "1"}))
    )
    wait_for_service_account(core, namespace)
    team.allowed_namespaces = [*team.allowed_namespaces, namespace]
    team.save(update_fields=["allowed_namespaces"])
    services = []
    for i in range(SERVICES):
        workload = f"svc-{i:02d}"
        for obj in baseline_objects(
            workload,
            namespace,
            env=[
                {"name": "LOG_LEVEL", "value": "info"},
                {"name": "DATABASE_URL", "value": f"postgres://app@db.{namespace}:5432/{workload}"},
            ],
        ):
            cluster.apply(obj)
        baseline = BaselineService.objects.create(
            name=f"n{n}-{workload}",
            namespace=namespace,
            deployment=workload,
            service=workload,
            ports=[8080],
            mesh=BENCH_MESHES[i % len(BENCH_MESHES)],
            description="bench",
        )
        DataResource.objects.create(
            baseline=baseline, name=f"{workload}-db", kind=DataKind.POSTGRES, env_var="DATABASE_URL"
        )
        services.append(baseline)
    tenants = Tenant.objects.bulk_create(
        Tenant(team=team, name=f"n{n}-t{i:04d}", tenant_key=generate_routing_key())
        for i in range(n)
    )
    return services, tenants


def wait_for_service_account(core: Any, namespace: str) -> None:
    from kubernetes.client.rest import ApiException

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            core.read_namespaced_service_account("default", namespace)
            return
        except ApiException as error:
            if error.status != 404:
                raise
        time.sleep(0.1)
