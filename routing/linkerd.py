"""Linkerd 1: no objects, only an ``l5d-dtab`` override a client sends per request."""

from __future__ import annotations

from collections.abc import Iterable

DTAB_HEADER = "l5d-dtab"


def dtab_entry(service_name: str, fork_service: str) -> str:
    """``/svc/<service> => /svc/<fork>;``: delegate one logical name to the fork."""
    return f"/svc/{service_name} => /svc/{fork_service};"


def render_dtab(pairs: Iterable[tuple[str, str]]) -> str:
    """The ``l5d-dtab`` value for several forks, sorted so it is stable.

    ``pairs`` are ``(baseline Service name, fork Service name)``. Linkerd 1 gives
    later dentries precedence, but every service appears once, so order only
    matters for readability.
    """
    seen: dict[str, str] = {}
    for service_name, fork_service in pairs:
        if seen.get(service_name, fork_service) != fork_service:
            raise ValueError(f"service {service_name!r} would be delegated to two forks")
        seen[service_name] = fork_service
    return " ".join(dtab_entry(s, f) for s, f in sorted(seen.items()))
