"""Mesh detection is a pure function of the namespace, the pod template and what the
API server serves; each case below is a real-world labelling."""

from __future__ import annotations

import pytest

from sandboxes.catalog.mesh_detection import ClusterCapabilities, detect_mesh

GW = ClusterCapabilities(gateway_api=True, istio_crds=True)
NO_GW = ClusterCapabilities(gateway_api=False, istio_crds=True)


def ns(labels=None, annotations=None):
    return {"metadata": {"name": "shop", "labels": labels or {}, "annotations": annotations or {}}}


def dep(pod_labels=None, pod_annotations=None, annotations=None):
    return {
        "metadata": {"name": "orders", "namespace": "shop", "annotations": annotations or {}},
        "spec": {
            "template": {
                "metadata": {"labels": pod_labels or {}, "annotations": pod_annotations or {}}
            }
        },
    }


@pytest.mark.parametrize(
    ("namespace", "deployment", "caps", "mesh", "dataplane", "evidence"),
    [
        (
            ns({"istio-injection": "enabled"}),
            dep(),
            NO_GW,
            "istio",
            "istio-sidecar",
            "namespace label istio-injection=enabled",
        ),
        (
            ns({"istio.io/rev": "1-24"}),
            dep(),
            NO_GW,
            "istio",
            "istio-sidecar",
            "namespace label istio.io/rev=1-24",
        ),
        (
            ns(),
            dep({"sidecar.istio.io/inject": "true"}),
            NO_GW,
            "istio",
            "istio-sidecar",
            "pod template label sidecar.istio.io/inject=true",
        ),
        (
            ns(),
            dep(pod_annotations={"sidecar.istio.io/inject": "true"}),
            NO_GW,
            "istio",
            "istio-sidecar",
            "pod template annotation sidecar.istio.io/inject=true",
        ),
        (
            ns({"istio.io/dataplane-mode": "ambient"}),
            dep(),
            GW,
            "gateway-api",
            "istio-ambient",
            "namespace label istio.io/dataplane-mode=ambient",
        ),
        (
            ns({"istio.io/dataplane-mode": "ambient"}),
            dep(),
            NO_GW,
            "istio",
            "istio-ambient",
            "namespace label istio.io/dataplane-mode=ambient",
        ),
        (
            ns(annotations={"linkerd.io/inject": "enabled"}),
            dep(),
            GW,
            "gateway-api",
            "linkerd",
            "namespace annotation linkerd.io/inject=enabled",
        ),
        (
            ns(),
            dep(pod_annotations={"linkerd.io/inject": "enabled"}),
            NO_GW,
            "linkerd-policy",
            "linkerd",
            "pod template annotation linkerd.io/inject=enabled",
        ),
        (
            ns(),
            dep(annotations={"sidestage.dev/mesh": "linkerd1"}),
            GW,
            "linkerd1",
            "override",
            "annotation sidestage.dev/mesh=linkerd1",
        ),
    ],
)
def test_detects_the_mesh_with_its_evidence(namespace, deployment, caps, mesh, dataplane, evidence):
    found = detect_mesh(namespace=namespace, deployment=deployment, capabilities=caps)
    assert (found.mesh, found.dataplane, found.problem) == (mesh, dataplane, "")
    assert evidence in found.evidence


def test_the_pod_template_overrides_the_namespace():
    # Istio: a pod opting out of a namespace's injection is not in the mesh.
    found = detect_mesh(
        namespace=ns({"istio-injection": "enabled"}),
        deployment=dep({"sidecar.istio.io/inject": "false"}),
        capabilities=NO_GW,
    )
    assert found.mesh is None and "sidecar.istio.io/inject=false" in found.evidence[0]
    # Linkerd: `disabled` on the pod beats `enabled` on the namespace.
    found = detect_mesh(
        namespace=ns(annotations={"linkerd.io/inject": "enabled"}),
        deployment=dep(pod_annotations={"linkerd.io/inject": "disabled"}),
        capabilities=GW,
    )
    assert found.mesh is None
    # Ambient: `none` on the pod opts out of an ambient namespace.
    found = detect_mesh(
        namespace=ns({"istio.io/dataplane-mode": "ambient"}),
        deployment=dep({"istio.io/dataplane-mode": "none"}),
        capabilities=GW,
    )
    assert found.mesh is None


def test_sidecar_wins_over_ambient_as_in_istio():
    found = detect_mesh(
        namespace=ns({"istio.io/dataplane-mode": "ambient"}),
        deployment=dep({"sidecar.istio.io/inject": "true"}),
        capabilities=GW,
    )
    assert (found.mesh, found.dataplane) == ("istio", "istio-sidecar")


def test_disabled_namespace_injection_is_not_a_mesh():
    found = detect_mesh(
        namespace=ns({"istio-injection": "disabled"}), deployment=dep(), capabilities=GW
    )
    assert found.mesh is None
    assert "namespace label istio-injection=disabled" in found.evidence
    assert "No mesh injection" in found.problem


def test_two_meshes_at_once_ask_for_an_explicit_choice():
    found = detect_mesh(
        namespace=ns({"istio-injection": "enabled"}, {"linkerd.io/inject": "enabled"}),
        deployment=dep(),
        capabilities=GW,
    )
    assert found.mesh is None and "Both Istio and Linkerd" in found.problem


def test_an_unknown_override_is_a_problem_not_a_guess():
    found = detect_mesh(
        namespace=ns({"istio-injection": "enabled"}),
        deployment=dep(annotations={"sidestage.dev/mesh": "consul"}),
        capabilities=GW,
    )
    assert found.mesh is None and "consul" in found.problem


def test_evidence_says_whether_gateway_api_is_served():
    on = detect_mesh(
        namespace=ns({"istio-injection": "enabled"}), deployment=dep(), capabilities=GW
    )
    off = detect_mesh(
        namespace=ns({"istio-injection": "enabled"}), deployment=dep(), capabilities=NO_GW
    )
    assert "Gateway API HTTPRoute served" in on.evidence
    assert "Gateway API HTTPRoute not served" in off.evidence
