"""The reconciler benchmark's report: a table and `bench/results/reconcile-<date>.{md,json}`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
