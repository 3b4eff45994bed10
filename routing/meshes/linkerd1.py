"""Linkerd 1: no objects. Each routing or tenant key gets a dtab entry that a client
sends in the ``l5d-dtab`` header; the entry's format lives in ``routing.linkerd``,
which the API's snippets share."""

from __future__ import annotations

from collections.abc import Iterable

from routing import linkerd
from routing.meshes.base import MeshRoutes, MeshRouting
from routing.model import DEFAULT_WIRE, BaselineService, WireConfig
from routing.plan import RoutePlan


class Linkerd1Mesh(MeshRouting):
    name = "linkerd1"
    label = "Linkerd 1 (dtab)"

    def render(
        self,
        service: BaselineService,
        plan: RoutePlan,
        *,
        wire: WireConfig = DEFAULT_WIRE,
        foreign: Iterable[dict] = (),
    ) -> MeshRoutes:
        dtabs = {
            key: linkerd.dtab_entry(
                service.service_name,
                route.fork.fork_service,
                name=service.linkerd1_name,
                dst_prefix=service.linkerd1_dst_prefix,
            )
            for route in plan.routes
            for key in route.keys
        }
        return MeshRoutes(dtabs=dtabs)


MESH = Linkerd1Mesh()
