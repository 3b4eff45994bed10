"""The registry of service meshes: one module per mesh, found by looking.

Every public module of this package is a mesh module and exports ``MESH`` (a
:class:`~routing.meshes.base.MeshRouting`). The registry maps each mesh's ``name`` to
it, in module-name order, so adding a mesh is adding one module (and its tests):
nothing else lists the meshes. ``base`` holds the interface and is not a mesh.
"""

from __future__ import annotations

import importlib
import pkgutil

from routing.meshes.base import (
    Kind,
    MeshRoutes,
    MeshRouting,
    RouteRenderError,
    UnknownMeshError,
)

__all__ = [
    "MESHES",
    "Kind",
    "MeshRoutes",
    "MeshRouting",
    "RouteRenderError",
    "UnknownMeshError",
    "all_kinds",
    "get_mesh",
    "mesh_module_names",
    "mesh_of",
]

_NOT_MESHES = frozenset({"base"})


def mesh_module_names() -> list[str]:
    """The modules of this package that must each export ``MESH``, sorted."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_") and info.name not in _NOT_MESHES
    )


def _discover() -> dict[str, MeshRouting]:
    found: dict[str, MeshRouting] = {}
    owners: dict[Kind, str] = {}
    for module_name in mesh_module_names():
        module = importlib.import_module(f"{__name__}.{module_name}")
        mesh = getattr(module, "MESH", None)
        if not isinstance(mesh, MeshRouting):
            raise TypeError(f"routing.meshes.{module_name} must export MESH, a MeshRouting")
        if mesh.name in found:
            raise ValueError(f"two mesh modules are named {mesh.name!r}")
        for kind in mesh.kinds:
            # An object is recognised by its kind: two owners would make that ambiguous.
            if kind in owners:
                raise ValueError(f"{kind} is claimed by meshes {owners[kind]} and {mesh.name}")
            owners[kind] = mesh.name
        found[mesh.name] = mesh
    return found


MESHES: dict[str, MeshRouting] = _discover()


def get_mesh(name: str) -> MeshRouting:
    """The mesh registered as ``name``; :class:`UnknownMeshError` if there is none."""
    try:
        return MESHES[name]
    except KeyError:
        raise UnknownMeshError(f"mesh {name!r} is not one of {', '.join(MESHES)}") from None


def mesh_of(obj: dict) -> MeshRouting | None:
    """The mesh whose kinds include ``obj``'s apiVersion and kind, or None."""
    kind = (obj.get("apiVersion"), obj.get("kind"))
    for mesh in MESHES.values():
        if kind in mesh.kinds:
            return mesh
    return None


def all_kinds() -> tuple[Kind, ...]:
    """Every kind any mesh applies, sorted."""
    return tuple(sorted({kind for mesh in MESHES.values() for kind in mesh.kinds}))
