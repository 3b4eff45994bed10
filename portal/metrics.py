"""Prometheus metrics: what the reconciler, the queue and the cluster client do, and
what the database says at scrape time.

Processes: gunicorn (gthread) and Celery prefork run several processes per pod, so with
PROMETHEUS_MULTIPROC_DIR set every process writes its samples to files in that
directory and a scrape adds them up (prometheus-client's multiprocess mode). The web
pods serve /metrics; each worker pod serves the same on SIDESTAGE_WORKER_METRICS_PORT
(started in the worker's main process, see portal/celery_signals.py).

Access: the endpoints need `Authorization: Bearer $SIDESTAGE_METRICS_TOKEN`; without a
token configured they answer 404, so metrics are never public by accident.

The instruments and their hooks live in `sandboxes/metrics.py`; this module adds the
scrape-time database collector and serves the exposition.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# The instruments register themselves in the default registry when imported.
import sandboxes.metrics  # noqa: F401

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
