"""API latency and throughput with 10,000 sandboxes in PostgreSQL, served by gunicorn.

    eval "$(scripts/services)" && .venv/bin/python bench/api.py [--sandboxes 10000]
        [--workers 3] [--clients 8] [--seconds 15]

Seeds a separate database (`<DATABASE_URL db>_api_bench`, dropped and re-created) with
bulk_create, starts gunicorn on 127.0.0.1, then drives it with a bounded pool of httpx
clients: list pages (50 per page, random page) and detail by name. Prints and writes
p50/p95/p99 and requests per second to bench/results/api-<timestamp>.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PAGE_SIZE = 50


def bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit('DATABASE_URL must point at PostgreSQL (eval "$(scripts/services)")')
    parsed = urlparse(base)
    return urlunparse(parsed._replace(path=f"{parsed.path}_api_bench"))


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def server_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SIDESTAGE_API_THROTTLE": "10000000/min",
        "SIDESTAGE_MANIFEST_STATIC": "false",
        "LOG_LEVEL": "WARNING",
    }


def seed(url: str, count: int) -> tuple[str, list[str]]:
    """Bulk-insert `count` sandboxes with two forks each; return a token and names."""
    os.environ.update(server_env(url))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        check=True,
        env=server_env(url),
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from routing.keys import generate_routing_key
    from sandboxes import services
    from sandboxes.conditions import set_condition
    from sandboxes.models import BaselineService, Fork, Membership, Role, Sandbox, Team, Tenant

    user = get_user_model().objects.create_user("bench", password=secrets.token_hex(8))
    team = Team.objects.create(
        name="Bench",
        slug="bench",
        allowed_namespaces=["shop"],
        max_sandboxes=count + 10,
        allowed_registries=["ghcr.io/acme"],
    )
    Membership.objects.create(team=team, user=user, role=Role.LEAD)
    tenants = [
        Tenant.objects.create(
            team=team, name=f"dev-{i}", owner=user, tenant_key=generate_routing_key()
        )
        for i in range(20)
    ]
    baselines = [
        BaselineService.objects.create(
            name=n, namespace="shop", deployment=n, service=n, ports=[8080]
        )
        for n in ("orders", "frontend", "payments")
    ]
    now = datetime.now(UTC)
    ready = set_condition(
        [], type_="Ready", status="True", reason="Ready", message="", generation=1, now=now
    )
    sandboxes = [
        Sandbox(
            tenant=tenants[i % len(tenants)],
            name=f"pr-{i}",
            routing_key=generate_routing_key(),
            labels={"pr": str(i)},
            ttl=timedelta(hours=8),
            created_by=user,
            created_at=now - timedelta(seconds=i),
            updated_at=now,
            expires_at=now + timedelta(hours=8),
            observed_generation=1,
            conditions=ready if i % 3 else [],
        )
        for i in range(count)
    ]
    Sandbox.objects.bulk_create(sandboxes, batch_size=2000)
    forks = []
    for i, sandbox in enumerate(Sandbox.objects.order_by("id")):
        for baseline in (baselines[i % 3], baselines[(i + 1) % 3]):
            forks.append(
                Fork(
                    sandbox=sandbox,
                    baseline=baseline,
                    image=f"ghcr.io/acme/{baseline.name}:pr-{i}",
                    env=[{"name": "LOG_LEVEL", "value": "debug"}],
                )
            )
    Fork.objects.bulk_create(forks, batch_size=5000)
    token = services.token_issue(actor=user, team=team, name="bench").secret
    names = [f"pr-{i}" for i in range(count)]
    return token, names


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(url: str, port: int, workers: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=server_env(url),
    )
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    sys.exit("gunicorn did not start")


def drive(base: str, token: str, paths: list[str], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client_loop(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        mine: list[float] = []
        bad = 0
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as http:
            while time.monotonic() < stop_at:
                start = time.perf_counter()
                response = http.get(rng.choice(paths))
                mine.append(time.perf_counter() - start)
                bad += response.status_code != 200
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p95_ms": round(cuts[94] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandboxes", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()

    url = bench_database_url()
    recreate_database(url)
    t0 = time.monotonic()
    token, names = seed(url, args.sandboxes)
    seeded = round(time.monotonic() - t0, 1)
    port = free_port()
    server = start_gunicorn(url, port, args.workers)
    base = f"http://127.0.0.1:{port}/api/v1/"
    pages = args.sandboxes // PAGE_SIZE
    scenarios = {
        "list": [f"sandboxes?page={p}&page_size={PAGE_SIZE}" for p in range(1, pages + 1)],
        "list_filtered": [f"sandboxes?condition=Ready&label=pr={i}" for i in range(0, 500)],
        "detail": [f"sandboxes/{n}?tenant=bench/dev-{int(n[3:]) % 20}" for n in names],
    }
    try:
        drive(base, token, scenarios["detail"][:50], 2, 2)  # warm up workers
        results = {
            name: drive(base, token, paths, args.clients, args.seconds)
            for name, paths in scenarios.items()
        }
    finally:
        server.terminate()
        server.wait(timeout=30)

    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "sandboxes": args.sandboxes,
        "gunicorn_workers": args.workers,
        "clients": args.clients,
        "seconds_per_scenario": args.seconds,
        "seed_seconds": seeded,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    lines = [
        f"# API benchmark, {meta['when']}",
        "",
        f"{args.sandboxes} sandboxes (2 forks each) in PostgreSQL; gunicorn with "
        f"{args.workers} sync workers on 127.0.0.1; {args.clients} concurrent httpx clients "
        f"(same machine, {meta['cpus']} CPUs) for {args.seconds:g}s per scenario; "
        f"page size {PAGE_SIZE}. Seeding took {seeded}s.",
        "",
        "| scenario | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['requests']} | {r['errors']} | {r['rps']} | "
            f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"api-{stamp}.md").write_text(report)
    (RESULTS / f"api-{stamp}.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
