"""The phases of one size of the reconciler benchmark: reconcile until routed, wait for
rollouts, resync, collect what was applied, the lower bound, and the cleanup."""

from __future__ import annotations

import copy
import time
from collections import Counter
from typing import Any

from bench.measure import CpuMeter, count_db_writes, loadavg
from bench.reconcile_setup import BENCH_LABEL, BENCH_MESHES, wait_for_service_account

LB_FIELD_MANAGER = "bench-lower-bound"


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
    from routing.meshes import get_mesh
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
    for api_version, kind in (kind for mesh in BENCH_MESHES for kind in get_mesh(mesh).kinds):
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
