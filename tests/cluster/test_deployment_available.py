"""A Deployment really rolls out: scheduler places the pods, KWOK runs them, and the
controller-manager turns the Deployment Available."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.fixtures.kube import wait_for

pytestmark = pytest.mark.cluster


def _deployment(name: str, replicas: int) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="app",
                            # Never pulled: KWOK simulates the kubelet.
                            image="registry.example.invalid/orders:1.2.3",
                            ports=[client.V1ContainerPort(container_port=8080)],
                        )
                    ]
                ),
            ),
        ),
    )


def test_deployment_becomes_available_on_kwok_nodes(
    kube_api: client.ApiClient, kube_namespace: str
) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    nodes = {node.metadata.name for node in core.list_node(label_selector="type=kwok").items}
    if not nodes:
        pytest.skip("needs KWOK nodes (type=kwok); the image is never pulled")
    apps.create_namespaced_deployment(kube_namespace, _deployment("orders", replicas=2))

    def available() -> client.V1Deployment | None:
        deployment = apps.read_namespaced_deployment_status("orders", kube_namespace)
        conditions = {c.type: c.status for c in deployment.status.conditions or []}
        ready = deployment.status.available_replicas == 2 and conditions.get("Available") == "True"
        return deployment if ready else None

    deployment = wait_for(available, timeout=90, what="Deployment orders Available")
    assert deployment.status.observed_generation == deployment.metadata.generation
    assert deployment.status.ready_replicas == 2

    pods = core.list_namespaced_pod(kube_namespace, label_selector="app=orders").items
    assert len(pods) == 2
    for pod in pods:
        assert pod.status.phase == "Running"
        assert pod.spec.node_name in nodes, "the scheduler placed the pod on a KWOK node"
        assert pod.status.pod_ip, "KWOK assigned a pod IP"
        # The ReplicaSet the Deployment controller created owns the pod.
        assert pod.metadata.owner_references[0].kind == "ReplicaSet"
