"""/metrics for the web pods: this pod's processes plus the database gauges."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from portal.metrics import exposition, token_allows


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.SIDESTAGE_METRICS_TOKEN
    if not token:
        # Off unless configured: never public by accident.
        raise Http404("metrics are not enabled")
    if not token_allows(request.headers.get("Authorization"), token):
        response = HttpResponse("a bearer token is required\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(include_database=True), content_type=CONTENT_TYPE_LATEST)
