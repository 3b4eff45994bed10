"""Errors under /api/ answer in the API's one JSON shape, whatever raised them.

DRF's exception handler (`sandboxes.api.errors`) shapes everything a view raises on
purpose. What it does not handle (a bug, a lost database connection) is re-raised by
DRF; `ApiErrorMiddleware` turns it into `{"error": {"code": "server_error", ...}}` with
status 500 and logs the traceback. The `handler*` views cover what is raised outside
any view (a bad Host header, an exception in a middleware): JSON under /api/, the usual
HTML pages elsewhere. Nothing about the failure reaches the client but a request id
to quote; the traceback is in the log.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

logger = logging.getLogger("sidestage.errors")

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": {}}}


def server_error_response(request: HttpRequest) -> JsonResponse:
    incident = uuid.uuid4().hex[:12]
    response = JsonResponse(
        _body(
            "server_error",
            f"Something went wrong on our side (incident {incident}); it has been logged.",
        ),
        status=500,
    )
    response["X-Sidestage-Incident"] = incident
    return response


class ApiErrorMiddleware:
    """Turns an exception no view handled into the JSON error shape under /api/."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not is_api(request):
            return None
        if isinstance(exc, Http404):
            return JsonResponse(_body("not_found", "Not found."), status=404)
        if isinstance(exc, PermissionDenied):
            return JsonResponse(_body("permission_denied", "Not allowed."), status=403)
        if isinstance(exc, SuspiciousOperation):
            return JsonResponse(_body("bad_request", "Bad request."), status=400)
        response = server_error_response(request)
        logger.error(
            "Unhandled exception under %s (incident %s)",
            request.path,
            response["X-Sidestage-Incident"],
            exc_info=exc,
        )
        return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return JsonResponse(_body("bad_request", "Bad request."), status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return JsonResponse(_body("permission_denied", "Not allowed."), status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return JsonResponse(_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return server_error_response(request)
    return defaults.server_error(request)
