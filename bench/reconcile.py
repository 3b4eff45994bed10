#!/usr/bin/env python
"""Reconciler benchmark against the real control plane.

    eval "$(scripts/services)"
    .venv/bin/python bench/reconcile.py [--sizes 10,100,1000] [--kubeconfig PATH]

For each size N it creates N sandboxes (one fork each, round-robin over 20 catalog
services: 10 Istio, 10 Gateway API, one tenant per sandbox) through `sandbox_create`,
each followed by one in-process `reconcile(id, cluster=...)`, and measures:

- create-to-routes-programmed latency (p50/p95/max): from before `sandbox_create` to
  the return of the first reconcile that leaves RoutesProgrammed=True;
- mutating API calls per create and per image update (`sandbox_update` on a sample);
- full resync time, its mutating calls and its DB writes (a first pass that picks up
  rollouts, then a second pass on a settled system: both must make 0 mutating calls,
  the second 0 DB writes);
- a lower bound: every object the reconciler applied, server-side applied straight
  into a fresh namespace with the kubernetes dynamic client in a tight loop.

It uses its own PostgreSQL database (`sidestage_reconcile_bench`, created and dropped here, on the
server `DATABASE_URL` names), its own Celery broker directory (a temp dir; nothing
consumes it, the bench reconciles in-process) and, unless `--kubeconfig` is given, its
own control plane (`scripts/k8s-testenv up` in a temp run dir, always stopped again).
Results go to `bench/results/reconcile-<date>.{md,json}`.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TESTENV = REPO / "scripts" / "k8s-testenv"
# Not "sidestage_bench": another benchmark on this machine used that name, and two
# benches dropping each other's database (WITH FORCE) kill each other's connections.
BENCH_DB = "sidestage_reconcile_bench"
SERVICES = 20
UPDATE_SAMPLE = 50
BENCH_LABEL = "sidestage.dev/bench"
LB_FIELD_MANAGER = "bench-lower-bound"
UP_TIMEOUT = 300


# --- small helpers ---------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: list[float]) -> dict[str, float]:
    """p50/p95/max/mean in milliseconds of a list of seconds."""
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p95_ms": round(percentile(values, 95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
        "mean_ms": round(statistics.fmean(values) * 1000, 1),
    }


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def uptime() -> str:
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return f"load average: {loadavg()}"


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process, in seconds (None if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class CpuMeter:
    """CPU seconds spent by the bench itself, its PostgreSQL backend and (when the bench
    started the control plane) each control-plane component, between two snapshots."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def snapshot(self) -> dict[str, float]:
        snap = {"bench (python)": time.process_time()}
        for name, pid in self.pids.items():
            value = proc_cpu_seconds(pid)
            if value is not None:
                snap[name] = value
        return snap

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {k: round(after[k] - before[k], 2) for k in before if k in after}


class DbWrites:
    """Counts INSERT/UPDATE/DELETE statements; install with connection.execute_wrapper."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        verb = sql.lstrip()[:6].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            self.counts[verb] += 1
        return execute(sql, params, many, context)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@contextmanager
def count_db_writes() -> Iterator[DbWrites]:
    from django.db import connection

    counter = DbWrites()
    with connection.execute_wrapper(counter):
        yield counter


def mutation_kinds(mutated: list[str]) -> dict[str, int]:
    """'apply Deployment ns/name' -> counts per 'apply Deployment'."""
    return dict(Counter(" ".join(m.split()[:2]) for m in mutated))


# --- the database -----------------------------------------------------------------------------
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


# --- the control plane ------------------------------------------------------------------------
def plane_up(run_dir: Path) -> str:
    result = subprocess.run(
        [
            str(TESTENV),
            "up",
            f"--run-dir={run_dir}",
            "--no-build",
            f"--owner-pid={os.getpid()}",
        ],
        capture_output=True,
        text=True,
        timeout=UP_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/k8s-testenv up failed:\n{result.stderr.strip()[-2000:]}")
    return result.stdout.strip().splitlines()[-1]


def plane_down(run_dir: Path) -> list[str]:
    """Stop the plane we started; return problems (empty when clean)."""
    problems: list[str] = []
    result = subprocess.run(
        [str(TESTENV), "down", f"--run-dir={run_dir}", "--purge"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        problems.append(f"down exited {result.returncode}: {result.stderr.strip()[-500:]}")
    # The --owner-pid watchdog may take a moment to notice the plane is gone.
    deadline = time.monotonic() + 15
    while True:
        stray = subprocess.run(
            ["pgrep", "-af", str(run_dir)], capture_output=True, text=True, check=False
        ).stdout.strip()
        stray = "\n".join(
            line for line in stray.splitlines() if str(os.getpid()) != line.split()[0]
        )
        if not stray or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if stray:
        problems.append(f"stray processes mention {run_dir}:\n{stray}")
    return problems


def plane_pids(run_dir: Path | None) -> dict[str, int]:
    if run_dir is None:
        return {}
    pids: dict[str, int] = {}
    for pid_file in sorted((run_dir / "pids").glob("*.pid")):
        try:
            pids[pid_file.stem] = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return pids


# --- machine and versions -------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "nproc_cmd": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu_model": cpu_model or platform.processor() or "unknown",
        "kernel": platform.release(),
        "hostname": platform.node(),
    }


def software_versions(api_client: Any, run_dir: Path | None) -> dict[str, str]:
    import django
    import kubernetes
    import psycopg
    from django.db import connection
    from kubernetes import client

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    versions = {
        "python": platform.python_version(),
        "django": django.get_version(),
        "kubernetes_client": kubernetes.__version__,
        "psycopg": psycopg.__version__,
        "postgresql": pg_version,
        "kubernetes_server": str(client.VersionApi(api_client).get_code().git_version),
        "etcd": "unknown (external cluster)",
        "kwok": "unknown (external cluster)",
    }
    if run_dir is not None and (run_dir / "state.json").is_file():
        state = json.loads((run_dir / "state.json").read_text())
        versions["etcd"] = state.get("versions", {}).get("etcd", "unknown")
        versions["kwok"] = state.get("versions", {}).get("kwok", "unknown")
    return versions


# --- seeding ---------------------------------------------------------------------------------
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
    from sandboxes.models import BaselineService, DataKind, DataResource, Mesh, Tenant

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
            # Alternate, so that even N=10 covers both meshes.
            mesh=Mesh.ISTIO if i % 2 == 0 else Mesh.GATEWAY_API,
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


# --- one size ------------------------------------------------------------------------------------
def routes_programmed(sandbox_id: int) -> bool:
    from sandboxes.conditions import ROUTES_PROGRAMMED, condition_status
    from sandboxes.models import Sandbox

    conditions = Sandbox.objects.values_list("conditions", flat=True).get(pk=sandbox_id)
    return condition_status(conditions, ROUTES_PROGRAMMED) == "True"


def reconcile_until_programmed(sandbox_id: int, cluster: Any) -> tuple[float, int, str]:
    """Reconcile until RoutesProgrammed is True (at most 5 passes). Returns the time
    spent inside reconcile, the number of passes and the last outcome."""
    from sandboxes.reconcile import reconcile

    spent, passes, status = 0.0, 0, ""
    while passes < 5:
        start = time.perf_counter()
        outcome = reconcile(sandbox_id, cluster=cluster)
        spent += time.perf_counter() - start
        passes += 1
        status = outcome.status
        if routes_programmed(sandbox_id):
            return spent, passes, status
    raise RuntimeError(f"sandbox {sandbox_id}: RoutesProgrammed not True after 5 passes ({status})")


def wait_rollouts(apps: Any, namespace: str, replicas: int, limit: float) -> float | None:
    """Seconds until every fork Deployment in the namespace reports what the reconciler
    calls ready (observed generation, updated and available replicas); None on timeout."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        items = apps.list_namespaced_deployment(
            namespace, label_selector="app.kubernetes.io/managed-by=sidestage"
        ).items
        if all(
            (d.status.observed_generation or 0) >= (d.metadata.generation or 0)
            and (d.status.updated_replicas or 0) >= replicas
            and (d.status.available_replicas or 0) >= replicas
            for d in items
        ):
            return time.monotonic() - start
        time.sleep(1)
    return None


def resync(ids: list[int], cluster: Any, deadline: float, cpu: CpuMeter) -> dict[str, Any]:
    from sandboxes.reconcile import reconcile

    cluster.stats.reset()
    outcomes: Counter[str] = Counter()
    before = cpu.snapshot()
    start = time.perf_counter()
    done = 0
    with count_db_writes() as writes:
        for sandbox_id in ids:
            if time.monotonic() > deadline:
                break
            outcomes[reconcile(sandbox_id, cluster=cluster).status] += 1
            done += 1
    total = time.perf_counter() - start
    return {
        "sandboxes": done,
        "complete": done == len(ids),
        "total_s": round(total, 2),
        "per_sandbox_ms": round(total / max(done, 1) * 1000, 1),
        "mutations": cluster.stats.mutations,
        "mutated": cluster.stats.mutated[:20],
        "reads": cluster.stats.reads,
        "reads_per_sandbox": round(cluster.stats.reads / max(done, 1), 2),
        "db_writes": writes.total,
        "db_writes_by_verb": dict(writes.counts),
        "outcomes": dict(outcomes),
        "cpu_s": cpu.delta(before, cpu.snapshot()),
        "loadavg_after": loadavg(),
    }


def collect_applied(ids: list[int], cluster: Any, namespace: str) -> tuple[list[dict], dict]:
    """Every object the reconciler applied: workloads and routes from applied_manifests
    (latest per object), plus any managed route found in the namespace but not there."""
    from routing.names import MANAGED_BY_LABEL, MANAGED_BY_VALUE
    from sandboxes.models import Sandbox

    objects: dict[tuple[str, str, str], dict] = {}
    for manifests in (
        Sandbox.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list("applied_manifests", flat=True)
    ):
        for obj in manifests or []:
            meta = obj["metadata"]
            objects[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj
    from_manifests = len(objects)
    from_cluster = 0
    for api_version, kind in (
        ("networking.istio.io/v1", "VirtualService"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ):
        for live in cluster.list(
            api_version,
            kind,
            namespace=namespace,
            label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}",
        ):
            meta = live["metadata"]
            key = (kind, namespace, meta["name"])
            if key not in objects:
                from_cluster += 1
                objects[key] = {
                    "apiVersion": api_version,
                    "kind": kind,
                    "metadata": {
                        k: meta[k]
                        for k in ("name", "namespace", "labels", "annotations")
                        if k in meta
                    },
                    "spec": live["spec"],
                }
    order = {"Deployment": 0, "Service": 1}
    ordered = sorted(objects.values(), key=lambda o: order.get(o["kind"], 2))
    kinds = Counter(o["kind"] for o in ordered)
    return ordered, {
        "objects": len(ordered),
        "from_applied_manifests": from_manifests,
        "routes_only_in_cluster": from_cluster,
        "by_kind": dict(kinds),
    }


def lower_bound(
    objects: list[dict], api_client: Any, namespace: str, core: Any, deadline: float
) -> dict[str, Any]:
    """Server-side apply every object, renamed into `namespace`, in a tight loop with the
    dynamic client: once (real creates) and once more (no-op applies)."""
    from kubernetes import client
    from kubernetes.dynamic import DynamicClient

    from routing.names import MANAGED_BY_LABEL

    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels={BENCH_LABEL: "1"}))
    )
    wait_for_service_account(core, namespace)
    dynamic = DynamicClient(api_client)
    resources: dict[tuple[str, str], Any] = {}
    renamed = []
    for obj in objects:
        body = copy.deepcopy(obj)
        body["metadata"]["namespace"] = namespace
        # Same size and shape, but not Sidestage's: the reconciler finds its objects by
        # label across namespaces and would (rightly) delete copies that carry its labels.
        body["metadata"]["labels"][MANAGED_BY_LABEL] = LB_FIELD_MANAGER
        key = (body["apiVersion"], body["kind"])
        if key not in resources:
            resources[key] = dynamic.resources.get(api_version=key[0], kind=key[1])
        renamed.append((resources[key], body))

    def loop() -> tuple[float, int]:
        start = time.perf_counter()
        done = 0
        for resource, body in renamed:
            if time.monotonic() > deadline:
                break
            resource.server_side_apply(
                body=body,
                name=body["metadata"]["name"],
                namespace=namespace,
                field_manager=LB_FIELD_MANAGER,
                force_conflicts=True,
            )
            done += 1
        return time.perf_counter() - start, done

    create_s, created = loop()
    noop_s, reapplied = loop()
    return {
        "objects": len(renamed),
        "create_applied": created,
        "create_total_s": round(create_s, 2),
        "create_per_object_ms": round(create_s / max(created, 1) * 1000, 1),
        "noop_reapply_applied": reapplied,
        "noop_reapply_total_s": round(noop_s, 2),
        "noop_reapply_per_object_ms": round(noop_s / max(reapplied, 1) * 1000, 1),
    }


def delete_namespaces(core: Any, names: list[str], limit: float = 600) -> dict[str, Any]:
    from kubernetes.client.rest import ApiException

    start = time.monotonic()
    for name in names:
        try:
            core.delete_namespace(name, propagation_policy="Background")
        except ApiException as error:
            if error.status != 404:
                raise
    remaining = list(names)
    while remaining and time.monotonic() - start < limit:
        for name in list(remaining):
            try:
                core.read_namespace(name)
            except ApiException as error:
                if error.status == 404:
                    remaining.remove(name)
                else:
                    raise
        if remaining:
            time.sleep(1)
    return {"seconds": round(time.monotonic() - start, 1), "not_gone": remaining}


def run_size(
    n: int,
    *,
    team: Any,
    user: Any,
    cluster: Any,
    api_client: Any,
    replicas: int,
    limit: float,
    cpu: CpuMeter,
) -> dict[str, Any]:
    from kubernetes import client

    from sandboxes.models import Sandbox
    from sandboxes.services import sandbox_create, sandbox_update

    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    namespace, lb_namespace = f"bench-n{n}", f"bench-n{n}-lb"
    started = time.monotonic()
    deadline = started + limit
    # Creates get 60% of the budget, so that what was created can still be measured.
    create_deadline = started + 0.6 * limit
    result: dict[str, Any] = {
        "n": n,
        "replicas": replicas,
        "namespace": namespace,
        "wall_limit_s": limit,
        "complete": True,
        "limited_by": "",
        "uptime_before": uptime(),
    }
    log(f"N={n}: seeding namespace {namespace}, 20 services, {n} tenants")
    try:
        services, tenants = seed_size(team, n, namespace, cluster, core)

        # --- creates ---------------------------------------------------------------------------
        cluster.stats.reset()
        latencies, service_s, reconcile_s, passes = [], [], [], Counter()
        outcomes: Counter[str] = Counter()
        ids: list[int] = []
        before = cpu.snapshot()
        phase_start = time.perf_counter()
        with count_db_writes() as writes:
            for i in range(n):
                if time.monotonic() > create_deadline:
                    result["complete"] = False
                    result["limited_by"] = (
                        f"creates stopped at 60% of the {limit:.0f}s wall-clock limit, "
                        f"after {i} of {n}"
                    )
                    break
                service = services[i % SERVICES]
                t0 = time.perf_counter()
                sandbox = sandbox_create(
                    actor=user,
                    tenant=tenants[i],
                    name="bench",
                    forks=[
                        {
                            "service": service.name,
                            "image": f"ghcr.io/acme/{service.deployment}:2.0.0",
                            "replicas": replicas,
                        }
                    ],
                )
                t1 = time.perf_counter()
                spent, count, status = reconcile_until_programmed(sandbox.pk, cluster)
                # The condition check after each pass is a SELECT outside the window.
                latencies.append(t1 - t0 + spent)
                service_s.append(t1 - t0)
                reconcile_s.append(spent)
                passes[count] += 1
                outcomes[status] += 1
                ids.append(sandbox.pk)
                if (i + 1) % max(1, n // 10) == 0:
                    elapsed = time.monotonic() - started
                    log(
                        f"N={n}: {i + 1}/{n} created, last p50 "
                        f"{percentile(latencies[-(n // 10 or 1) :], 50) * 1000:.0f} ms, "
                        f"{elapsed:.0f}s elapsed, load {loadavg()}"
                    )
        create_total = time.perf_counter() - phase_start
        created = len(ids)
        result["creates"] = {
            "sandboxes": created,
            "phase_total_s": round(create_total, 2),
            "sum_of_latencies_s": round(sum(latencies), 2),
            "latency": summary(latencies),
            "first_create_ms": round(latencies[0] * 1000, 1) if latencies else None,
            "sandbox_create_part": summary(service_s),
            "reconcile_part": summary(reconcile_s),
            "reconcile_passes_to_programmed": {str(k): v for k, v in sorted(passes.items())},
            "first_outcomes": dict(outcomes),
            "mutations": cluster.stats.mutations,
            "mutations_per_create": round(cluster.stats.mutations / max(created, 1), 2),
            "mutations_by_kind": mutation_kinds(cluster.stats.mutated),
            "reads_per_create": round(cluster.stats.reads / max(created, 1), 2),
            "db_writes_per_create": round(writes.total / max(created, 1), 2),
            "db_writes_by_verb": dict(writes.counts),
            "cpu_s": cpu.delta(before, cpu.snapshot()),
            "loadavg_after": loadavg(),
        }
        log(f"N={n}: creates done in {create_total:.1f}s: {result['creates']['latency']}")
        if not ids:
            return result

        # --- rollouts, then two resyncs ------------------------------------------------------
        remaining = max(0.0, deadline - time.monotonic())
        waited = wait_rollouts(apps, namespace, replicas, min(300.0, remaining))
        result["rollout_wait_s"] = None if waited is None else round(waited, 1)
        log(f"N={n}: rollouts settled after {result['rollout_wait_s']}s; resync 1")
        result["resync_first"] = resync(ids, cluster, deadline, cpu)
        log(f"N={n}: resync 1: {result['resync_first']['total_s']}s; resync 2")
        result["resync_noop"] = resync(ids, cluster, deadline, cpu)
        log(
            f"N={n}: resync 2: {result['resync_noop']['total_s']}s, "
            f"{result['resync_noop']['mutations']} mutations, "
            f"{result['resync_noop']['db_writes']} DB writes"
        )
        if not result["resync_noop"]["complete"]:
            result["complete"] = False
            result["limited_by"] = result["limited_by"] or f"wall-clock limit {limit:.0f}s (resync)"

        # --- the objects as created, for the lower bound below ---------------------------
        objects, provenance = collect_applied(ids, cluster, namespace)
        result["applied_objects"] = provenance

        # --- image updates on a sample ----------------------------------------------------
        sample = ids[:: max(1, len(ids) // UPDATE_SAMPLE)][:UPDATE_SAMPLE]
        cluster.stats.reset()
        update_latencies: list[float] = []
        before = cpu.snapshot()
        with count_db_writes() as writes:
            for sandbox_id in sample:
                if time.monotonic() > deadline:
                    break
                sandbox = Sandbox.objects.get(pk=sandbox_id)
                fork = sandbox.spec["forks"][0]
                t0 = time.perf_counter()
                sandbox_update(
                    actor=user,
                    sandbox=sandbox,
                    forks=[{**fork, "image": fork["image"].replace(":2.0.0", ":3.0.0")}],
                )
                t1 = time.perf_counter()
                spent, _, _ = reconcile_until_programmed(sandbox_id, cluster)
                update_latencies.append(t1 - t0 + spent)
        done = len(update_latencies)
        result["updates"] = {
            "sandboxes": done,
            "latency": summary(update_latencies),
            "mutations": cluster.stats.mutations,
            "mutations_per_update": round(cluster.stats.mutations / max(done, 1), 2),
            "mutations_by_kind": mutation_kinds(cluster.stats.mutated),
            "mutated_sample": cluster.stats.mutated[:6],
            "db_writes_per_update": round(writes.total / max(done, 1), 2),
            "cpu_s": cpu.delta(before, cpu.snapshot()),
        }
        log(f"N={n}: {done} updates, {result['updates']['mutations_per_update']} mutations each")

        # --- lower bound: the same objects (as created), applied directly ------------------
        # Last, so that nothing the reconciler does runs alongside the copies.
        log(f"N={n}: lower bound: {len(objects)} objects into {lb_namespace}")
        lb = lower_bound(objects, api_client, lb_namespace, core, deadline)
        lb["ratio_sidestage_create_to_lower_bound"] = (
            round(sum(latencies) / lb["create_total_s"], 2) if lb["create_total_s"] else None
        )
        lb["ratio_resync_to_noop_reapply"] = (
            round(result["resync_noop"]["total_s"] / lb["noop_reapply_total_s"], 2)
            if lb["noop_reapply_total_s"]
            else None
        )
        result["lower_bound"] = lb
        ratio = lb["ratio_sidestage_create_to_lower_bound"]
        log(f"N={n}: lower bound {lb['create_total_s']}s, ratio {ratio}")
    finally:
        result["size_wall_s"] = round(time.monotonic() - started, 1)
        result["uptime_after"] = uptime()
        log(f"N={n}: cleaning up namespaces")
        result["cleanup"] = delete_namespaces(core, [namespace, lb_namespace])
        log(f"N={n}: done in {result['size_wall_s']}s (cleanup {result['cleanup']})")
    return result


METHOD_NOTES = [
    "How to read it:",
    "",
    "- *create*: wall time from before `sandbox_create` (validation, policy, one "
    "transaction, audit, enqueue to a private Celery broker directory nobody consumes) "
    "to the return of the first in-process `reconcile()` that leaves "
    "RoutesProgrammed=True. One pass always sufficed (see `reconcile_passes_to_programmed`).",
    "- *mutations/create*, *mutations/update*: `Cluster.stats.mutations` (server-side "
    "applies and deletes) over the phase / sandboxes. Update = image change through "
    "`sandbox_update` on min(N, 50) sandboxes spread over all services.",
    "- *resync-1*: every sandbox reconciled once more after the fork rollouts settled "
    "(it writes the new readiness: fork status and the Ready condition). *resync no-op*: "
    "the pass after that, nothing changed: mutating calls and DB writes "
    "(INSERT/UPDATE/DELETE counted with `connection.execute_wrapper`) must both be 0.",
    "- *lower bound*: every distinct object the reconciler applied (fork Deployments and "
    "Services, per-sandbox HTTPRoutes, shared VirtualServices / catch-all HTTPRoutes in "
    "their final state) server-side applied once into a fresh namespace with the dynamic "
    "client in a tight loop (real creates). *ratio* = sum of Sidestage create latencies / "
    "that loop. Sidestage does more than the loop by design: it reads the baseline "
    "Deployment and Service, lists what it owns, re-applies the shared route of the "
    "service on every create, and writes the DB. The JSON also has the no-op re-apply "
    "of all objects (a naive 'apply everything' resync) next to Sidestage's no-op resync.",
    "- `cpu_s` per phase: CPU seconds of the bench process, its PostgreSQL backend and "
    "each control-plane component (when the bench started the plane).",
    "- The machine is shared: other sessions ran test suites and another benchmark at "
    "the same time (see the load averages); absolute times are inflated by that, the "
    "counts (mutations, reads, writes) are not.",
]


# --- output --------------------------------------------------------------------------------------
def table(results: list[dict[str, Any]]) -> str:
    def get(r: dict, *path: str) -> Any:
        for p in path:
            if not isinstance(r, dict) or p not in r:
                return "-"
            r = r[p]
        return r

    header = [
        "N",
        "replicas",
        "complete",
        "create p50 ms",
        "create p95 ms",
        "create max ms",
        "mutations/create",
        "mutations/update",
        "resync-1 s",
        "resync no-op s",
        "no-op ms/sandbox",
        "no-op mutations",
        "no-op DB writes",
        "lower bound s (objects)",
        "Sidestage create s",
        "ratio",
    ]
    rows = []
    for r in results:
        rows.append(
            [
                r["n"],
                r["replicas"],
                "yes" if r["complete"] else "NO",
                get(r, "creates", "latency", "p50_ms"),
                get(r, "creates", "latency", "p95_ms"),
                get(r, "creates", "latency", "max_ms"),
                get(r, "creates", "mutations_per_create"),
                get(r, "updates", "mutations_per_update"),
                get(r, "resync_first", "total_s"),
                get(r, "resync_noop", "total_s"),
                get(r, "resync_noop", "per_sandbox_ms"),
                get(r, "resync_noop", "mutations"),
                get(r, "resync_noop", "db_writes"),
                f"{get(r, 'lower_bound', 'create_total_s')} ({get(r, 'lower_bound', 'objects')})",
                get(r, "creates", "sum_of_latencies_s"),
                get(r, "lower_bound", "ratio_sidestage_create_to_lower_bound"),
            ]
        )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = report["started_at"][:10]
    json_path = out_dir / f"reconcile-{stamp}.json"
    md_path = out_dir / f"reconcile-{stamp}.md"
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    m, v = report["machine"], report["versions"]
    lines = [
        f"# Reconciler benchmark, {stamp}",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Started {report['started_at']}, finished {report['finished_at']}; "
        f"wall time {report['wall_s']} s.",
        "",
        "## Machine and versions",
        "",
        f"- {m['nproc_cmd']} CPUs (`nproc`), {m['memory_gib']} GiB memory, {m['cpu_model']}, "
        f"Linux {m['kernel']}",
        f"- Python {v['python']}, Django {v['django']}, kubernetes client "
        f"{v['kubernetes_client']}, psycopg {v['psycopg']}, PostgreSQL {v['postgresql']}",
        f"- Kubernetes {v['kubernetes_server']}, etcd {v['etcd']}, KWOK {v['kwok']} "
        f"({report['control_plane']})",
        f"- Load: before `{report['uptime_before']}`; after `{report['uptime_after']}`",
        "",
        "## Results",
        "",
        table(report["results"]),
        "",
    ]
    lines += METHOD_NOTES
    for r in report["results"]:
        lines += ["", f"### N = {r['n']} (replicas {r['replicas']})", ""]
        if not r["complete"]:
            lines.append(f"**Incomplete**: {r['limited_by']}")
            lines.append("")
        lines.append(f"- load before: `{r['uptime_before']}`; after: `{r['uptime_after']}`")
        for section in (
            "creates",
            "rollout_wait_s",
            "resync_first",
            "resync_noop",
            "applied_objects",
            "lower_bound",
            "updates",
            "cleanup",
        ):
            if section in r:
                lines.append(f"- {section}: `{json.dumps(r[section], default=str)}`")
    if report.get("problems"):
        lines += ["", "## Problems", ""] + [f"- {p}" for p in report["problems"]]
    md_path.write_text("\n".join(lines) + "\n")
    return md_path, json_path


# --- main ----------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated N")
    parser.add_argument("--kubeconfig", help="use this cluster instead of starting one")
    parser.add_argument(
        "--replicas",
        default="auto",
        help="fork replicas: 0, 1, or auto (1 for N<=100, 0 above: 1000 KWOK pods "
        "would measure KWOK and the scheduler, not Sidestage)",
    )
    parser.add_argument(
        "--size-limit", type=float, default=1500, help="wall-clock seconds per size"
    )
    parser.add_argument("--output-dir", default=str(REPO / "bench" / "results"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        raise SystemExit('DATABASE_URL is not set; run `eval "$(scripts/services)"` first')
    workdir = Path(tempfile.mkdtemp(prefix="sidestage-bench-"))
    # Settings for this process only: a private database, a private (unconsumed) Celery
    # broker directory, no Redis (the suite's broker), no render-only cluster fallback.
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["DATABASE_URL"] = bench_database_url(server_url)
    os.environ.pop("REDIS_URL", None)
    os.environ["SIDESTAGE_VAR_DIR"] = str(workdir / "var")
    os.environ["DEBUG"] = "0"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(REPO))

    report: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(
            shlex.quote(a) for a in [os.path.relpath(sys.executable, REPO), *sys.argv]
        ),
        "machine": machine_info(),
        "uptime_before": uptime(),
        "results": [],
        "problems": [],
    }
    run_dir: Path | None = None
    api_client = None
    started = time.monotonic()
    try:
        recreate_database(server_url, create=True)
        import django

        django.setup()
        from django.core.management import call_command
        from kubernetes import config

        from sandboxes.cluster import Cluster

        call_command("migrate", verbosity=0)
        if args.kubeconfig:
            kubeconfig = args.kubeconfig
            report["control_plane"] = f"external, {kubeconfig}"
        else:
            run_dir = workdir / "k8s"
            log(f"starting a private control plane in {run_dir}")
            up_start = time.monotonic()
            kubeconfig = plane_up(run_dir)
            report["control_plane"] = (
                f"private, scripts/k8s-testenv up in {time.monotonic() - up_start:.1f}s"
            )
        api_client = config.new_client_from_config(config_file=kubeconfig)
        cluster = Cluster(api_client)
        report["versions"] = software_versions(api_client, run_dir)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        pids = {f"postgres backend {backend}": backend}
        pids.update(plane_pids(run_dir))
        cpu = CpuMeter(pids)
        team, user = seed_team()
        for n in sizes:
            replicas = (1 if n <= 100 else 0) if args.replicas == "auto" else int(args.replicas)
            try:
                report["results"].append(
                    run_size(
                        n,
                        team=team,
                        user=user,
                        cluster=cluster,
                        api_client=api_client,
                        replicas=replicas,
                        limit=args.size_limit,
                        cpu=cpu,
                    )
                )
            except Exception as exc:  # report what was measured, and why the rest was not
                report["problems"].append(f"N={n} aborted: {type(exc).__name__}: {exc}")
                log(f"N={n} aborted: {exc!r}")
                break
            print(table(report["results"][-1:]), flush=True)
    finally:
        report["uptime_after"] = uptime()
        if api_client is not None:
            api_client.close()
        try:
            from django.db import connections

            connections.close_all()
        except Exception as exc:  # django may not be set up yet
            report["problems"].append(f"closing DB connections: {exc}")
        try:
            recreate_database(server_url, create=False)
        except Exception as exc:
            report["problems"].append(f"dropping {BENCH_DB}: {exc}")
        if run_dir is not None:
            log("stopping the control plane")
            report["problems"].extend(plane_down(run_dir))
        # The private broker directory and the (purged) run dir; kept if the plane did not
        # stop cleanly, so its pid files and logs can still be looked at.
        if not report["problems"]:
            shutil.rmtree(workdir, ignore_errors=True)
        report["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        report["wall_s"] = round(time.monotonic() - started, 1)
        if report["results"] and "versions" in report:
            md_path, json_path = write_results(report, Path(args.output_dir))
            print(table(report["results"]))
            print(f"wrote {md_path} and {json_path}")
        for problem in report["problems"]:
            print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
