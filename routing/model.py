"""Frozen inputs to the route renderers.

The reconciler builds these from the database rows; the renderers never see a
model instance, which keeps them pure and trivially testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from routing.keys import is_valid_routing_key

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# RFC 9110 token: header names and baggage keys must be tokens. Always fullmatch:
# '$' would accept a trailing newline, which is a header-injection hazard.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def is_dns_label(value: str) -> bool:
    """True for an RFC 1123 label of at most 63 characters."""
    return len(value) <= 63 and bool(_DNS_LABEL.fullmatch(value))


def is_token(value: str) -> bool:
    """True for an RFC 9110 token (a valid header name or baggage key)."""
    return bool(_TOKEN.fullmatch(value))


@dataclass(frozen=True)
class WireConfig:
    """How the routing key travels on the wire.

    ``baggage_member`` is the W3C baggage key (``sidestage=<key>``) and ``header`` the
    dedicated header for clients that cannot set baggage. The header is lowercase
    because Istio only matches lowercase header names.
    """

    baggage_member: str = "sidestage"
    header: str = "x-sidestage-route"

    def __post_init__(self) -> None:
        if not is_token(self.baggage_member):
            raise ValueError(f"baggage member name {self.baggage_member!r} is not a token")
        if not is_token(self.header) or self.header != self.header.lower():
            raise ValueError(f"routing header {self.header!r} must be a lowercase token")
        if self.header in ("baggage", "host", ":authority") or self.header.startswith("l5d-"):
            raise ValueError(f"routing header {self.header!r} collides with a reserved header")


DEFAULT_WIRE = WireConfig()


@dataclass(frozen=True)
class ServicePort:
    """One HTTP port of the baseline Service; the fork Service exposes the same ports."""

    port: int
    name: str = "http"

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range")


@dataclass(frozen=True)
class BaselineService:
    """A catalog entry for a workload in the shared environment.

    ``name`` is the catalog name (used in object names and the service label),
    ``service_name`` the Kubernetes Service that clients address. ``host`` defaults to
    the cluster-local FQDN of that Service.
    """

    name: str
    namespace: str
    service_name: str
    ports: tuple[ServicePort, ...]
    mesh: str  # a name in routing.meshes.MESHES; render_service_routes checks it
    host: str | None = None
    # Linkerd 1 only: the router's name for this service and the fork's delegation
    # prefix (see routing.linkerd); None means /svc/<service_name> and /svc.
    linkerd1_name: str | None = None
    linkerd1_dst_prefix: str | None = None

    def __post_init__(self) -> None:
        for label, value in (
            ("name", self.name),
            ("namespace", self.namespace),
            ("service_name", self.service_name),
        ):
            if not is_dns_label(value):
                raise ValueError(f"{label} {value!r} is not a DNS-1123 label")
        if not self.ports:
            raise ValueError(f"service {self.name!r} has no ports")
        if len({p.port for p in self.ports}) != len(self.ports):
            raise ValueError(f"service {self.name!r} lists a port twice")
        if self.host is not None and not _DNS_SUBDOMAIN.fullmatch(self.host):
            raise ValueError(f"host {self.host!r} is not a DNS name")

    @property
    def fqdn(self) -> str:
        return self.host or f"{self.service_name}.{self.namespace}.svc.cluster.local"

    @property
    def sorted_ports(self) -> tuple[ServicePort, ...]:
        return tuple(sorted(self.ports, key=lambda p: p.port))


@dataclass(frozen=True)
class Fork:
    """One active fork of the baseline: which sandbox, its keys, its Service.

    ``fork_service`` is the fork's Service in the baseline's namespace, normally
    ``names.fork_object_name(service.name, routing_key)``.
    """

    sandbox: str
    routing_key: str
    fork_service: str
    tenant_key: str | None = field(default=None)

    def __post_init__(self) -> None:
        if not is_valid_routing_key(self.routing_key):
            raise ValueError(f"sandbox {self.sandbox!r} has an invalid routing key")
        if self.tenant_key is not None and not is_valid_routing_key(self.tenant_key):
            raise ValueError(f"sandbox {self.sandbox!r} has an invalid tenant key")
        if self.tenant_key == self.routing_key:
            raise ValueError(f"sandbox {self.sandbox!r} reuses its tenant key as routing key")
        if not is_dns_label(self.fork_service) or not self.fork_service[0].isalpha():
            raise ValueError(f"fork Service {self.fork_service!r} is not a DNS-1035 label")
