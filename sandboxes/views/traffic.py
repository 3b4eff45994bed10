"""The "Routing" panel: which fork got the sandbox's requests and which hop dropped the
routing key, from the mesh's own request counts (`sandboxes.telemetry`). Loaded on
demand: the sandbox page never waits on the telemetry backend."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from sandboxes import selectors
from sandboxes.api import snippets as api_snippets
from sandboxes.models import Sandbox
from sandboxes.telemetry import (
    DEFAULT_WINDOW,
    WINDOWS,
    TelemetryUnavailable,
    sandbox_traffic_document,
)
from sandboxes.views._common import UNPROCESSABLE, render_page_or_partial

TEMPLATE = "sandboxes/traffic.html"


@require_GET
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def sandbox_traffic(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        sandbox = selectors.sandbox_get(request.user, pk=pk)
    except Sandbox.DoesNotExist as exc:
        raise Http404("No such sandbox.") from exc
    window = request.GET.get("window") or DEFAULT_WINDOW
    context: dict = {"sandbox": sandbox, "windows": WINDOWS, "window": window}
    if window not in WINDOWS:
        context["window"] = DEFAULT_WINDOW
        context["window_error"] = f"Pick a window from the list ({', '.join(WINDOWS)})."
        return render_page_or_partial(request, TEMPLATE, "routing", context, status=UNPROCESSABLE)
    curl = api_snippets.sandbox_snippet(sandbox, "curl") if sandbox.forks.all() else ""
    try:
        context["traffic"] = sandbox_traffic_document(sandbox, window=window, curl=curl)
    except TelemetryUnavailable as exc:
        # The portal answered; the backend did not. The panel says which and why.
        context["unavailable"] = exc.message
        context["how_to_test"] = curl
    return render_page_or_partial(request, TEMPLATE, "routing", context)
