"""Per-service entry point: everything Sidestage applies to route one baseline service."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import yaml

from routing import gateway_api, istio, linkerd
from routing.keys import RoutePlan, TenantConflict, plan_routes
from routing.model import DEFAULT_WIRE, BaselineService, Fork, WireConfig


@dataclass(frozen=True)
class RenderedRoutes:
    """The result for one baseline service.

    ``manifests`` are in apply order (delete in reverse). ``conflicts`` are tenant
    keys that could not route this service; the sandbox keys still do.
    ``dtabs`` (Linkerd 1 only) maps each routing or tenant key to its dtab entry.
    """

    service: BaselineService
    manifests: tuple[dict, ...]
    conflicts: tuple[TenantConflict, ...]
    dtabs: Mapping[str, str] = field(default_factory=dict)


def render_service_routes(
    service: BaselineService,
    forks: Iterable[Fork],
    *,
    wire: WireConfig = DEFAULT_WIRE,
    live_virtual_services: Iterable[dict] = (),
) -> RenderedRoutes:
    """Render the routing objects for ``service`` and its active ``forks``.

    Pure and deterministic: the same input gives byte-identical YAML. No forks
    means no objects, so the reconciler's label-selector GC removes what was there.
    For Istio, ``live_virtual_services`` (read by the caller) are checked first and
    :class:`routing.istio.ForeignVirtualServiceError` is raised when another owner
    already routes the host.
    """
    plan: RoutePlan = plan_routes(service.name, forks)
    manifests: list[dict] = []
    dtabs: dict[str, str] = {}
    if service.mesh == "istio":
        if plan.routes:
            istio.check_host_ownership(service, live_virtual_services)
        vs = istio.render_virtual_service(service, plan, wire=wire)
        if vs is not None:
            manifests.append(vs)
    elif service.mesh in ("gateway-api", "linkerd-policy"):
        manifests.extend(gateway_api.render_http_routes(service, plan, wire=wire))
    else:
        for route in plan.routes:
            for key in route.keys:
                dtabs[key] = linkerd.dtab_entry(
                    service.service_name,
                    route.fork.fork_service,
                    name=service.linkerd1_name,
                    dst_prefix=service.linkerd1_dst_prefix,
                )
    return RenderedRoutes(
        service=service, manifests=tuple(manifests), conflicts=plan.conflicts, dtabs=dtabs
    )


def manifests_to_yaml(manifests: Iterable[dict]) -> str:
    """A multi-document YAML stream, in the given order, keys in insertion order."""
    return yaml.safe_dump_all(
        list(manifests), sort_keys=False, default_flow_style=False, width=1000
    )
