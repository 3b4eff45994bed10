#!/usr/bin/env python
"""Catalog discovery benchmark against the real control plane.

    eval "$(scripts/services)"
    .venv/bin/python bench/catalog.py [--sizes 50,200] [--kubeconfig PATH]

For each size N it applies N annotated Deployments with their Services, spread over
four namespaces (Istio sidecar, Istio ambient, Linkerd, pod-template injection), plus
N/4 unannotated ones, and times `run_catalog_sync` with the discovery token's
permissions (the bench uses the admin kubeconfig; the calls are the same):

- the first sync (creates N entries), its API reads and DB writes;
- a sync with nothing new;
- a sync after 10% of the Services changed port (drift).

Own PostgreSQL database (`sidestage_catalog_bench`, created and dropped here) and,
unless `--kubeconfig` is given, its own control plane. Results go to
`bench/results/catalog-<date>.{md,json}`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.reconcile import (  # noqa: E402 - the path above makes `bench` importable
    count_db_writes,
    log,
    machine_info,
    plane_down,
    plane_up,
    uptime,
)

BENCH_DB = "sidestage_catalog_bench"
MESH_NAMESPACES = {
    "istio": ({"istio-injection": "enabled"}, {}),
    "ambient": ({"istio.io/dataplane-mode": "ambient"}, {}),
    "linkerd": ({}, {"linkerd.io/inject": "enabled"}),
    "podlabel": ({}, {}),
}


def recreate_database(server_url: str, *, create: bool) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def timed_sync(cluster: Any, namespaces: list[str]) -> dict[str, Any]:
    from sandboxes.catalog.runner import run_catalog_sync

    cluster.stats.reset()
    with count_db_writes() as writes:
        started = time.monotonic()
        run = run_catalog_sync(cluster, namespaces=namespaces, backstage_sources=[])
        elapsed = time.monotonic() - started
    return {
        "seconds": round(elapsed, 3),
        "api_reads": cluster.stats.reads,
        "api_mutations": cluster.stats.mutations,
        "db_writes": dict(writes.counts),
        "created": len(run.sync.created),
        "drifted": len(run.sync.drifted),
        "skipped": len(run.sync.skipped),
    }


def run_size(n: int, cluster: Any, core: Any, tag: str) -> dict[str, Any]:
    from bench.baseline import baseline_objects

    namespaces = []
    for mesh, (labels, ns_notes) in MESH_NAMESPACES.items():
        name = f"bench-cat-{tag}-{n}-{mesh}"
        core.create_namespace(
            {"metadata": {"name": name, "labels": labels, "annotations": ns_notes}}
        )
        namespaces.append(name)
    started = time.monotonic()
    for i in range(n + n // 4):
        mesh = list(MESH_NAMESPACES)[i % 4]
        ns = namespaces[i % 4]
        deployment, service = baseline_objects(f"svc{i}", ns)
        if i < n:
            deployment["metadata"]["annotations"] = {
                "sidestage.dev/forkable": "true",
                "sidestage.dev/name": f"s{n}-{i}",
                "sidestage.dev/data.DATABASE_URL": "postgres",
            }
        if mesh == "podlabel":
            deployment["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] = "true"
        cluster.apply(deployment)
        cluster.apply(service)
    setup = time.monotonic() - started
    first = timed_sync(cluster, namespaces)
    noop = timed_sync(cluster, namespaces)
    for i in range(0, n, 10):
        _, service = baseline_objects(f"svc{i}", namespaces[i % 4])
        service["spec"]["ports"] = [{"name": "http", "port": 9090, "targetPort": 8080}]
        cluster.apply(service)
    drift = timed_sync(cluster, namespaces)
    for name in namespaces:
        core.delete_namespace(name, propagation_policy="Background")
    return {"n": n, "setup_seconds": round(setup, 1), "first": first, "noop": noop, "drift": drift}


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| N | phase | s | ms/entry | API reads | DB writes | created | drifted |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in results:
        for phase in ("first", "noop", "drift"):
            p = r[phase]
            rows.append(
                f"| {r['n']} | {phase} | {p['seconds']} | {round(p['seconds'] * 1000 / r['n'], 2)}"
                f" | {p['api_reads']} | {sum(p['db_writes'].values())} {p['db_writes']} |"
                f" {p['created']} | {p['drifted']} |"
            )
    return head + "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="50,200")
    parser.add_argument("--kubeconfig")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        raise SystemExit('DATABASE_URL is not set; run `eval "$(scripts/services)"` first')
    workdir = Path(tempfile.mkdtemp(prefix="sidestage-catalog-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    parts = urllib.parse.urlsplit(server_url)
    os.environ["DATABASE_URL"] = urllib.parse.urlunsplit(parts._replace(path=f"/{BENCH_DB}"))
    os.environ.pop("REDIS_URL", None)
    os.environ["SIDESTAGE_VAR_DIR"] = str(workdir / "var")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    report: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "bench/catalog.py " + " ".join(sys.argv[1:]),
        "machine": machine_info(),
        "uptime_before": uptime(),
        "results": [],
    }
    run_dir = None
    recreate_database(server_url, create=True)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from kubernetes import client, config

        from sandboxes.cluster import Cluster

        call_command("migrate", verbosity=0)
        if args.kubeconfig:
            kubeconfig = args.kubeconfig
        else:
            run_dir = workdir / "k8s"
            log(f"starting a private control plane in {run_dir}")
            kubeconfig = plane_up(run_dir)
        api = config.new_client_from_config(config_file=kubeconfig)
        cluster = Cluster(api)
        core = client.CoreV1Api(api)
        tag = dt.datetime.now(dt.UTC).strftime("%H%M%S")
        for n in sizes:
            log(f"size {n}")
            report["results"].append(run_size(n, cluster, core, tag))
        report["uptime_after"] = uptime()
    finally:
        from django.db import connections

        connections.close_all()
        recreate_database(server_url, create=False)
        if run_dir is not None:
            report["plane_down_problems"] = plane_down(run_dir)
    out = REPO / "bench" / "results"
    stamp = dt.date.today().isoformat()
    (out / f"catalog-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    md = (
        f"# Catalog discovery benchmark, {stamp}\n\nCommand: `{report['command']}`\n\n"
        f"Machine: {report['machine']}\n\nLoad before: `{report['uptime_before']}`; after: "
        f"`{report.get('uptime_after', '')}`\n\n{table(report['results'])}\n"
        "N annotated Deployments (plus N/4 unannotated) over four namespaces, one per "
        "mesh labelling. *first*: the sync that creates N entries; *noop*: nothing "
        "changed; *drift*: 10% of the Services changed port. API reads are "
        "`Cluster.stats.reads` (per namespace: get Namespace, list Deployments, list "
        "Services; plus API discovery). DB writes are INSERT/UPDATE/DELETE statements.\n"
    )
    (out / f"catalog-{stamp}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
