"""/healthz: the database and the broker answer. /readyz: the process can serve
(migrations applied). Both are plain text, cheap, and never cached."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.celery import app as celery_app


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"database: {type(exc).__name__}: {exc}"
    return None


def _check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"broker: {type(exc).__name__}: {exc}"
    return None


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    problems = [p for p in (_check_database(), _check_broker()) if p]
    if problems:
        return HttpResponse("\n".join(problems) + "\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


@require_GET
@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    problem = _check_database()
    if problem is None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            problem = "database: migrations not applied"
    if problem:
        return HttpResponse(problem + "\n", status=503, content_type="text/plain")
    return HttpResponse("ready\n", content_type="text/plain")
