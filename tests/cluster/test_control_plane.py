"""The control plane is the one we pinned, with its fake nodes and CRDs in place."""

from __future__ import annotations

import re

import pytest
from kubernetes import client

from tests.fixtures.kube import KubeCluster

pytestmark = pytest.mark.cluster


def test_apiserver_reports_a_real_version(kube_cluster: KubeCluster) -> None:
    # An unset version ldflag shows up as v0.0.0-master; clients gate features on this.
    assert re.fullmatch(r"v1\.\d+\.\d+", kube_cluster.version), kube_cluster.version
    if kube_cluster.started_here:
        assert kube_cluster.version.startswith("v1.34.")


def test_fake_nodes_are_ready_and_schedulable(
    kube_cluster: KubeCluster, kube_api: client.ApiClient
) -> None:
    nodes = client.CoreV1Api(kube_api).list_node(label_selector="type=kwok").items
    if not kube_cluster.started_here and not nodes:
        pytest.skip("this existing cluster has no KWOK nodes (type=kwok)")
    assert len(nodes) >= 2
    for node in nodes:
        ready = {c.type: c.status for c in node.status.conditions}["Ready"]
        assert ready == "True", node.metadata.name
        assert not node.spec.taints, "untainted, so forks schedule without tolerations"
        assert not node.spec.unschedulable


@pytest.mark.parametrize(
    "name",
    [
        "virtualservices.networking.istio.io",
        "destinationrules.networking.istio.io",
        "authorizationpolicies.security.istio.io",
        "gateways.networking.istio.io",
        "httproutes.gateway.networking.k8s.io",
        "gateways.gateway.networking.k8s.io",
    ],
)
def test_mesh_crds_are_established(kube_api: client.ApiClient, name: str) -> None:
    crd = client.ApiextensionsV1Api(kube_api).read_custom_resource_definition(name)
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
