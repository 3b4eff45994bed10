"""The interface every mesh module implements.

A mesh module (one file in ``routing/meshes/``) exports ``MESH``, an instance of a
:class:`MeshRouting` subclass. Everything outside the module asks that object instead
of testing the mesh's name: which kinds it applies, how it renders one service's
routes, what one sandbox's people may read of its shared objects, and whether an
object is one of its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from routing.model import DEFAULT_WIRE, BaselineService, WireConfig
from routing.names import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from routing.plan import RoutePlan

Kind = tuple[str, str]
"""``(apiVersion, kind)`` of an object a mesh applies."""


class RouteRenderError(Exception):
    """The routes of a service cannot be rendered as asked.

    ``reason`` is the condition reason a person reads (``RoutesProgrammed=False``).
    """

    reason: str = "RouteRenderFailed"


class UnknownMeshError(ValueError):
    """No mesh module is registered under this name."""


@dataclass(frozen=True)
class MeshRoutes:
    """What a mesh renders for one service.

    ``manifests`` are in apply order (delete in reverse). ``dtabs`` maps each routing
    or tenant key to a header value clients send instead (meshes without objects).
    """

    manifests: tuple[dict, ...] = ()
    dtabs: Mapping[str, str] = field(default_factory=dict)


class MeshRouting(ABC):
    """One service mesh: the kinds it owns, how it renders, redacts and recognises them.

    ``name`` is the value stored in the catalog (``BaselineService.mesh``, at most 16
    characters) and ``label`` what people read in forms and the admin.

    ``kinds`` are every ``(apiVersion, kind)`` the mesh applies; empty for a mesh
    that needs no objects. ``sandbox_kinds`` are those of them rendered once per
    sandbox (labelled with the sandbox's key, found by that label); the rest are
    shared by every sandbox of a service (labelled with the service only).
    ``foreign_host_kinds`` are kinds whose objects *of any owner* must be read before
    rendering, because another owner's object for the same host would clash with
    ours (Istio cannot merge two VirtualServices for one host); the caller passes
    them to :meth:`render` as ``foreign``.
    """

    name: str
    label: str
    kinds: tuple[Kind, ...] = ()
    sandbox_kinds: tuple[Kind, ...] = ()
    foreign_host_kinds: tuple[Kind, ...] = ()

    @abstractmethod
    def render(
        self,
        service: BaselineService,
        plan: RoutePlan,
        *,
        wire: WireConfig = DEFAULT_WIRE,
        foreign: Iterable[dict] = (),
    ) -> MeshRoutes:
        """The routing objects (or dtabs) for ``service`` from its route plan.

        Pure and deterministic. No routes in the plan means no objects, so the
        reconciler's label-selector GC removes what was there. Raises a
        :class:`RouteRenderError` when the routes cannot be programmed.
        """

    def redact(self, manifest: dict, routing_key: str) -> dict:
        """What one sandbox's people may read of one of this mesh's objects.

        ``manifest`` is the caller's private copy and may be edited in place. A shared
        object that holds other sandboxes' routing keys must drop them: other teams'
        keys are not theirs to see. The default keeps the object as is, which is right
        for objects that belong to a single sandbox.
        """
        return manifest

    def owns(self, obj: dict) -> bool:
        """True for an object of one of this mesh's kinds that Sidestage manages."""
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return (obj.get("apiVersion"), obj.get("kind")) in self.kinds and labels.get(
            MANAGED_BY_LABEL
        ) == MANAGED_BY_VALUE

    def __repr__(self) -> str:
        return f"<mesh {self.name}>"
