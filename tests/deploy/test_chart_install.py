"""The chart in the real control plane: every rendered object passes a server-side dry
run, and a real `helm install` and `helm upgrade` succeed, with the migration hook Job
created each time. (The pods run on KWOK's fake nodes: nothing executes, but every
object is accepted and admitted as in a real cluster.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from tests.deploy.crds import install_crd, servicemonitor_crd
from tests.deploy.helm import FULL_VALUES, Helm
from tests.deploy.release import (
    create_existing_secrets,
    delete_namespace,
    installed,
    make_namespace,
)

pytestmark = pytest.mark.cluster


@pytest.fixture
def release_namespace(kube_api: client.ApiClient) -> Iterator[str]:
    name = make_namespace(kube_api, "t-sidestage-chart")
    create_existing_secrets(kube_api, name)
    try:
        yield name
    finally:
        delete_namespace(kube_api, name)


@pytest.fixture(scope="module")
def servicemonitor_kind(kube_cluster) -> Iterator[None]:
    """The ServiceMonitor CRD, for this module only (the plane does not ship it)."""
    crd = servicemonitor_crd()
    with kube_cluster.api_client() as api:
        created = install_crd(api, crd)
    yield
    if created:
        with kube_cluster.api_client() as api:
            client.ApiextensionsV1Api(api).delete_custom_resource_definition(
                crd["metadata"]["name"]
            )


@pytest.mark.parametrize("full", [False, True], ids=["defaults", "full"])
def test_every_rendered_object_passes_a_server_side_dry_run(
    helm: Helm, kube_api, release_namespace, kube_namespace, full, servicemonitor_kind
):
    # The full values name namespaces of their own for the Roles; use real ones here.
    objects = helm.template(
        values=[FULL_VALUES] if full else [],
        sets=[f"rbac.namespaces={{{kube_namespace}}}"],
        namespace=release_namespace,
    )
    dynamic = DynamicClient(kube_api)
    checked = []
    for obj in objects:
        resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        namespace = (
            obj["metadata"].get("namespace", release_namespace) if resource.namespaced else None
        )
        # A dry run goes through validation, defaulting and admission, and stores nothing.
        resource.server_side_apply(
            body=obj,
            name=obj["metadata"]["name"],
            namespace=namespace,
            field_manager="sidestage-chart-test",
            dry_run="All",
        )
        checked.append(obj["kind"])
    assert "Deployment" in checked and "Job" in checked and "NetworkPolicy" in checked
    if full:
        assert {"Ingress", "HTTPRoute", "Role", "RoleBinding", "ServiceMonitor"} <= set(checked)
    assert not client.AppsV1Api(kube_api).list_namespaced_deployment(release_namespace).items


def test_helm_install_then_upgrade(helm: Helm, kube_cluster, kube_api, release_namespace):
    apps = client.AppsV1Api(kube_api)
    batch = client.BatchV1Api(kube_api)
    with installed(
        helm,
        kube_cluster,
        release_namespace,
        "ingress.enabled=true",
        "httpRoute.enabled=true",
        "httpRoute.parentRefs[0].name=shared-gateway",
    ) as release:
        status = helm.run(
            "status",
            release.name,
            "--namespace",
            release_namespace,
            "-o",
            "json",
            kubeconfig=kube_cluster.kubeconfig,
        ).stdout
        assert '"status":"deployed"' in status.replace(" ", "")
        names = {d.metadata.name for d in apps.list_namespaced_deployment(release_namespace).items}
        assert names == {"sbx-sidestage-web", "sbx-sidestage-worker", "sbx-sidestage-beat"}
        first_job = batch.read_namespaced_job("sbx-sidestage-migrate", release_namespace)
        assert first_job.metadata.annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        beat = apps.read_namespaced_deployment("sbx-sidestage-beat", release_namespace)
        assert beat.spec.replicas == 1 and beat.spec.strategy.type == "Recreate"
        assert client.CoreV1Api(kube_api).read_namespaced_service_account(
            "sbx-sidestage", release_namespace
        )
        assert client.RbacAuthorizationV1Api(kube_api).read_cluster_role(
            f"sbx-sidestage-{release_namespace}-reconciler"
        )
        assert client.NetworkingV1Api(kube_api).read_namespaced_ingress(
            "sbx-sidestage", release_namespace
        )

        helm.run(
            "upgrade",
            release.name,
            str(FULL_VALUES.parent.parent),
            "--namespace",
            release_namespace,
            "--reuse-values",
            "--set",
            "worker.replicas=3",
            "--set",
            "web.threads=4",
            "--timeout",
            "180s",
            kubeconfig=kube_cluster.kubeconfig,
        )
        worker = apps.read_namespaced_deployment("sbx-sidestage-worker", release_namespace)
        assert worker.spec.replicas == 3
        web = apps.read_namespaced_deployment("sbx-sidestage-web", release_namespace)
        env = {e.name: e.value for e in web.spec.template.spec.containers[0].env}
        assert env["GUNICORN_THREADS"] == "4"
        # The hook ran again: a new Job replaced the first (before-hook-creation).
        second_job = batch.read_namespaced_job("sbx-sidestage-migrate", release_namespace)
        assert second_job.metadata.uid != first_job.metadata.uid
        history = helm.run(
            "history",
            release.name,
            "--namespace",
            release_namespace,
            "-o",
            "json",
            kubeconfig=kube_cluster.kubeconfig,
        ).stdout
        assert history.count('"revision"') == 2
