"""Install the chart into the real control plane, and act as its ServiceAccount."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.deploy.helm import CHART, Helm
from tests.fixtures.kube import TEST_NAMESPACE_LABEL, KubeCluster

RELEASE = "sbx"
SERVICE_ACCOUNT = "sbx-sidestage"
EXISTING_SECRETS = {
    "sidestage-database": {"url": "postgres://sidestage@db.example:5432/sidestage"},
    "sidestage-redis": {"url": "redis://redis.example:6379/0"},
    "sidestage-django": {"secret-key": "not-a-real-key-" + "x" * 40},
    "sidestage-metrics": {"token": "not-a-real-token"},
}


@dataclass
class Release:
    name: str
    namespace: str
    kubeconfig: str


def make_namespace(api: client.ApiClient, prefix: str) -> str:
    name = f"{prefix}-{secrets.token_hex(3)}"
    client.CoreV1Api(api).create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=name, labels={TEST_NAMESPACE_LABEL: "true"})
        )
    )
    return name


def delete_namespace(api: client.ApiClient, name: str) -> None:
    try:
        client.CoreV1Api(api).delete_namespace(name, propagation_policy="Background")
    except ApiException as error:
        if error.status != 404:
            raise


def create_existing_secrets(api: client.ApiClient, namespace: str) -> None:
    """The Secrets an operator's secret manager would have created before the install."""
    core = client.CoreV1Api(api)
    for name, data in EXISTING_SECRETS.items():
        core.create_namespaced_secret(
            namespace,
            client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=data),
        )


@contextmanager
def installed(helm: Helm, kube: KubeCluster, namespace: str, *sets: str) -> Iterator[Release]:
    """`helm install` the chart; `helm uninstall` afterwards (the ClusterRole is global)."""
    args = ["install", RELEASE, str(CHART), "--namespace", namespace, "--timeout", "180s"]
    for item in ("serviceAccount.create=true", *sets):
        args += ["--set", item]
    helm.run(*args, kubeconfig=kube.kubeconfig)
    try:
        yield Release(RELEASE, namespace, kube.kubeconfig)
    finally:
        helm.run(
            "uninstall",
            RELEASE,
            "--namespace",
            namespace,
            "--timeout",
            "60s",
            kubeconfig=kube.kubeconfig,
            check=False,
        )


def mint_token(api: client.ApiClient, namespace: str, service_account: str) -> str:
    """A bound token for the ServiceAccount, from the API server's TokenRequest API."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    response = client.CoreV1Api(api).create_namespaced_service_account_token(
        service_account, namespace, request
    )
    return str(response.status.token)


def server_and_ca(kubeconfig: str) -> tuple[str, bytes]:
    config = yaml.safe_load(Path(kubeconfig).read_text())
    cluster = config["clusters"][0]["cluster"]
    return cluster["server"], base64.b64decode(cluster["certificate-authority-data"])


def mount_service_account(directory: Path, *, token: str, ca: bytes, namespace: str) -> Path:
    """Lay out token, ca.crt and namespace as the kubelet mounts them in a pod."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(token)
    (directory / "ca.crt").write_bytes(ca)
    (directory / "namespace").write_text(namespace)
    return directory


def token_client(kubeconfig: str, token: str, ca_file: Path) -> client.ApiClient:
    """An ApiClient that authenticates with nothing but the bearer token."""
    server, _ = server_and_ca(kubeconfig)
    configuration = client.Configuration()
    configuration.host = server
    configuration.ssl_ca_cert = str(ca_file)
    configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(configuration)
