"""A team's activity: the audit log with filters (what, who, which sandbox, since), 50
per page, and the same selection as CSV."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from sandboxes import selectors

PAGE_SIZE = 50
CSV_MAX_ROWS = 100_000


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@login_required
def activity_home(request: HttpRequest) -> HttpResponse:
    team = selectors.teams_for_user(request.user).order_by("slug").first()
    if team is None:
        raise Http404("You are not in a team yet.")
    return redirect("team_activity", slug=team.slug)


@require_GET
@login_required
def team_activity(request: HttpRequest, slug: str) -> HttpResponse:
    team = selectors.teams_for_user(request.user).filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    get = request.GET
    notices: list[str] = []
    events = selectors.audit_events_for_user(request.user).filter(team=team)
    params = {
        "verb": get.get("verb", "").strip()[:64],
        "actor": get.get("actor", "").strip()[:150],
        "sandbox": get.get("sandbox", "").strip()[:63],
        "since": get.get("since", "").strip()[:10],
    }
    if params["verb"]:
        events = events.filter(verb=params["verb"])
    if params["actor"]:
        events = events.filter(actor__username=params["actor"])
    if params["sandbox"]:
        events = events.filter(sandbox__name=params["sandbox"])
    if params["since"]:
        try:
            day = datetime.strptime(params["since"], "%Y-%m-%d").date()
        except ValueError:
            notices.append(f"“{params['since']}” is not a date (YYYY-MM-DD): ignored.")
            params["since"] = ""
        else:
            start = datetime.combine(day, time.min, tzinfo=UTC)
            events = events.filter(created_at__gte=start)
    events = events.order_by("-created_at", "-id")
    query = urlencode({k: v for k, v in params.items() if v})
    if get.get("format") == "csv":
        return _csv(team.slug, events)
    page = Paginator(events, PAGE_SIZE).get_page(get.get("page"))
    verbs = sorted(
        selectors.audit_events_for_user(request.user)
        .filter(team=team)
        .order_by()
        .values_list("verb", flat=True)
        .distinct()
    )
    context: dict[str, Any] = {
        "team": team,
        "teams": list(selectors.teams_for_user(request.user)),
        "page": page,
        "params": params,
        "query": query,
        "verbs": verbs,
        "notices": notices,
    }
    return render(request, "sandboxes/activity.html", context)


def _csv(slug: str, events: Any) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def rows() -> Any:
        yield writer.writerow(["time_utc", "actor", "verb", "target", "sandbox", "data"])
        for e in events[:CSV_MAX_ROWS].iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    e.created_at.isoformat(),
                    e.actor.get_username() if e.actor else "system",
                    e.verb,
                    e.target,
                    e.sandbox.name if e.sandbox else "",
                    _plain(e.data),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slug}-activity.csv"'
    return response


def _plain(data: Any) -> str:
    import json

    text = json.dumps(data or {}, sort_keys=True, default=str)
    # A cell that starts with =, +, - or @ is a formula to a spreadsheet: neutralise it.
    return f"'{text}" if text[:1] in "=+-@" else text
