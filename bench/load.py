"""A fleet of CI pipelines against a real server, then an audit of what they were told.

    # PostgreSQL + Redis + gunicorn (gthread), as production runs it:
    eval "$(scripts/services)" && .venv/bin/python bench/load.py --backend postgres \
        [--clients 50] [--seconds 60] [--workers 3] [--threads 4]
    # The embedded default (`make run`): SQLite, the filesystem broker, runserver:
    .venv/bin/python bench/load.py --backend sqlite [--clients 20] [--seconds 60]

Each client is a pipeline with its own token, on one of a few shared tenants of one
team (so the team's quota lock and the tenants' names are contended). For T seconds it
loops: PUT a new sandbox (sometimes PUT it again, as a retry), GET it, list with label
and condition filters, PATCH its description, DELETE it; POST with an
`Idempotency-Key` and retry that POST; and PUT one of a few shared names with an
identical document that every client applies at once (the upsert race). A Celery
worker runs too (render-only), so reconciles lock sandbox rows while clients write.

At the end it compares what the clients were told with the database: a sandbox a
client got 2xx for must exist exactly once (else lost or duplicated), with the
description of its last acknowledged PATCH, marked for deletion if its DELETE was
acknowledged, with its forks (else half-written), and with one `sandbox.create` audit
event, one `sandbox.update` per generation bump and one `sandbox.delete` if deleted.
Prints and writes p50/p95 per operation, the 5xx count and every discrepancy to
bench/results/load-<backend>-<timestamp>.{md,json}, with `uptime` before and after.
Loopback only; every client and the run are bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TENANTS = 5
SHARED_NAMES = 4
MAX_LIVE_PER_CLIENT = 6
SERVICES = ("orders", "frontend", "payments")


# --- the server side ----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_url() -> str:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit('--backend postgres needs DATABASE_URL (eval "$(scripts/services)")')
    parsed = urlparse(base)
    url = urlunparse(parsed._replace(path=f"{parsed.path}_load_bench"))
    import psycopg

    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        name = urlparse(url).path.lstrip("/")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url


def server_env(backend: str, var_dir: Path, db_url: str | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "SIDESTAGE_CLUSTER", "CELERY_TASK_ALWAYS_EAGER")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        SIDESTAGE_VAR_DIR=str(var_dir),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SIDESTAGE_API_THROTTLE="10000000/min",
        LOG_LEVEL="WARNING",
    )
    if backend == "postgres":
        assert db_url
        env.update(DATABASE_URL=db_url, DEBUG="false")
        if not env.get("REDIS_URL"):
            sys.exit("--backend postgres needs REDIS_URL (the broker and the cache)")
    else:
        env.pop("REDIS_URL", None)  # the embedded default: file broker and file cache
        env.update(DEBUG="true")  # as scripts/run sets it
    return env


def seed(env: dict[str, str], clients: int) -> list[str]:
    """Migrate and create a team, tenants, a catalog and one token per client."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True, env=env
    )
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from sandboxes import services
    from sandboxes.models import BaselineService, DataIsolationPolicy, Membership, Role, Team

    user = get_user_model().objects.create_user("load", password=secrets.token_hex(8))
    policy = DataIsolationPolicy.objects.create(name="load")
    team = Team.objects.create(
        name="Load",
        slug="load",
        allowed_namespaces=["shop"],
        max_sandboxes=100_000,
        allowed_registries=["ghcr.io/acme"],
        policy=policy,
    )
    Membership.objects.create(team=team, user=user, role=Role.LEAD)
    for i in range(TENANTS):
        services.tenant_create(actor=user, team=team, name=f"ci-{i}", kind="ci")
    for name in SERVICES:
        BaselineService.objects.create(
            name=name, namespace="shop", deployment=name, service=name, ports=[8080]
        )
    return [
        services.token_issue(actor=user, team=team, name=f"pipeline-{i}").secret
        for i in range(clients)
    ]


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_ready(port: int) -> None:
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit("the server did not start")


# --- the clients ---------------------------------------------------------------------------
@dataclass
class Expect:
    """What one client was told about one sandbox."""

    tenant: str
    name: str
    description: str = ""
    deleted: bool = False
    uncertain: bool = False  # a request got no answer: we cannot know what happened
    routing_key: str = ""


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    codes: Counter = field(default_factory=Counter)
    surprises: list[str] = field(default_factory=list)
    expects: list[Expect] = field(default_factory=list)
    shared_keys: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def doc(tenant: str, name: str, client: int, description: str = "") -> dict[str, Any]:
    return {
        "tenant": tenant,
        "ttl": "2h",
        "description": description,
        "labels": {"client": f"c{client}", "bench": "load"},
        "forks": [
            {"service": "orders", "image": "ghcr.io/acme/orders:pr-1", "replicas": 1},
            {
                "service": "payments",
                "image": "ghcr.io/acme/payments:pr-1",
                "env": [{"name": "LOG_LEVEL", "value": "debug"}],
            },
        ],
    }


def client_loop(i: int, base: str, token: str, stop_at: float, tally: Tally, lock: Any) -> None:
    rng = random.Random(i)
    tenant = f"ci-{i % TENANTS}"
    live: list[Expect] = []
    mine = Tally()
    seq = 0

    def call(op: str, method: str, path: str, ok: tuple[int, ...], **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            response = http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            mine.codes[f"{op}:no-answer"] += 1
            mine.surprises.append(f"{op} {path}: no answer ({type(exc).__name__})")
            return None
        mine.latencies[op].append(time.perf_counter() - start)
        mine.codes[f"{op}:{response.status_code}"] += 1
        if response.status_code not in ok:
            mine.surprises.append(f"{op} {path}: {response.status_code} {response.text[:300]}")
        return response

    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        while time.monotonic() < stop_at:
            seq += 1
            roll = rng.random()
            if roll < 0.1:
                # The upsert race: every client applies the same shared document.
                name = f"shared-{rng.randrange(SHARED_NAMES)}"
                r = call(
                    "put_shared",
                    "PUT",
                    f"sandboxes/{name}",
                    (200, 201),
                    json=doc("ci-0", name, 0, "shared"),
                )
                if r is not None and r.status_code in (200, 201):
                    mine.shared_keys[name].add(r.json()["routingKey"])
                continue
            if roll < 0.2:
                # A POST with an Idempotency-Key, retried as a pipeline would.
                name = f"c{i}-idem-{seq}"
                key = uuid.uuid4().hex
                body = {**doc(tenant, name, i), "name": name}
                first = call(
                    "post_idem",
                    "POST",
                    "sandboxes",
                    (201,),
                    json=body,
                    headers={"Idempotency-Key": key},
                )
                again = call(
                    "post_idem_retry",
                    "POST",
                    "sandboxes",
                    (201,),
                    json=body,
                    headers={"Idempotency-Key": key},
                )
                exp = Expect(tenant, name, uncertain=first is None)
                if first is not None and first.status_code == 201:
                    exp.routing_key = first.json()["routingKey"]
                    replayed = again is not None and again.status_code == 201
                    if replayed and again.json()["routingKey"] != exp.routing_key:
                        mine.surprises.append(f"idempotent retry of {name} made another")
                    live.append(exp)
                if first is None or first.status_code == 201:
                    mine.expects.append(exp)
            else:
                name = f"c{i}-{seq}"
                exp = Expect(tenant, name)
                r = call(
                    "put_create", "PUT", f"sandboxes/{name}", (201,), json=doc(tenant, name, i)
                )
                if r is None or r.status_code != 201:
                    exp.uncertain = r is None
                    if r is None:
                        mine.expects.append(exp)
                    continue
                exp.routing_key = r.json()["routingKey"]
                mine.expects.append(exp)
                live.append(exp)
                if rng.random() < 0.3:
                    # A retried PUT (the first answer was "lost"): 200, the same object.
                    r = call(
                        "put_retry", "PUT", f"sandboxes/{name}", (200,), json=doc(tenant, name, i)
                    )
                    answered = r is not None and r.status_code == 200
                    if answered and r.json()["routingKey"] != exp.routing_key:
                        mine.surprises.append(f"retried PUT of {name} made another")
            if not live:
                continue
            target = rng.choice(live)
            q = f"?tenant={target.tenant}"
            r = call("get", "GET", f"sandboxes/{target.name}{q}", (200,))
            fresh = r is not None and r.status_code == 200 and not target.uncertain
            if fresh and r.json()["description"] != target.description:
                mine.surprises.append(f"GET {target.name}: stale description")
            filters = rng.choice(
                [
                    f"label=client=c{i}",
                    f"label=client=c{i}&condition=Ready=False",
                    "condition=Ready=Unknown&label=bench=load",
                    f"label=client=c{i}&service=orders&tenant={tenant}",
                ]
            )
            call("list", "GET", f"sandboxes?{filters}&page_size=20", (200,))
            description = f"patched {seq}"
            r = call(
                "patch",
                "PATCH",
                f"sandboxes/{target.name}{q}",
                (200,),
                json={"description": description},
            )
            if r is None:
                target.uncertain = True
            elif r.status_code == 200:
                target.description = description
            if len(live) > MAX_LIVE_PER_CLIENT or rng.random() < 0.3:
                victim = live.pop(0)
                r = call(
                    "delete", "DELETE", f"sandboxes/{victim.name}?tenant={victim.tenant}", (202,)
                )
                if r is None:
                    victim.uncertain = True
                elif r.status_code == 202:
                    victim.deleted = True
    with lock:
        for op, values in mine.latencies.items():
            tally.latencies[op].extend(values)
        tally.codes.update(mine.codes)
        tally.surprises.extend(mine.surprises)
        tally.expects.extend(mine.expects)
        for name, keys in mine.shared_keys.items():
            tally.shared_keys[name] |= keys


# --- the audit -----------------------------------------------------------------------------
def audit(tally: Tally) -> dict[str, Any]:
    """Compare what the clients were told with the rows (Django is set up by `seed`)."""
    from django.db.models import Count, Q

    from sandboxes.models import AuditEvent, Sandbox

    problems: dict[str, list[str]] = defaultdict(list)
    rows = defaultdict(list)
    for sb in Sandbox.objects.select_related("tenant").annotate(
        n_forks=Count("forks", distinct=True)
    ):
        rows[(sb.tenant.name, sb.name)].append(sb)
    creates = Counter(
        AuditEvent.objects.filter(verb="sandbox.create").values_list("sandbox_id", flat=True)
    )
    updates = Counter(
        AuditEvent.objects.filter(verb="sandbox.update").values_list("sandbox_id", flat=True)
    )
    deletes = Counter(
        AuditEvent.objects.filter(verb="sandbox.delete").values_list("sandbox_id", flat=True)
    )
    checked = 0
    for exp in tally.expects:
        found = rows.get((exp.tenant, exp.name), [])
        if exp.uncertain:
            if len(found) > 1:
                problems["duplicated"].append(exp.name)
            continue
        checked += 1
        if not found:
            problems["lost"].append(exp.name)
            continue
        if len(found) > 1:
            problems["duplicated"].append(exp.name)
        sb = found[0]
        if sb.routing_key != exp.routing_key:
            problems["not the object the client was given"].append(exp.name)
        if sb.description != exp.description:
            problems["lost update (description)"].append(exp.name)
        if exp.deleted != (sb.deletion_requested_at is not None):
            problems["lost delete" if exp.deleted else "unasked delete"].append(exp.name)
        if sb.n_forks != 2:
            problems["half-written (forks)"].append(f"{exp.name}: {sb.n_forks} forks")
    for sb_list in rows.values():
        for sb in sb_list:
            if creates[sb.pk] != 1:
                problems["audit: create events != 1"].append(f"{sb.name}: {creates[sb.pk]}")
            if updates[sb.pk] != sb.generation - 1:
                problems["audit: update events != generation - 1"].append(
                    f"{sb.name}: {updates[sb.pk]} updates, generation {sb.generation}"
                )
            if deletes[sb.pk] != (1 if sb.deletion_requested_at else 0):
                problems["audit: delete events"].append(f"{sb.name}: {deletes[sb.pk]}")
    for name, keys in tally.shared_keys.items():
        found = rows.get(("ci-0", name), [])
        if len(found) != 1:
            problems["duplicated"].append(f"{name}: {len(found)} rows")
        elif keys != {found[0].routing_key}:
            problems["shared: clients told different objects"].append(name)
    present = Sandbox.objects.filter(deleted_at__isnull=True)
    dup = present.values("tenant", "name").annotate(n=Count("id")).filter(n__gt=1).count()
    if dup:
        problems["duplicated (present rows)"].append(str(dup))
    return {
        "acknowledged_checked": checked,
        "uncertain": sum(e.uncertain for e in tally.expects),
        "rows": sum(len(v) for v in rows.values()),
        "deleted_by_reconciler": Sandbox.objects.filter(~Q(deleted_at=None)).count(),
        "audit_events": AuditEvent.objects.count(),
        "problems": {k: v[:20] for k, v in problems.items()},
        "problem_counts": {k: len(v) for k, v in problems.items()},
    }


def quantiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"n": len(values)}
    cuts = statistics.quantiles(values, n=100)
    return {
        "n": len(values),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p95_ms": round(cuts[94] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
    }


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], required=True)
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    args = parser.parse_args()
    clients = args.clients or (50 if args.backend == "postgres" else 20)
    if not 1 <= clients <= 200 or not 1 <= args.seconds <= 600:
        sys.exit("keep it bounded: 1-200 clients, 1-600 seconds")

    var_dir = Path(tempfile.mkdtemp(prefix=f"sidestage-load-{args.backend}-"))
    db_url = postgres_url() if args.backend == "postgres" else None
    env = server_env(args.backend, var_dir, db_url)
    tokens = seed(env, clients)
    port = free_port()
    bin_dir = Path(sys.executable).parent
    if args.backend == "postgres":
        server_cmd = [
            str(bin_dir / "gunicorn"),
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
        ]
        server_desc = f"gunicorn gthread {args.workers} workers x {args.threads} threads"
    else:
        server_cmd = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
        server_desc = "manage.py runserver (threaded), as scripts/run"
    server = start(server_cmd, env, var_dir / "web.log")
    worker = start(
        [
            str(bin_dir / "celery"),
            "-A",
            "portal",
            "worker",
            "--loglevel",
            "WARNING",
            "--concurrency",
            str(args.celery_concurrency),
        ],
        env,
        var_dir / "worker.log",
    )
    load_before = uptime()
    tally = Tally()
    try:
        wait_ready(port)
        base = f"http://127.0.0.1:{port}/api/v1/"
        lock = threading.Lock()
        started = time.monotonic()
        stop_at = started + args.seconds
        threads = [
            threading.Thread(target=client_loop, args=(i, base, tokens[i], stop_at, tally, lock))
            for i in range(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.seconds + 120)
        elapsed = time.monotonic() - started
        load_after = uptime()
    finally:
        server.terminate()
        worker.terminate()
        server.wait(timeout=30)
        worker.wait(timeout=60)

    result = audit(tally)
    all_latencies = [v for values in tally.latencies.values() for v in values]
    five_xx = sum(n for code, n in tally.codes.items() if code.rsplit(":", 1)[1].startswith("5"))
    no_answer = sum(n for code, n in tally.codes.items() if code.endswith("no-answer"))
    lost = result["problem_counts"].get("lost", 0)
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": args.backend,
        "server": server_desc,
        "celery_worker": f"1 process, concurrency {args.celery_concurrency} (render-only)",
        "clients": clients,
        "seconds": args.seconds,
        "elapsed": round(elapsed, 1),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "uptime_before": load_before,
        "uptime_after": load_after,
    }
    summary = {
        "requests": len(all_latencies),
        "rps": round(len(all_latencies) / elapsed, 1),
        "five_xx": five_xx,
        "no_answer": no_answer,
        "lost": lost,
        "overall": quantiles(all_latencies),
        "per_operation": {op: quantiles(v) for op, v in sorted(tally.latencies.items())},
        "codes": dict(sorted(tally.codes.items())),
        "unexpected_answers": len(tally.surprises),
        "unexpected_examples": tally.surprises[:15],
        "audit": result,
    }
    lines = [
        f"# Load benchmark ({args.backend}), {meta['when']}",
        "",
        f"{clients} concurrent pipelines (httpx, one token each, {TENANTS} shared tenants) "
        f"for {args.seconds:g}s against {server_desc} on 127.0.0.1, "
        f"with a Celery worker ({meta['celery_worker']}); {meta['cpus']} CPUs.",
        "",
        f"- load before: `{load_before}`",
        f"- load after: `{load_after}`",
        f"- requests: {summary['requests']} ({summary['rps']} req/s); "
        f"**5xx: {five_xx}**; no answer: {no_answer}; **lost: {lost}**",
        f"- overall p50 {summary['overall'].get('p50_ms')} ms, "
        f"**p95 {summary['overall'].get('p95_ms')} ms**, p99 {summary['overall'].get('p99_ms')} ms",
        f"- audit: {result['acknowledged_checked']} acknowledged sandboxes checked, "
        f"{result['rows']} rows, {result['audit_events']} audit events; "
        f"problems: {result['problem_counts'] or 'none'}",
        f"- answers other than the expected one: {len(tally.surprises)}",
        "",
        "| operation | n | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for op, q in summary["per_operation"].items():
        lines.append(
            f"| {op} | {q['n']} | {q.get('p50_ms', '')} | {q.get('p95_ms', '')} | "
            f"{q.get('p99_ms', '')} |"
        )
    lines += ["", "Status codes: " + ", ".join(f"{k} {v}" for k, v in summary["codes"].items())]
    if tally.surprises:
        lines += ["", "First unexpected answers:", ""]
        lines += [f"- {s}" for s in tally.surprises[:15]]
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"load-{args.backend}-{stamp}.md").write_text(report)
    (RESULTS / f"load-{args.backend}-{stamp}.json").write_text(
        json.dumps({"meta": meta, "summary": summary}, indent=2) + "\n"
    )
    shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
