"""How routing keys map onto the forks of one service: the sandbox key always, the
tenant key only when it is the tenant's sole routable fork of that service."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from routing.model import Fork


@dataclass(frozen=True)
class TenantConflict:
    """Two or more active sandboxes of one tenant fork the same service.

    The tenant key cannot reach both forks, so it routes to neither of them for that
    service; each sandbox's own key still routes.
    """

    tenant_key: str
    service: str
    sandboxes: tuple[str, ...]

    @property
    def message(self) -> str:
        names = ", ".join(self.sandboxes)
        return (
            f"tenant key {self.tenant_key[:6]}… cannot route service {self.service!r}: "
            f"sandboxes {names} of the same tenant all fork it. Requests with the tenant "
            f"key reach the baseline for this service; use a sandbox key, or stop all "
            f"but one of these sandboxes."
        )


class TenantKeyConflictError(ValueError):
    """Raised by callers that want conflicts to be fatal; carries the conflicts."""

    def __init__(self, conflicts: Iterable[TenantConflict]) -> None:
        self.conflicts = tuple(conflicts)
        super().__init__("; ".join(c.message for c in self.conflicts))


@dataclass(frozen=True)
class ForkRoute:
    """A fork and the keys that route to it, sandbox key first."""

    fork: Fork
    keys: tuple[str, ...]


@dataclass(frozen=True)
class RoutePlan:
    """Which keys reach which fork of one service, in a deterministic order."""

    service: str
    routes: tuple[ForkRoute, ...]
    conflicts: tuple[TenantConflict, ...]


def plan_routes(service: str, forks: Iterable[Fork]) -> RoutePlan:
    """Decide the keys for each fork of ``service``.

    Routes are sorted by sandbox routing key, so rule order never depends on the
    order the database returned rows in. A tenant key is added to a fork only when
    it is the tenant's sole active fork of this service.
    """
    ordered = sorted(forks, key=lambda f: f.routing_key)
    seen: dict[str, str] = {}
    for fork in ordered:
        if fork.routing_key in seen:
            raise ValueError(
                f"routing key of sandbox {fork.sandbox!r} appears twice for service {service!r}"
            )
        seen[fork.routing_key] = fork.sandbox
    by_tenant: dict[str, list[Fork]] = defaultdict(list)
    for fork in ordered:
        if fork.tenant_key is not None:
            if fork.tenant_key in seen:
                raise ValueError(
                    f"tenant key of sandbox {fork.sandbox!r} equals a sandbox routing key"
                )
            by_tenant[fork.tenant_key].append(fork)
    conflicts = tuple(
        TenantConflict(tenant, service, tuple(sorted(f.sandbox for f in group)))
        for tenant, group in sorted(by_tenant.items())
        if len(group) > 1
    )
    conflicted = {c.tenant_key for c in conflicts}
    routes = tuple(
        ForkRoute(
            fork,
            (fork.routing_key,)
            if fork.tenant_key is None or fork.tenant_key in conflicted
            else (fork.routing_key, fork.tenant_key),
        )
        for fork in ordered
    )
    return RoutePlan(service=service, routes=routes, conflicts=conflicts)
