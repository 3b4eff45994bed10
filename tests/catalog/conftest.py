"""Cluster fixtures for discovery: extra namespaces with mesh labels, Deployments with
or without the forkable annotation, and a Cluster client that holds only the
permissions in `DISCOVERY_PERMISSIONS` (a ServiceAccount token from the TokenRequest
API, bound to a ClusterRole made from that list)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from bench.baseline import baseline_objects
from sandboxes.catalog.discovery import DISCOVERY_PERMISSIONS
from sandboxes.cluster import Cluster
from tests.fixtures.kube import TEST_NAMESPACE_LABEL


@dataclass
class DiscoveryWorld:
    admin: Cluster  # full rights: sets the scene
    restricted: Cluster  # exactly DISCOVERY_PERMISSIONS
    namespace: Callable[..., str]
    workload: Callable[..., None]
    namespaces: list[str] = field(default_factory=list)


def _rbac_rules() -> list[dict]:
    return [
        {"apiGroups": [group], "resources": [resource], "verbs": list(verbs)}
        for group, resource, verbs in DISCOVERY_PERMISSIONS
    ]


def restricted_api_client(
    kube_api: client.ApiClient, namespace: str, suffix: str
) -> Iterator[client.ApiClient]:
    core = client.CoreV1Api(kube_api)
    rbac = client.RbacAuthorizationV1Api(kube_api)
    sa = "sidestage-discovery"
    role = f"sidestage-discovery-test-{suffix}"
    core.create_namespaced_service_account(namespace, {"metadata": {"name": sa}})
    rbac.create_cluster_role({"metadata": {"name": role}, "rules": _rbac_rules()})
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": role},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}],
        }
    )
    token = core.create_namespaced_service_account_token(
        sa,
        namespace,
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 900},
        },
    )
    token_value = token.status.token if hasattr(token, "status") else token["status"]["token"]
    admin_conf = kube_api.configuration
    conf = client.Configuration()
    conf.host = admin_conf.host
    conf.ssl_ca_cert = admin_conf.ssl_ca_cert
    conf.verify_ssl = admin_conf.verify_ssl
    conf.api_key = {"authorization": f"Bearer {token_value}"}
    try:
        with client.ApiClient(conf) as api:
            yield api
    finally:
        for delete in (
            lambda: rbac.delete_cluster_role_binding(role),
            lambda: rbac.delete_cluster_role(role),
        ):
            try:
                delete()
            except ApiException as exc:
                if exc.status != 404:
                    raise


@pytest.fixture
def discovery_world(kube_cluster, kube_api, kube_namespace) -> Iterator[DiscoveryWorld]:
    admin = Cluster(kube_api)
    core = client.CoreV1Api(kube_api)
    suffix = secrets.token_hex(3)
    created: list[str] = []

    def namespace(tag: str, *, labels: dict | None = None, annotations: dict | None = None) -> str:
        name = f"{kube_namespace[:40].rstrip('-')}-{tag}"
        core.create_namespace(
            {
                "metadata": {
                    "name": name,
                    "labels": {TEST_NAMESPACE_LABEL: "true", **(labels or {})},
                    "annotations": annotations or {},
                }
            }
        )
        created.append(name)
        return name

    def workload(
        name: str,
        ns: str,
        *,
        annotations: dict | None = None,
        pod_labels: dict | None = None,
        pod_annotations: dict | None = None,
        port: int = 8080,
    ) -> None:
        deployment, service = baseline_objects(name, ns)
        deployment["metadata"]["annotations"] = annotations or {}
        template = deployment["spec"]["template"]["metadata"]
        template["labels"].update(pod_labels or {})
        template["annotations"] = pod_annotations or {}
        service["spec"]["ports"] = [{"name": "http", "port": port, "targetPort": 8080}]
        admin.apply(deployment)
        admin.apply(service)

    gen = restricted_api_client(kube_api, kube_namespace, suffix)
    restricted_api = next(gen)
    try:
        yield DiscoveryWorld(
            admin=admin,
            restricted=Cluster(restricted_api, retries=1),
            namespace=namespace,
            workload=workload,
            namespaces=created,
        )
    finally:
        gen.close()
        for name in created:
            try:
                core.delete_namespace(name, propagation_policy="Background")
            except ApiException as exc:
                if exc.status != 404:
                    raise
