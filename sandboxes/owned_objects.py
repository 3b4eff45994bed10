"""What Sidestage owns in a cluster: the workload kinds it applies (the route kinds are
each mesh's, in `routing.meshes`), how it finds them (labels), how it decides that a
live object already holds what it wants, and what of an applied object one sandbox's
people may read. Pure functions, no I/O."""

from __future__ import annotations

import copy
from typing import Any

from routing.meshes import mesh_of
from routing.names import MANAGED_BY_LABEL, MANAGED_BY_VALUE, SANDBOX_LABEL
from routing.render import manifests_to_yaml
from sandboxes.models import Sandbox

WORKLOAD_KINDS = (("apps/v1", "Deployment"), ("v1", "Service"))


def is_subset(desired: Any, live: Any) -> bool:
    """True if everything in `desired` is already in `live`. The API server adds
    defaults (protocols, termination paths, weights), so live may hold more."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(
            k in live and is_subset(v, live[k]) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(desired) == len(live)
            and all(is_subset(d, v) for d, v in zip(desired, live, strict=True))
        )
    return desired == live


def object_key(obj: dict) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace", ""), meta["name"]


def is_owned(obj: dict) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def is_workload(obj: dict) -> bool:
    return (obj["apiVersion"], obj["kind"]) in WORKLOAD_KINDS


def redact_for_sandbox(
    manifest: dict, routing_key: str, shown_env: set[tuple[str, str]]
) -> dict | None:
    """What one sandbox's people may read of an applied object, or None.

    Shared route objects hold every sandbox's routing key, and other teams' keys are
    not theirs to see: the object's mesh redacts it (a VirtualService keeps only this
    sandbox's rule and the baseline catch-all), and other sandboxes' objects are left
    out. A fork Deployment's env
    values copied from the baseline (which may hold credentials) are masked: only the
    exact (name, value) pairs in `shown_env` (the fork's own overrides and Sidestage's
    variables) stay readable."""
    labels = (manifest.get("metadata") or {}).get("labels") or {}
    owner = labels.get(SANDBOX_LABEL)
    if owner is not None and owner != routing_key:
        return None
    redacted = copy.deepcopy(manifest)
    mesh = mesh_of(redacted)
    if mesh is not None:
        redacted = mesh.redact(redacted, routing_key)
    if redacted["kind"] == "Deployment":
        pod = redacted["spec"]["template"].get("spec") or {}
        for container in pod.get("containers") or []:
            for item in container.get("env") or []:
                if "value" in item and (item["name"], item["value"]) not in shown_env:
                    item["value"] = "<redacted: from the baseline or the data policy>"
    return redacted


def owned_selector(**labels: str) -> str:
    return ",".join(f"{k}={v}" for k, v in {MANAGED_BY_LABEL: MANAGED_BY_VALUE, **labels}.items())


def applied_yaml(sandbox: Sandbox) -> str:
    """The manifests last applied for a sandbox, as YAML (for the UI and the API)."""
    return manifests_to_yaml(sandbox.applied_manifests or [])
