"""An htmx request whose session has ended must not swap the login page into a card.

`login_required` answers such a request with a 302 to the login page; the browser's XHR
follows it and htmx would swap the login form into the status or expiry card. This
middleware turns that redirect into an `HX-Redirect` to the login page, with `next`
pointing at the page the person was on (`HX-Current-URL`), not at the fragment."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


class HtmxLoginRedirectMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.headers.get("HX-Request") or response.status_code not in (301, 302):
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login:
            return response
        back = _current_path(request)
        target = f"{login}?{urlencode({'next': back})}" if back else login
        redirect = HttpResponse(status=204)
        redirect["HX-Redirect"] = target
        return redirect


def _current_path(request: HttpRequest) -> str:
    current = request.headers.get("HX-Current-URL", "")
    if not current or not url_has_allowed_host_and_scheme(
        current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    parts = urlsplit(current)
    return parts.path + (f"?{parts.query}" if parts.query else "")
