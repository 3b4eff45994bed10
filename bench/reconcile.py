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

The code: this file (arguments, set-up and tear-down), `reconcile_size.py` (one size,
phase by phase), `reconcile_phases.py` (each phase), `reconcile_setup.py` (database,
team, catalog, tenants), `reconcile_report.py` (table and result files) and
`measure.py` (percentiles, CPU, DB writes, machine and versions).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Run as a script: the repository root makes `bench`, `scripts` and the apps importable.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.measure import CpuMeter, log, machine_info, software_versions, uptime  # noqa: E402
from bench.reconcile_report import table, write_results  # noqa: E402
from bench.reconcile_setup import (  # noqa: E402
    BENCH_DB,
    bench_database_url,
    recreate_database,
    seed_team,
)
from bench.reconcile_size import run_size  # noqa: E402
from scripts.k8s.private_plane import PrivatePlane, start_private_plane  # noqa: E402

UP_TIMEOUT = 300


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
    plane: PrivatePlane | None = None
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
            log(f"starting a private control plane in {workdir / 'k8s'}")
            plane = start_private_plane(workdir / "k8s", timeout=UP_TIMEOUT)
            kubeconfig = plane.kubeconfig
            report["control_plane"] = (
                f"private, scripts/k8s-testenv up in {plane.startup_seconds:.1f}s"
            )
        api_client = config.new_client_from_config(config_file=kubeconfig)
        cluster = Cluster(api_client)
        report["versions"] = software_versions(
            api_client, plane.run_dir if plane is not None else None
        )
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        pids = {f"postgres backend {backend}": backend}
        pids.update(plane.pids() if plane is not None else {})
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
        if plane is not None:
            log("stopping the control plane")
            report["problems"].extend(plane.stop())
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
