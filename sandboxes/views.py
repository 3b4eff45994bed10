"""Browser views. Plain functions; every lookup goes through the selectors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sandboxes import selectors


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    sandboxes = selectors.sandboxes_for_user(request.user).present()
    return render(request, "sandboxes/dashboard.html", {"sandboxes": sandboxes})
