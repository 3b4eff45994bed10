"""Celery signal handlers: queue lag, and the worker pods' metrics endpoint.

Connected from PortalConfig.ready, so every process that loads Django (web, worker,
beat) stamps the tasks it publishes, and workers measure the lag when they start one.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from celery.signals import beat_init, before_task_publish, task_prerun, worker_init

from portal import metrics
from sandboxes.metrics import task_published, task_started

log = logging.getLogger(__name__)


@before_task_publish.connect
def _stamp_enqueue_time(headers: dict | None = None, **_: Any) -> None:
    task_published(headers)


@task_prerun.connect
def _observe_queue_lag(task: Any = None, **_: Any) -> None:
    if task is not None:
        task_started(task)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@worker_init.connect
def _serve_worker_metrics(**_: Any) -> None:
    """In the worker's main process (before the pool forks): serve every child's
    samples from PROMETHEUS_MULTIPROC_DIR on SIDESTAGE_WORKER_METRICS_PORT."""
    port = os.environ.get("SIDESTAGE_WORKER_METRICS_PORT")
    token = os.environ.get("SIDESTAGE_METRICS_TOKEN", "")
    if not port:
        return
    if not token:
        log.warning("SIDESTAGE_WORKER_METRICS_PORT is set but no SIDESTAGE_METRICS_TOKEN")
        return
    server = make_server(
        os.environ.get("SIDESTAGE_WORKER_METRICS_ADDR", "0.0.0.0"),  # noqa: S104
        int(port),
        metrics.metrics_wsgi_app(token),
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("worker metrics on :%s/metrics", server.server_port)


# A constant key for pg_advisory_lock: "sidestage beat" as a 64-bit number.
BEAT_LOCK_KEY = int.from_bytes(b"sbxbeat\x01", "big", signed=True)
_beat_lock_connection: Any = None


@beat_init.connect
def _hold_the_beat_lock(**_: Any) -> None:
    """Only one beat schedules at a time. The chart runs exactly one (replicas 1,
    Recreate); this is the second guard: on PostgreSQL, beat takes a session-level
    advisory lock before it schedules anything and holds it for its life, so a second
    beat (a stray `celery beat`, an overlapping pod) waits as a standby instead of
    sending every periodic task twice. The lock goes with the connection: a beat that
    dies releases it, and the standby takes over."""
    global _beat_lock_connection
    from django.db import connections

    database = connections["default"]
    if database.vendor != "postgresql":
        return  # the embedded default runs one beat by construction (`make run`)
    import psycopg

    params = database.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    conn = psycopg.connect(
        **params, autocommit=True, keepalives=1, keepalives_idle=30, keepalives_interval=10
    )
    got = conn.execute("SELECT pg_try_advisory_lock(%s)", [BEAT_LOCK_KEY]).fetchone()[0]
    if not got:
        log.warning("another beat holds the beat lock; waiting as a standby")
        conn.execute("SELECT pg_advisory_lock(%s)", [BEAT_LOCK_KEY])
    log.info("holding the beat lock; scheduling")
    _beat_lock_connection = conn
