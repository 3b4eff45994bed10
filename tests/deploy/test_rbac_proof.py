"""The RBAC proof: the reconciler, configured in-cluster with nothing but a token the
API server minted for the chart's ServiceAccount, runs a whole sandbox life cycle; the
same token is refused Secrets, other namespaces and objects Sidestage does not manage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.utils import timezone
from kubernetes import client
from kubernetes.client.rest import ApiException
from prometheus_client import REGISTRY

from routing.names import fork_object_name
from sandboxes import services
from sandboxes.cluster import Cluster, cluster_from_settings, reset_cluster_cache
from sandboxes.cluster_permissions import RECONCILER_PERMISSIONS
from sandboxes.models import Sandbox
from sandboxes.sweep import sweep_orphans
from tests.deploy.helm import Helm
from tests.deploy.release import (
    SERVICE_ACCOUNT,
    create_existing_secrets,
    delete_namespace,
    installed,
    make_namespace,
    mint_token,
    mount_service_account,
    server_and_ca,
    token_client,
)

pytestmark = pytest.mark.cluster


@pytest.fixture(autouse=True)
def _forget_the_in_cluster_client() -> Iterator[None]:
    # The process-wide client is built from settings the test changes; never let it leak.
    yield
    reset_cluster_cache()


@pytest.fixture
def release_namespace(kube_api: client.ApiClient) -> Iterator[str]:
    name = make_namespace(kube_api, "t-sidestage-release")
    create_existing_secrets(kube_api, name)
    try:
        yield name
    finally:
        delete_namespace(kube_api, name)


def _in_cluster(settings, monkeypatch, tmp_path, kube_cluster, kube_api, namespace) -> Cluster:
    """Configure Sidestage exactly as in a pod of the chart: SIDESTAGE_CLUSTER=in-cluster,
    the token and CA where the kubelet mounts them, the Service host and port in env."""
    server, ca = server_and_ca(kube_cluster.kubeconfig)
    token = mint_token(kube_api, namespace, SERVICE_ACCOUNT)
    account = mount_service_account(
        tmp_path / "serviceaccount", token=token, ca=ca, namespace=namespace
    )
    url = urlparse(server)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", url.hostname)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(url.port))
    settings.SIDESTAGE_CLUSTER = "in-cluster"
    settings.SIDESTAGE_SERVICEACCOUNT_DIR = account
    reset_cluster_cache()
    cluster = cluster_from_settings()
    assert cluster is not None
    configuration = cluster.api_client.configuration
    # Nothing but the token: no client certificate from the admin kubeconfig.
    assert configuration.cert_file is None and configuration.key_file is None
    [(scheme, _, sent)] = [v.partition(" ") for v in configuration.api_key.values()]
    assert scheme.lower() == "bearer" and sent == token
    return cluster


def _forbidden(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 403, caught.value.body


def _requests_seen() -> dict[tuple[str, str], float]:
    seen: dict[tuple[str, str], float] = {}
    for family in REGISTRY.collect():
        if family.name == "sidestage_cluster_api_requests":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    key = (sample.labels["verb"], sample.labels["resource"])
                    seen[key] = seen.get(key, 0) + sample.value
    return seen


def _owned_in(api: client.ApiClient, namespace: str, key: str) -> list[str]:
    selector = f"app.kubernetes.io/managed-by=sidestage,sidestage.dev/sandbox={key}"
    found = [
        f"Deployment/{d.metadata.name}"
        for d in client.AppsV1Api(api)
        .list_namespaced_deployment(namespace, label_selector=selector)
        .items
    ]
    found += [
        f"Service/{s.metadata.name}"
        for s in client.CoreV1Api(api)
        .list_namespaced_service(namespace, label_selector=selector)
        .items
    ]
    return sorted(found)


def test_the_service_account_runs_a_life_cycle_and_nothing_else(
    helm: Helm,
    kube_cluster,
    kube_api,
    release_namespace,
    world,
    cluster_world,
    provisioner_dsn,
    settings,
    monkeypatch,
    tmp_path,
):
    with installed(helm, kube_cluster, release_namespace):
        sa_cluster = _in_cluster(
            settings, monkeypatch, tmp_path, kube_cluster, kube_api, release_namespace
        )
        cw = dataclasses.replace(cluster_world, cluster=sa_cluster)
        ns = cw.namespace
        before = _requests_seen()

        # Create on an Istio and a Gateway API service.
        sandbox = services.sandbox_create(
            actor=world.alice,
            tenant=world.alice_tenant,
            name="rbac",
            forks=[{"service": "web"}, {"service": "orders-gw"}],
        )
        assert cw.settle(sandbox).status == "ready"
        key = sandbox.routing_key
        assert _owned_in(kube_api, ns, key) == sorted(
            f"{kind}/{fork_object_name(svc, key)}"
            for kind in ("Deployment", "Service")
            for svc in ("web", "orders-gw")
        )
        custom = client.CustomObjectsApi(kube_api)
        assert custom.get_namespaced_custom_object(
            "networking.istio.io", "v1", ns, "virtualservices", "web-sidestage"
        )

        # Update.
        sandbox = services.sandbox_update(
            actor=world.alice,
            sandbox=sandbox,
            forks=[{"service": "web", "image": "ghcr.io/acme/web:2"}, {"service": "orders-gw"}],
        )
        assert cw.settle(sandbox).status == "ready"
        deployment = client.AppsV1Api(kube_api).read_namespaced_deployment(
            fork_object_name("web", key), ns
        )
        assert deployment.spec.template.spec.containers[0].image == "ghcr.io/acme/web:2"

        # Delete.
        services.sandbox_delete(actor=world.alice, sandbox=sandbox)
        assert cw.settle(sandbox, until="deleted").status == "deleted"
        assert _owned_in(kube_api, ns, key) == []

        # Expire.
        expiring = services.sandbox_create(
            actor=world.alice, tenant=world.alice_tenant, name="ttl", forks=[{"service": "web"}]
        )
        assert cw.settle(expiring).status == "ready"
        Sandbox.objects.filter(pk=expiring.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert services.sandbox_expire_due() == [expiring.pk]
        assert cw.settle(expiring, until="deleted").status == "deleted"
        assert _owned_in(kube_api, ns, expiring.routing_key) == []

        # Orphan sweep: a sandbox row that vanished (as if a message was lost).
        lost = services.sandbox_create(
            actor=world.alice, tenant=world.alice_tenant, name="lost", forks=[{"service": "web"}]
        )
        assert cw.settle(lost).status == "ready"
        Sandbox.objects.filter(pk=lost.pk).delete()
        deleted = sweep_orphans(sa_cluster)
        assert f"Deployment/{ns}/{fork_object_name('web', lost.routing_key)}" in deleted
        assert _owned_in(kube_api, ns, lost.routing_key) == []

        # Every request the life cycle sent is one the permission list declares; every
        # declared verb but `create` (checked by the API server inside an apply that
        # creates, never sent as a verb of its own) was used on a mesh we drove.
        after = _requests_seen()
        used = {k for k, v in after.items() if v > before.get(k, 0) and k[0] != "discovery"}
        declared = {
            (verb, f"{p.resource}.{p.api_group}" if p.api_group else p.resource)
            for p in RECONCILER_PERMISSIONS
            for verb in p.verbs
        }
        assert used <= declared, used - declared
        exercised = {
            d for d in declared if d[0] != "create" and not d[1].endswith("policy.linkerd.io")
        }
        assert exercised <= used, exercised - used

        # The same token is refused everything else.
        ca_file = settings.SIDESTAGE_SERVICEACCOUNT_DIR / "ca.crt"
        token = (settings.SIDESTAGE_SERVICEACCOUNT_DIR / "token").read_text()
        with token_client(kube_cluster.kubeconfig, token, ca_file) as api:
            core = client.CoreV1Api(api)
            _forbidden(lambda: core.list_namespaced_secret(ns))
            _forbidden(lambda: core.read_namespaced_secret("sidestage-database", release_namespace))
            _forbidden(lambda: core.list_secret_for_all_namespaces())
            _forbidden(
                lambda: core.create_namespaced_config_map(
                    ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"), data={})
                )
            )
            _forbidden(
                lambda: core.create_namespaced_pod(
                    ns,
                    client.V1Pod(
                        metadata=client.V1ObjectMeta(name="x"),
                        spec=client.V1PodSpec(containers=[client.V1Container(name="x", image="x")]),
                    ),
                )
            )
            _forbidden(lambda: core.patch_namespace(ns, {"metadata": {"labels": {"x": "y"}}}))
            _forbidden(
                lambda: client.CustomObjectsApi(api).create_namespaced_custom_object(
                    "networking.istio.io",
                    "v1",
                    ns,
                    "destinationrules",
                    {
                        "apiVersion": "networking.istio.io/v1",
                        "kind": "DestinationRule",
                        "metadata": {"name": "x"},
                        "spec": {"host": "web"},
                    },
                )
            )
            _forbidden(
                lambda: client.RbacAuthorizationV1Api(api).create_namespaced_role_binding(
                    ns,
                    client.V1RoleBinding(
                        metadata=client.V1ObjectMeta(name="x"),
                        role_ref=client.V1RoleRef(
                            api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="admin"
                        ),
                        subjects=[
                            client.RbacV1Subject(
                                kind="ServiceAccount", name=SERVICE_ACCOUNT, namespace=ns
                            )
                        ],
                    ),
                )
            )
            # No PUT: apply is the only write.
            web = client.AppsV1Api(api).read_namespaced_deployment("web", ns)
            _forbidden(lambda: client.AppsV1Api(api).replace_namespaced_deployment("web", ns, web))


def test_namespaced_rbac_confines_the_reconciler(
    helm: Helm,
    kube_cluster,
    kube_api,
    release_namespace,
    world,
    cluster_world,
    settings,
    monkeypatch,
    tmp_path,
):
    ns = cluster_world.namespace
    other = make_namespace(kube_api, "t-sidestage-other")
    try:
        with installed(
            helm,
            kube_cluster,
            release_namespace,
            "rbac.scope=namespaced",
            f"rbac.namespaces={{{ns}}}",
        ):
            settings.SIDESTAGE_NAMESPACES = [ns]
            sa_cluster = _in_cluster(
                settings, monkeypatch, tmp_path, kube_cluster, kube_api, release_namespace
            )
            assert sa_cluster.namespaces == (ns,)
            cw = dataclasses.replace(cluster_world, cluster=sa_cluster)
            sandbox = services.sandbox_create(
                actor=world.alice,
                tenant=world.alice_tenant,
                name="confined",
                forks=[{"service": "web"}],
            )
            assert cw.settle(sandbox).status == "ready"
            services.sandbox_delete(actor=world.alice, sandbox=sandbox)
            assert cw.settle(sandbox, until="deleted").status == "deleted"
            # The sweep lists namespace by namespace, where a cluster-wide list is refused.
            sweep_orphans(sa_cluster)

            ca_file = settings.SIDESTAGE_SERVICEACCOUNT_DIR / "ca.crt"
            token = (settings.SIDESTAGE_SERVICEACCOUNT_DIR / "token").read_text()
            with token_client(kube_cluster.kubeconfig, token, ca_file) as api:
                apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
                assert apps.list_namespaced_deployment(ns).items is not None
                _forbidden(lambda: apps.list_deployment_for_all_namespaces())
                _forbidden(lambda: apps.list_namespaced_deployment(other))
                _forbidden(lambda: core.list_namespaced_service(release_namespace))
                _forbidden(
                    lambda: core.create_namespaced_service(
                        other,
                        client.V1Service(
                            metadata=client.V1ObjectMeta(name="x"),
                            spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)]),
                        ),
                    )
                )
                _forbidden(lambda: core.list_namespaced_secret(ns))
    finally:
        delete_namespace(kube_api, other)
