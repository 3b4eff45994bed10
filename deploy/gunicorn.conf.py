"""gunicorn settings for the web process (the Dockerfile and docker-compose.yml run
`gunicorn portal.wsgi -b 0.0.0.0:8000 -c deploy/gunicorn.conf.py`).

Why threads: the API's `wait` is a long poll that holds its request for up to 60 s.
With sync workers every `wait` occupies a whole process, so one CI pipeline waiting
stalled `/healthz` (and everyone else) behind it. A gthread worker serves
GUNICORN_THREADS requests at once; the waits sleep between cheap polls, so threads are
what they need, not processes. Processes (WEB_CONCURRENCY) are for CPU: about one or
two per core.

Each thread keeps its own database connection (CONN_MAX_AGE), so PostgreSQL sees up to
WEB_CONCURRENCY x GUNICORN_THREADS connections from the web tier: size max_connections
(or a pooler) for that, plus the Celery workers.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"{name} must be a positive whole number, got {raw!r}")
    return int(raw)


worker_class = "gthread"
workers = _int("WEB_CONCURRENCY", 2)
threads = _int("GUNICORN_THREADS", 8)
# gthread's heartbeat runs beside the request threads, so a 60 s long poll is not a
# hung worker; the timeout only catches a worker that stopped answering at all.
timeout = _int("GUNICORN_TIMEOUT", 120)
# Longer than the longest `wait` (60 s): a deploy lets in-flight long polls finish.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 75)
keepalive = 5
accesslog = "-"
# Recycle workers now and then so a slow leak never grows without bound; the jitter
# keeps them from restarting together.
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = 500
