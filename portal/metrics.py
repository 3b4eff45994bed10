"""Prometheus metrics: what the reconciler, the queue and the cluster client do, and
what the database says at scrape time.

Processes: gunicorn (gthread) and Celery prefork run several processes per pod, so with
PROMETHEUS_MULTIPROC_DIR set every process writes its samples to files in that
directory and a scrape adds them up (prometheus-client's multiprocess mode). The web
pods serve /metrics; each worker pod serves the same on SIDESTAGE_WORKER_METRICS_PORT
(started in the worker's main process, see portal/celery_signals.py).

Access: the endpoints need `Authorization: Bearer $SIDESTAGE_METRICS_TOKEN`; without a
token configured they answer 404, so metrics are never public by accident.

The few hooks into the rest of the code: `observe_reconcile` (reconcile.py),
`instrument_api_client` (cluster.py) and two Celery signals (queue lag).
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Every process writes its samples here; it must exist before the first metric is made.
if _multiproc_dir := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(_multiproc_dir, exist_ok=True)

RECONCILE_SECONDS = Histogram(
    "sidestage_reconcile_duration_seconds",
    "Wall time of one reconcile run, by outcome (ready, progressing, failed, retry, ...).",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
RECONCILE_FAILURES = Counter(
    "sidestage_reconcile_failures_total",
    "Reconcile runs that ended failed or to be retried, by condition reason.",
    ["reason"],
)
WRITE_TO_ROUTES_PROGRAMMED = Histogram(
    "sidestage_write_to_routes_programmed_seconds",
    "From an accepted API write of a sandbox spec to RoutesProgrammed=True for it.",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)
QUEUE_LAG = Histogram(
    "sidestage_task_queue_lag_seconds",
    "From a task's enqueue (or its ETA, when it had a countdown) to a worker starting it.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
CLUSTER_REQUESTS = Counter(
    "sidestage_cluster_api_requests_total",
    "HTTP requests to the Kubernetes API server, by verb, resource and status code.",
    ["verb", "resource", "code"],
)

ENQUEUED_HEADER = "sidestage_enqueued_at"

# --- hooks -------------------------------------------------------------------------------


def _failure_reason(outcome: Any, conditions: list[dict]) -> str | None:
    transient = getattr(outcome, "transient", None)
    if transient is not None:
        return str(transient.reason)
    if outcome.status in ("failed", "blocked"):
        for cond in conditions:
            if cond.get("type") == "Ready":
                return str(cond.get("reason") or "Unknown")
        return "Unknown"
    return None


def _routes_programmed_for(conditions: list[dict], generation: int) -> bool:
    return any(
        c.get("type") == "RoutesProgrammed"
        and c.get("status") == "True"
        and int(c.get("observedGeneration", 0)) == generation
        for c in conditions
    )


def observe_reconcile(
    sandbox: Any, before: list[dict], outcome: Any, seconds: float, now: datetime
) -> None:
    """Record one reconcile run; `before` is the sandbox's conditions when it started."""
    RECONCILE_SECONDS.labels(outcome=outcome.status).observe(seconds)
    after = list(sandbox.conditions or [])
    reason = _failure_reason(outcome, after)
    if reason is not None:
        RECONCILE_FAILURES.labels(reason=reason).inc()
    generation = int(sandbox.generation)
    if _routes_programmed_for(after, generation) and not _routes_programmed_for(before, generation):
        # updated_at is stamped by the service that accepted the write (create, update).
        WRITE_TO_ROUTES_PROGRAMMED.observe(max(0.0, (now - sandbox.updated_at).total_seconds()))


def _request_labels(method: str, url: str) -> tuple[str, str]:
    """(Kubernetes verb, resource[.group]) of one API request URL."""
    path = url.split("://", 1)[-1]
    path = path[path.find("/") :] if "/" in path else "/"
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    group = ""
    if parts[:1] == ["api"] and len(parts) >= 2:
        rest = parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return "discovery", ""
    if not rest:
        return "discovery", ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        resource, name = rest[2], rest[3] if len(rest) > 3 else ""
    else:
        resource, name = rest[0], rest[1] if len(rest) > 1 else ""
    verb = {
        "GET": "get" if name else "list",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
        "POST": "create",
        "PUT": "update",
    }.get(method.upper(), method.lower())
    return verb, f"{resource}.{group}" if group else resource


def instrument_api_client(api_client: Any) -> None:
    """Count every HTTP request a kubernetes ApiClient sends (retries included)."""
    rest = api_client.rest_client
    if getattr(rest, "_sidestage_metered", False):
        return
    send: Callable[..., Any] = rest.request

    def metered(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        verb, resource = _request_labels(method, url)
        code = "error"
        try:
            response = send(method, url, *args, **kwargs)
            code = str(getattr(response, "status", "") or "200")
            return response
        except Exception as exc:
            status = getattr(exc, "status", None)
            if isinstance(status, int) and status:
                code = str(status)
            raise
        finally:
            CLUSTER_REQUESTS.labels(verb=verb, resource=resource, code=code).inc()

    rest.request = metered
    rest._sidestage_metered = True


def task_published(headers: dict | None) -> None:
    if headers is not None:
        headers[ENQUEUED_HEADER] = time.time()


def task_started(task: Any) -> None:
    request = task.request
    enqueued = getattr(request, ENQUEUED_HEADER, None)
    if enqueued is None:
        enqueued = (getattr(request, "headers", None) or {}).get(ENQUEUED_HEADER)
    if enqueued is None:
        return
    ready_at = float(enqueued)
    eta = getattr(request, "eta", None)
    if eta:
        ready_at = max(ready_at, datetime.fromisoformat(str(eta)).timestamp())
    QUEUE_LAG.labels(task=task.name).observe(max(0.0, time.time() - ready_at))


# --- scrape time ---------------------------------------------------------------------------

SANDBOX_STATES = ("Ready", "Progressing", "AwaitingApproval", "Failed", "Expired")


def sandbox_state(conditions: list[dict], expired: bool) -> str:
    from sandboxes.conditions import TERMINAL_REASONS

    if expired:
        return "Expired"
    for cond in conditions:
        if cond.get("type") == "Ready":
            if cond.get("status") == "True":
                return "Ready"
            reason = cond.get("reason") or ""
            if reason == "AwaitingApproval":
                return "AwaitingApproval"
            if reason in TERMINAL_REASONS:
                return "Failed"
    return "Progressing"


class DatabaseCollector(Collector):
    """Sandboxes by state and pending approvals, read when Prometheus scrapes: two
    queries, one row per sandbox still present (bounded by the teams' quotas)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.utils import timezone

        from sandboxes.models import Approval, ApprovalState, Sandbox

        now = timezone.now()
        counts = dict.fromkeys(SANDBOX_STATES, 0)
        rows = Sandbox.objects.present().values_list("conditions", "expires_at")
        for conditions, expires_at in rows.iterator(chunk_size=2000):
            counts[sandbox_state(conditions or [], expires_at <= now)] += 1
        states = GaugeMetricFamily(
            "sidestage_sandboxes", "Sandboxes not yet deleted, by state.", labels=["state"]
        )
        for state, count in counts.items():
            states.add_metric([state], count)
        yield states
        pending = Approval.objects.filter(state=ApprovalState.PENDING).count()
        yield GaugeMetricFamily(
            "sidestage_approvals_pending", "Approval requests waiting for a lead.", value=pending
        )


def process_registry() -> CollectorRegistry:
    """The samples of this pod's processes: all of them in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def exposition(*, include_database: bool) -> bytes:
    parts = [generate_latest(process_registry())]
    if include_database:
        database = CollectorRegistry(auto_describe=False)
        database.register(DatabaseCollector())
        parts.append(generate_latest(database))
    return b"".join(parts)


def token_allows(authorization: str | None, token: str) -> bool:
    if not token or not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def metrics_wsgi_app(token: str) -> Callable[[dict, Callable[..., Any]], Iterable[bytes]]:
    """The worker pods' endpoint: the same samples, the same token, no database."""

    def app(environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not token_allows(environ.get("HTTP_AUTHORIZATION"), token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"a bearer token is required\n"]
        body = exposition(include_database=False)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [body]

    return app
