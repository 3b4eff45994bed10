"""Small template helpers for the browser UI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template

from sandboxes import selectors
from sandboxes.conditions import READY, Condition

register = template.Library()


@register.filter
def short_duration(value: timedelta | None) -> str:
    """`2d 3h`, `7h 59m`, `4m`, or `expired`: a TTL at a glance."""
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "expired"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{max(minutes, 1)}m" if seconds >= 60 else "<1m"


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    """`errors|get_item:"image"`: a dict lookup with a key that is not an identifier."""
    if not mapping:
        return None
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.simple_tag(takes_context=True)
def pending_approvals_count(context: template.Context) -> int:
    """How many requests wait for this lead's decision (0 for members)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return selectors.approvals_pending_for_lead(user).count()


@register.simple_tag(takes_context=True)
def is_lead_anywhere(context: template.Context) -> bool:
    request = context.get("request")
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and selectors.lead_team_ids(user))


@register.filter
def ready_condition(conditions: list[dict[str, Any]] | None) -> Condition | None:
    """The `Ready` condition of a sandbox's status, if the reconciler wrote one."""
    for cond in conditions or []:
        if cond.get("type") == READY:
            return Condition.from_dict(cond)
    return None


@register.filter
def iso_minute(value: str | None) -> str:
    """`2026-11-22T01:58:34Z` → `2026-11-22 01:58`: a stored ISO time, readable."""
    if not value:
        return ""
    text = str(value).replace("T", " ")
    return text[:16]
