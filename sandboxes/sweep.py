"""The orphan sweep: owned objects whose sandbox is gone (a lost message, a row
deleted by hand), and shared routes of services that no routable sandbox forks any
more. Celery beat runs it; the reconciler never needs it to converge."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from routing.meshes import MESHES, all_kinds, get_mesh
from routing.names import SANDBOX_LABEL, SERVICE_LABEL
from sandboxes.cluster import Cluster, ClusterError
from sandboxes.models import BaselineService, Sandbox
from sandboxes.owned_objects import (
    WORKLOAD_KINDS,
    object_key,
    owned_selector,
)
from sandboxes.routes import render_routes_for


def _list(cluster: Cluster, api_version: str, kind: str, **kwargs: Any) -> list[dict]:
    """Like Cluster.list, but a kind whose CRD is not installed simply has no objects."""
    try:
        return cluster.list(api_version, kind, **kwargs)
    except ClusterError as exc:
        if exc.reason == "CRDMissing":
            return []
        raise


def _delete(cluster: Cluster, obj: dict, deleted: list[str]) -> None:
    meta = obj["metadata"]
    if cluster.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")):
        deleted.append("/".join(object_key(obj)))


def sweep_orphans(cluster: Cluster | None) -> list[str]:
    """Delete owned objects whose sandbox is gone, and shared routes of services that
    no routable sandbox forks any more. Returns what was deleted."""
    if cluster is None:
        return []
    deleted: list[str] = []
    kinds = set(WORKLOAD_KINDS) | set(all_kinds())
    owned = [
        obj
        for api_version, kind in sorted(kinds)
        for obj in _list(cluster, api_version, kind, label_selector=owned_selector())
    ]
    # Read the keys after listing: an object we saw was applied by a reconcile, whose
    # sandbox row was committed before it ran, so a new sandbox is never swept.
    present_keys = set(Sandbox.objects.present().values_list("routing_key", flat=True))
    for obj in owned:
        key = (obj["metadata"].get("labels") or {}).get(SANDBOX_LABEL)
        if key and key not in present_keys:
            _delete(cluster, obj, deleted)
    with_objects = [name for name, mesh in MESHES.items() if mesh.kinds]
    baselines = BaselineService.objects.filter(mesh__in=with_objects)
    if cluster.namespaces:
        # Namespaced RBAC: nothing of ours can be elsewhere, and listing there is refused.
        baselines = baselines.filter(namespace__in=cluster.namespaces)
    for baseline in baselines:
        # Locked like a reconcile of this service, so the two never race.
        with transaction.atomic():
            locked = BaselineService.objects.select_for_update(no_key=True).get(pk=baseline.pk)
            wanted = {object_key(o) for o in render_routes_for(locked).manifests}
            for api_version, kind in get_mesh(locked.mesh).kinds:
                shared = _list(
                    cluster,
                    api_version,
                    kind,
                    namespace=locked.namespace,
                    label_selector=owned_selector(**{SERVICE_LABEL: locked.name}),
                )
                for obj in shared:
                    per_sandbox = (obj["metadata"].get("labels") or {}).get(SANDBOX_LABEL)
                    if object_key(obj) not in wanted and not per_sandbox:
                        _delete(cluster, obj, deleted)
    return deleted
