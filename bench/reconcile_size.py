"""One size N of the reconciler benchmark: creates, rollouts, two resyncs, image updates
on a sample, and the lower bound, each with its counts."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from bench.measure import (
    CpuMeter,
    count_db_writes,
    loadavg,
    log,
    mutation_kinds,
    percentile,
    summary,
    uptime,
)
from bench.reconcile_phases import (
    collect_applied,
    delete_namespaces,
    lower_bound,
    reconcile_until_programmed,
    resync,
    wait_rollouts,
)
from bench.reconcile_setup import SERVICES, seed_size

UPDATE_SAMPLE = 50


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
