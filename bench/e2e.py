#!/usr/bin/env python
"""End-to-end benchmark: the real API (gunicorn), real Celery workers, Redis,
PostgreSQL and the real control plane (a private one, with KWOK pods).

    eval "$(scripts/services)"; export REDIS_URL=redis://127.0.0.1:6379/<your db>
    .venv/bin/python bench/e2e.py [--sequential 10] [--burst 24] [--n 200]
        [--modes before,after] [--kubeconfig PATH]

For each mode it starts gunicorn and one Celery worker with that mode's settings, and
measures through HTTP:

- sequential: POST one sandbox (one fork, 1 replica), then the time until the row says
  `RoutesProgrammed=True` and `Ready=True` for its generation (read from PostgreSQL
  every 20 ms, so the waiting adds no API load);
- burst: 24 concurrent POSTs forking one service: POST latency, and time to all Ready;
- bulk: N sandboxes POSTed by 8 clients over 20 services; how long after the last POST
  every one is `RoutesProgrammed`, and reconciles per sandbox (from the worker's log);
- the list page (50 rows) read in-process with and without the unshown columns;
- RSS of every web and worker process after the bulk phase.

The modes put the old and the new behaviour side by side in one run:
`before` = a fixed 3 s readiness requeue and no coalescing (the code before issue 15,
through its settings), `after` = the defaults (0.2 s growing polls, coalesced queue).

It uses its own database (`sidestage_e2e_bench`, dropped at the end), FLUSHES the Redis
database REDIS_URL names, and writes bench/results/e2e-<timestamp>.{md,json}, with the
load average before and after each phase: the machine is shared, compare ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.api import free_port  # noqa: E402
from bench.measure import loadavg, log, machine_info, summary, uptime  # noqa: E402
from scripts.k8s.private_plane import start_private_plane  # noqa: E402

DB = "sidestage_e2e_bench"
RESULTS = REPO / "bench" / "results"
MODES: dict[str, dict[str, str]] = {
    "before": {
        "SIDESTAGE_READINESS_POLL_MS": "3000",
        "SIDESTAGE_READINESS_POLL_MAX_MS": "3000",
        "SIDESTAGE_RECONCILE_COALESCE_SECONDS": "0",
    },
    "after": {},
}
SUCCEEDED = re.compile(r"reconcile_sandbox\[[0-9a-f-]+\] succeeded")


def db_url(server_url: str) -> str:
    parts = urllib.parse.urlsplit(server_url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{DB}"))


def recreate(server_url: str, *, create: bool) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{DB}"')


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


class Stack:
    """gunicorn and one Celery worker (prefork) for one mode; always stopped."""

    def __init__(self, env: dict[str, str], workdir: Path, mode: str) -> None:
        self.port = free_port()
        self.worker_log = workdir / f"worker-{mode}.log"
        self.web_log = (workdir / f"web-{mode}.log").open("ab")
        self.web = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "portal.wsgi:application",
                *("--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "4"),
                *("--log-level", "warning"),
            ],
            cwd=REPO,
            env=env,
            stdout=self.web_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wlog = self.worker_log.open("ab")
        self.worker = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                *("-A", "portal", "worker", "--pool", "prefork", "--concurrency", "4"),
                *("--loglevel", "INFO", "--without-mingle", "--without-gossip"),
                *("--hostname", f"e2e-{mode}@%h"),
            ],
            cwd=REPO,
            env=env,
            stdout=self._wlog,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if (
                    httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200
                    and "ready." in self.worker_log.read_text()
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"the {mode} stack did not start; see {workdir}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reconciles(self) -> int:
        return len(SUCCEEDED.findall(self.worker_log.read_text()))

    def memory(self) -> dict[str, Any]:
        return {
            "web_workers_rss_mb": [rss_mb(p) for p in children(self.web.pid)],
            "celery_workers_rss_mb": [rss_mb(p) for p in children(self.worker.pid)],
        }

    def stop(self) -> None:
        import signal

        for proc in (self.web, self.worker):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.web, self.worker):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def condition_true(conditions: list[dict], type_: str, generation: int) -> bool:
    return any(
        c.get("type") == type_
        and c.get("status") == "True"
        and int(c.get("observedGeneration") or 0) == generation
        for c in conditions or []
    )


def wait_rows(names: list[str], type_: str, limit: float) -> dict[str, float]:
    """Poll PostgreSQL until every named sandbox has `type_`=True; when each got it."""
    from sandboxes.models import Sandbox

    seen: dict[str, float] = {}
    deadline = time.monotonic() + limit
    pending = set(names)
    while pending and time.monotonic() < deadline:
        rows = Sandbox.objects.filter(name__in=list(pending)[:2000]).values_list(
            "name", "conditions", "generation"
        )
        now = time.monotonic()
        for name, conditions, generation in rows:
            if condition_true(conditions, type_, generation):
                seen[name] = now
                pending.discard(name)
        if pending:
            time.sleep(0.02)
    return seen


def post(client: httpx.Client, tenant: str, name: str, service: str, replicas: int) -> float:
    doc = {
        "name": name,
        "tenant": tenant,
        "forks": [{"service": service, "image": f"ghcr.io/acme/{name}:1", "replicas": replicas}],
    }
    started = time.monotonic()
    response = client.post("/api/v1/sandboxes", json=doc)
    if response.status_code != 201:
        raise RuntimeError(f"POST {name}: {response.status_code} {response.text[:300]}")
    return time.monotonic() - started


def in_threads(count: int, job: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = job(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def run_mode(mode: str, stack: Stack, ctx: dict[str, Any], args: argparse.Namespace) -> dict:
    token, tenants, services = ctx["token"], ctx["tenants"], ctx["services"]
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, Any] = {"mode": mode, "settings": MODES[mode]}
    tenant_i = iter(tenants[mode])

    def client() -> httpx.Client:
        return httpx.Client(base_url=stack.base, headers=headers, timeout=60)

    # --- sequential ------------------------------------------------------------------------
    out["load_before_sequential"] = loadavg()
    to_routes, to_ready, posts = [], [], []
    reconciles_before = stack.reconciles()
    with client() as http:
        for i in range(args.sequential):
            name = f"{mode}-seq-{i}"
            started = time.monotonic()
            posts.append(post(http, next(tenant_i), name, services[i % len(services)], 1))
            routes = wait_rows([name], "RoutesProgrammed", 60)
            ready = wait_rows([name], "Ready", 60)
            if name in routes:
                to_routes.append(routes[name] - started)
            if name in ready:
                to_ready.append(ready[name] - started)
    time.sleep(3)  # let the last readiness poll (if any) land before counting
    out["sequential"] = {
        "post": summary(posts),
        "post_to_routes_programmed": summary(to_routes),
        "post_to_ready": summary(to_ready),
        "reconciles_per_sandbox": round(
            (stack.reconciles() - reconciles_before) / max(args.sequential, 1), 2
        ),
        "not_ready": args.sequential - len(to_ready),
    }
    log(f"{mode} sequential: {out['sequential']}")

    # --- burst: 24 concurrent POSTs forking one service -------------------------------------
    out["load_before_burst"] = loadavg()
    names = [f"{mode}-burst-{i}" for i in range(args.burst)]
    burst_tenants = [next(tenant_i) for _ in names]
    reconciles_before = stack.reconciles()
    started = time.monotonic()

    def burst_one(i: int) -> float:
        with client() as http:
            return post(http, burst_tenants[i], names[i], services[0], 1)

    latencies = in_threads(args.burst, burst_one)
    ready = wait_rows(names, "Ready", 180)
    time.sleep(3)
    out["burst"] = {
        "post": summary(latencies),
        "all_ready_after_first_post_s": round(max(ready.values()) - started, 2)
        if len(ready) == len(names)
        else None,
        "ready": len(ready),
        "reconciles_per_sandbox": round((stack.reconciles() - reconciles_before) / len(names), 2),
    }
    log(f"{mode} burst: {out['burst']}")

    # --- bulk: N through the API --------------------------------------------------------------
    out["load_before_bulk"] = loadavg()
    names = [f"{mode}-bulk-{i}" for i in range(args.n)]
    bulk_tenants = [next(tenant_i) for _ in names]
    replicas = 1 if args.n <= 100 else 0
    reconciles_before = stack.reconciles()
    started = time.monotonic()
    lock = threading.Lock()
    todo = iter(range(args.n))
    post_times: list[float] = []

    def bulk_client(_: int) -> None:
        with client() as http:
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                post_times.append(
                    post(http, bulk_tenants[i], names[i], services[i % len(services)], replicas)
                )

    in_threads(8, bulk_client)
    last_post = time.monotonic()
    programmed = wait_rows(names, "RoutesProgrammed", args.bulk_limit)
    done = time.monotonic()
    ready = wait_rows(names, "Ready", args.bulk_limit)
    all_ready = time.monotonic()
    time.sleep(3)  # the last readiness polls land before counting
    out["bulk"] = {
        "n": args.n,
        "replicas": replicas,
        "post": summary(post_times),
        "posting_s": round(last_post - started, 2),
        "all_routes_programmed_after_last_post_s": round(done - last_post, 2)
        if len(programmed) == len(names)
        else None,
        "routes_programmed": len(programmed),
        "all_ready_after_last_post_s": round(all_ready - last_post, 2)
        if len(ready) == len(names)
        else None,
        "reconciles_per_sandbox": round((stack.reconciles() - reconciles_before) / args.n, 2),
    }
    out["load_after_bulk"] = loadavg()
    out["memory_after_bulk"] = stack.memory()
    log(f"{mode} bulk: {out['bulk']}")
    return out


def list_page_comparison(rounds: int = 30) -> dict[str, Any]:
    """Page 50 of the list, built as the API builds it, with and without the columns
    the response never shows; alternated, in this process, on the rows the run made."""
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import RequestFactory

    from sandboxes import selectors
    from sandboxes.api.documents import DocumentBuilder

    user = get_user_model().objects.get(username="bench-lead")
    request = RequestFactory().get("/api/v1/sandboxes", HTTP_HOST="localhost")
    request.user = user
    timings: dict[str, list[float]] = {"all_columns": [], "unshown_deferred": []}
    rows_bytes: dict[str, int] = {}
    for _ in range(rounds):
        for label, manifests in (("all_columns", True), ("unshown_deferred", False)):
            started = time.monotonic()
            page = list(
                selectors.sandboxes_for_user(user, manifests=manifests).order_by("-id")[:50]
            )
            builder = DocumentBuilder(request)
            [builder.document(sb) for sb in page]
            timings[label].append(time.monotonic() - started)
    with connection.cursor() as cursor:
        cursor.execute("SELECT avg(pg_column_size(applied_manifests)) FROM sandboxes_sandbox")
        rows_bytes["avg_applied_manifests_bytes"] = int(cursor.fetchone()[0] or 0)
    reset_queries()
    return {**{k: summary(v) for k, v in timings.items()}, **rows_bytes}


def seed(n_tenants: int, namespace: str, cluster: Any, core: Any) -> dict[str, Any]:
    from bench.reconcile_setup import seed_size, seed_team
    from sandboxes import services as svc

    team, user = seed_team()
    catalog, tenants = seed_size(team, n_tenants, namespace, cluster, core)
    token = svc.token_issue(actor=user, team=team, name="e2e").secret
    return {
        "team": team,
        "user": user,
        "services": [s.name for s in catalog],
        "tenants": tenants,
        "token": token,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# End-to-end benchmark, {report['started_at']}",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {report['machine']}  ",
        f"Load before: {report['uptime_before']}  ",
        f"Load after: {report['uptime_after']}",
        "",
        "The machine is shared: compare the modes (run side by side), not absolute times.",
        "",
        "| Figure | " + " | ".join(m["mode"] for m in report["modes"]) + " |",
        "|---|" + "---|" * len(report["modes"]),
    ]

    def row(label: str, get: Callable[[dict], Any]) -> None:
        cells = []
        for m in report["modes"]:
            try:
                cells.append(str(get(m)))
            except (KeyError, TypeError):
                cells.append("-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row(
        "POST → RoutesProgrammed p50 ms",
        lambda m: m["sequential"]["post_to_routes_programmed"]["p50_ms"],
    )
    row("POST → Ready p50 ms", lambda m: m["sequential"]["post_to_ready"]["p50_ms"])
    row("POST → Ready p95 ms", lambda m: m["sequential"]["post_to_ready"]["p95_ms"])
    row("sequential reconciles / sandbox", lambda m: m["sequential"]["reconciles_per_sandbox"])
    row("burst 24 POST p95 ms", lambda m: m["burst"]["post"]["p95_ms"])
    row("burst all Ready after first POST s", lambda m: m["burst"]["all_ready_after_first_post_s"])
    row("burst reconciles / sandbox", lambda m: m["burst"]["reconciles_per_sandbox"])
    row("bulk N", lambda m: m["bulk"]["n"])
    row(
        "bulk all RoutesProgrammed after last POST s",
        lambda m: m["bulk"]["all_routes_programmed_after_last_post_s"],
    )
    row("bulk all Ready after last POST s", lambda m: m["bulk"]["all_ready_after_last_post_s"])
    row("bulk reconciles / sandbox", lambda m: m["bulk"]["reconciles_per_sandbox"])
    row("bulk POST p95 ms", lambda m: m["bulk"]["post"]["p95_ms"])
    row("load (1/5/15) before sequential", lambda m: m["load_before_sequential"])
    row("load after bulk", lambda m: m["load_after_bulk"])
    row("web worker RSS MB", lambda m: m["memory_after_bulk"]["web_workers_rss_mb"])
    row("celery worker RSS MB", lambda m: m["memory_after_bulk"]["celery_workers_rss_mb"])
    if report.get("list_page"):
        lp = report["list_page"]
        lines += [
            "",
            "List page of 50 (in-process, alternated, same rows; "
            f"avg applied_manifests {lp.get('avg_applied_manifests_bytes')} bytes):",
            "",
            f"- all columns: {lp['all_columns']}",
            f"- unshown columns deferred: {lp['unshown_deferred']}",
        ]
    for problem in report["problems"]:
        lines.append(f"\nPROBLEM: {problem}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequential", type=int, default=10)
    parser.add_argument("--burst", type=int, default=24)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--bulk-limit", type=float, default=900)
    parser.add_argument("--modes", default="before,after")
    parser.add_argument("--kubeconfig")
    parser.add_argument("--output-dir", default=str(RESULTS))
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    server_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not server_url.startswith("postgres") or not redis_url:
        raise SystemExit(
            'needs DATABASE_URL (PostgreSQL) and REDIS_URL (eval "$(scripts/services)")'
        )
    workdir = Path(tempfile.mkdtemp(prefix="sidestage-e2e-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DATABASE_URL=db_url(server_url),
        SIDESTAGE_VAR_DIR=str(workdir / "var"),
        DEBUG="0",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    report: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "machine": machine_info(),
        "uptime_before": uptime(),
        "modes": [],
        "problems": [],
    }
    plane = None
    try:
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        recreate(server_url, create=True)
        if args.kubeconfig:
            kubeconfig = args.kubeconfig
        else:
            log(f"starting a private control plane in {workdir / 'k8s'}")
            plane = start_private_plane(workdir / "k8s")
            kubeconfig = plane.kubeconfig
        os.environ.update(SIDESTAGE_CLUSTER="kubeconfig", SIDESTAGE_KUBECONFIG=kubeconfig)
        import django

        django.setup()
        from django.core.management import call_command
        from kubernetes import client, config

        from sandboxes.cluster import Cluster

        call_command("migrate", verbosity=0)
        api_client = config.new_client_from_config(config_file=kubeconfig)
        cluster = Cluster(api_client)
        per_mode = args.sequential + args.burst + args.n
        ctx = seed(per_mode * len(modes), "e2e", cluster, client.CoreV1Api(api_client))
        tenants = [t.name for t in ctx["tenants"]]
        ctx["tenants"] = {
            mode: tenants[i * per_mode : (i + 1) * per_mode] for i, mode in enumerate(modes)
        }
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CELERY_")},
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "SIDESTAGE_API_THROTTLE": "10000000/min",
            "DATABASE_CONN_MAX_AGE": "60",
        }
        for mode in modes:
            log(f"mode {mode}: starting gunicorn and a worker")
            stack = Stack({**env, **MODES[mode]}, workdir, mode)
            try:
                report["modes"].append(run_mode(mode, stack, ctx, args))
            except Exception as exc:  # report what was measured
                report["problems"].append(f"{mode}: {type(exc).__name__}: {exc}")
                log(f"{mode} aborted: {exc!r}")
            finally:
                stack.stop()
        report["list_page"] = list_page_comparison()
        api_client.close()
    finally:
        report["uptime_after"] = uptime()
        try:
            from django.db import connections

            connections.close_all()
        except Exception as exc:
            report["problems"].append(f"closing connections: {exc}")
        try:
            recreate(server_url, create=False)
        except Exception as exc:
            report["problems"].append(f"dropping {DB}: {exc}")
        if plane is not None:
            report["problems"].extend(plane.stop())
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        out_dir = Path(args.output_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"e2e-{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
        (out_dir / f"e2e-{stamp}.md").write_text(markdown(report))
        print(markdown(report))
        if not report["problems"]:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
