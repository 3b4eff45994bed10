"""Linkerd 1: no objects, only an ``l5d-dtab`` override a client sends per request.

A Linkerd 1 router first names a request with its identifier, then rewrites that name
through its dtab, the request's ``l5d-dtab`` appended last (later dentries win). The
default identifier (``io.l5d.header.token`` on ``Host``) names a request
``/svc/<Host header>``, port and all, so a dentry only matches when the client sends
the Host the catalog says: ``http://orders.shop.svc.cluster.local:8080/`` is named
``/svc/orders.shop.svc.cluster.local:8080``, which ``/svc/orders`` does not match.
The catalog therefore records the name the router gives each service
(``BaselineService.linkerd1_name``, e.g. ``/host/world``) and where a fork is
delegated (``linkerd1_dst_prefix``, e.g. ``/srv``), and every snippet addresses the
service by that name's last segment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DTAB_HEADER = "l5d-dtab"
DEFAULT_PREFIX = "/svc"

# Finagle's Path.read accepts these characters in a segment unescaped
# (com.twitter.finagle.Path.showableChars); we accept no escapes.
_SEGMENT = r"[A-Za-z0-9_:.#$%\-]+"
PATH_RE = re.compile(rf"^(?:/{_SEGMENT})+$")


def is_dtab_path(value: str) -> bool:
    return bool(PATH_RE.match(value))


def linkerd1_name(service_name: str, name: str | None = None) -> str:
    """The name the router gives this service's requests (``/svc/<service>`` unless
    the catalog says otherwise)."""
    return name or f"{DEFAULT_PREFIX}/{service_name}"


def linkerd1_host(service_name: str, name: str | None = None) -> str:
    """The Host a client sends so that the router's Host-based identifier produces
    ``linkerd1_name``: its last segment."""
    return linkerd1_name(service_name, name).rsplit("/", 1)[1]


def dtab_entry(
    service_name: str, fork_service: str, *, name: str | None = None, dst_prefix: str | None = None
) -> str:
    """``<name> => <dst prefix>/<fork>;``: delegate one logical name to the fork.

    Without catalog overrides: ``/svc/<service> => /svc/<fork>;``. The destination
    prefix defaults to the name's own prefix, so the router's base dtab binds the fork's
    name the same way it binds the baseline's."""
    source = linkerd1_name(service_name, name)
    prefix = dst_prefix or source.rsplit("/", 1)[0] or DEFAULT_PREFIX
    for path in (source, f"{prefix}/{fork_service}"):
        if not is_dtab_path(path):
            raise ValueError(f"{path!r} is not a dtab path")
    return f"{source} => {prefix}/{fork_service};"


def render_dtab(entries: Iterable[str]) -> str:
    """The ``l5d-dtab`` value for several forks' dentries, sorted so it is stable.

    Linkerd 1 gives later dentries precedence, but each name appears once, so order
    only matters for readability. One name delegated twice is an error.
    """
    seen: dict[str, str] = {}
    for entry in entries:
        source = entry.split(" => ", 1)[0]
        if seen.get(source, entry) != entry:
            raise ValueError(f"{source!r} would be delegated to two forks")
        seen[source] = entry
    return " ".join(e for _, e in sorted(seen.items()))
