"""Prometheus instruments: what the reconciler, the queue and the cluster client do.

They live with the domain so that the reconciler and the cluster client can record
without reaching up into `portal`; `portal/metrics.py` adds the scrape-time database
collector and serves the exposition (see its docstring for processes and access).

The few hooks into the rest of the code: `observe_reconcile` (reconcile.py),
`instrument_api_client` (cluster.py) and two Celery signals (queue lag, wired in
portal/celery_signals.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from prometheus_client import (
    Counter,
    Histogram,
)

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
RECONCILES_QUEUED = Counter(
    "sidestage_reconciles_queued_total",
    "Requests for a reconcile of a changed sandbox: published, or coalesced into one "
    "already waiting in the queue.",
    ["result"],
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
