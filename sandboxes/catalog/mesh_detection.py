"""Which mesh routes a workload, read from what is really in the cluster. Pure.

The evidence is the same set of labels and annotations the meshes' own admission
webhooks act on (checked against their documentation):

- Istio sidecars: namespace label `istio-injection=enabled` or `istio.io/rev=<rev>`;
  on the pod template the label `sidecar.istio.io/inject` ("true"/"false", which
  overrides the namespace; older installs read it as an annotation).
- Istio ambient: label `istio.io/dataplane-mode=ambient` on the namespace or the pod
  (`none` on the pod opts out).
- Linkerd 2: annotation `linkerd.io/inject: enabled|ingress` on the namespace or the
  pod template (`disabled` on the pod overrides the namespace).
- Gateway API: whether the cluster serves `HTTPRoute` in `gateway.networking.k8s.io`.

The pod template wins over the namespace, as it does for the webhooks. An explicit
`sidestage.dev/mesh` annotation on the Deployment wins over everything, for meshes
nothing can be read from (Linkerd 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MESH_OVERRIDE_ANNOTATION = "sidestage.dev/mesh"
KNOWN_MESHES = ("istio", "gateway-api", "linkerd-policy", "linkerd1")

ISTIO_INJECTION_LABEL = "istio-injection"
ISTIO_REV_LABEL = "istio.io/rev"
ISTIO_SIDECAR_INJECT = "sidecar.istio.io/inject"
ISTIO_DATAPLANE_MODE = "istio.io/dataplane-mode"
LINKERD_INJECT = "linkerd.io/inject"


@dataclass(frozen=True)
class ClusterCapabilities:
    """What the API server serves (from API discovery: no extra RBAC needed)."""

    gateway_api: bool = False
    istio_crds: bool = False

    def to_dict(self) -> dict[str, bool]:
        return {"gatewayApi": self.gateway_api, "istioCrds": self.istio_crds}


@dataclass(frozen=True)
class MeshDetection:
    """The mesh Sidestage should program for a workload, and why."""

    mesh: str | None  # one of KNOWN_MESHES, or None when nothing says
    dataplane: str  # istio-sidecar, istio-ambient, linkerd, override, none
    evidence: tuple[str, ...] = field(default_factory=tuple)
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "mesh": self.mesh,
            "dataplane": self.dataplane,
            "evidence": list(self.evidence),
            "problem": self.problem,
        }


def _get(mapping: Mapping[str, str] | None, key: str) -> str | None:
    return (mapping or {}).get(key)


def _istio_sidecar(
    ns_labels: Mapping[str, str], pod_labels: Mapping[str, str], pod_annotations: Mapping[str, str]
) -> tuple[bool | None, str]:
    """True/False with evidence when something decides sidecar injection, else None."""
    for where, mapping in (
        ("pod template label", pod_labels),
        ("pod template annotation", pod_annotations),
    ):
        value = _get(mapping, ISTIO_SIDECAR_INJECT)
        if value is not None:
            return value.lower() == "true", f"{where} {ISTIO_SIDECAR_INJECT}={value}"
    value = _get(ns_labels, ISTIO_INJECTION_LABEL)
    if value is not None:
        return value == "enabled", f"namespace label {ISTIO_INJECTION_LABEL}={value}"
    value = _get(ns_labels, ISTIO_REV_LABEL) or _get(pod_labels, ISTIO_REV_LABEL)
    if value:
        where = "namespace" if _get(ns_labels, ISTIO_REV_LABEL) else "pod template"
        return True, f"{where} label {ISTIO_REV_LABEL}={value}"
    return None, ""


def _istio_ambient(ns_labels: Mapping[str, str], pod_labels: Mapping[str, str]) -> tuple[bool, str]:
    pod = _get(pod_labels, ISTIO_DATAPLANE_MODE)
    if pod is not None:
        return pod == "ambient", f"pod template label {ISTIO_DATAPLANE_MODE}={pod}"
    ns = _get(ns_labels, ISTIO_DATAPLANE_MODE)
    if ns is not None:
        return ns == "ambient", f"namespace label {ISTIO_DATAPLANE_MODE}={ns}"
    return False, ""


def _linkerd(
    ns_annotations: Mapping[str, str], pod_annotations: Mapping[str, str]
) -> tuple[bool, str]:
    pod = _get(pod_annotations, LINKERD_INJECT)
    if pod is not None:
        return pod in ("enabled", "ingress"), f"pod template annotation {LINKERD_INJECT}={pod}"
    ns = _get(ns_annotations, LINKERD_INJECT)
    if ns is not None:
        return ns in ("enabled", "ingress"), f"namespace annotation {LINKERD_INJECT}={ns}"
    return False, ""


def detect_mesh(
    *,
    namespace: Mapping[str, Any],
    deployment: Mapping[str, Any],
    capabilities: ClusterCapabilities,
) -> MeshDetection:
    """The mesh of one Deployment, from its namespace and pod template.

    `namespace` and `deployment` are API objects as dicts (`metadata.labels`,
    `metadata.annotations`, `spec.template.metadata...`).
    """
    ns_meta = namespace.get("metadata") or {}
    ns_labels = ns_meta.get("labels") or {}
    ns_annotations = ns_meta.get("annotations") or {}
    dep_annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    template_meta = ((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}
    pod_labels = template_meta.get("labels") or {}
    pod_annotations = template_meta.get("annotations") or {}
    gateway = f"Gateway API HTTPRoute {'served' if capabilities.gateway_api else 'not served'}"

    override = dep_annotations.get(MESH_OVERRIDE_ANNOTATION)
    if override is not None:
        if override not in KNOWN_MESHES:
            return MeshDetection(
                None,
                "override",
                (f"annotation {MESH_OVERRIDE_ANNOTATION}={override}",),
                problem=f"{MESH_OVERRIDE_ANNOTATION}={override!r} is not one of "
                f"{', '.join(KNOWN_MESHES)}.",
            )
        return MeshDetection(
            override, "override", (f"annotation {MESH_OVERRIDE_ANNOTATION}={override}",)
        )

    sidecar, sidecar_why = _istio_sidecar(ns_labels, pod_labels, pod_annotations)
    ambient, ambient_why = _istio_ambient(ns_labels, pod_labels)
    linkerd, linkerd_why = _linkerd(ns_annotations, pod_annotations)
    evidence = tuple(w for w in (sidecar_why, ambient_why, linkerd_why) if w)

    if sidecar and linkerd:
        return MeshDetection(
            None,
            "none",
            (*evidence, gateway),
            problem="Both Istio and Linkerd injection are enabled; set "
            f"{MESH_OVERRIDE_ANNOTATION} to say which mesh routes it.",
        )
    if sidecar:
        # Sidecars take precedence over ambient for pods that have both (Istio docs).
        return MeshDetection("istio", "istio-sidecar", (*evidence, gateway))
    if ambient:
        # Ambient L7 routing goes through a waypoint, which Istio programs from
        # Gateway API routes; VirtualService is only an alpha there.
        mesh = "gateway-api" if capabilities.gateway_api else "istio"
        return MeshDetection(mesh, "istio-ambient", (*evidence, gateway))
    if linkerd:
        # Linkerd 2.14+ reads gateway.networking.k8s.io HTTPRoutes; older ones only
        # their own policy.linkerd.io copy.
        mesh = "gateway-api" if capabilities.gateway_api else "linkerd-policy"
        return MeshDetection(mesh, "linkerd", (*evidence, gateway))
    return MeshDetection(
        None,
        "none",
        (*evidence, gateway),
        problem="No mesh injection found on the namespace or the pod template; set "
        f"{MESH_OVERRIDE_ANNOTATION} if a mesh routes it anyway.",
    )
