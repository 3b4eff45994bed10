"""Per-service entry point: everything Sidestage applies to route one baseline service."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import yaml

from routing.meshes import get_mesh
from routing.model import DEFAULT_WIRE, BaselineService, Fork, WireConfig
from routing.plan import TenantConflict, plan_routes


@dataclass(frozen=True)
class RenderedRoutes:
    """The result for one baseline service.

    ``manifests`` are in apply order (delete in reverse). ``conflicts`` are tenant
    keys that could not route this service; the sandbox keys still do.
    ``dtabs`` (meshes without objects, Linkerd 1) maps each routing or tenant key to
    its header value.
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
    foreign: Iterable[dict] = (),
) -> RenderedRoutes:
    """Render the routing objects for ``service`` and its active ``forks``.

    Pure and deterministic: the same input gives byte-identical YAML. No forks
    means no objects, so the reconciler's label-selector GC removes what was there.
    ``foreign`` are the live objects of the mesh's ``foreign_host_kinds`` that the
    caller read (for Istio, VirtualServices of other owners); a mesh raises a
    :class:`routing.meshes.RouteRenderError` when they clash with its routes.
    Raises :class:`routing.meshes.UnknownMeshError` for a mesh no module provides.
    """
    mesh = get_mesh(service.mesh)
    plan = plan_routes(service.name, forks)
    routes = mesh.render(service, plan, wire=wire, foreign=foreign)
    return RenderedRoutes(
        service=service,
        manifests=routes.manifests,
        conflicts=plan.conflicts,
        dtabs=routes.dtabs,
    )


def manifests_to_yaml(manifests: Iterable[dict]) -> str:
    """A multi-document YAML stream, in the given order, keys in insertion order."""
    return yaml.safe_dump_all(
        list(manifests), sort_keys=False, default_flow_style=False, width=1000
    )
