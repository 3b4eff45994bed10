"""The controller-manager's garbage collector follows ownerReferences."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.fixtures.kube import wait_for

pytestmark = pytest.mark.cluster


def _owner_and_child(core: client.CoreV1Api, namespace: str) -> None:
    owner = core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"))
    )
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name="child",
                owner_references=[
                    client.V1OwnerReference(
                        api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
                    )
                ],
            )
        ),
    )


def _gone(core: client.CoreV1Api, namespace: str, name: str) -> bool:
    try:
        core.read_namespaced_config_map(name, namespace)
    except ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def test_child_is_collected_after_its_owner_is_deleted(
    kube_api: client.ApiClient, kube_namespace: str
) -> None:
    core = client.CoreV1Api(kube_api)
    _owner_and_child(core, kube_namespace)

    core.delete_namespaced_config_map("owner", kube_namespace, propagation_policy="Background")

    wait_for(lambda: _gone(core, kube_namespace, "child"), timeout=60, what="child GC'd")
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("child", kube_namespace)
    assert caught.value.status == 404


def test_orphan_propagation_keeps_the_child_and_drops_the_reference(
    kube_api: client.ApiClient, kube_namespace: str
) -> None:
    # The control group: proves the GC acts on the policy, not on a name pattern.
    core = client.CoreV1Api(kube_api)
    _owner_and_child(core, kube_namespace)

    core.delete_namespaced_config_map("owner", kube_namespace, propagation_policy="Orphan")

    wait_for(lambda: _gone(core, kube_namespace, "owner"), timeout=60, what="owner deleted")
    child = wait_for(
        lambda: (
            (c := core.read_namespaced_config_map("child", kube_namespace))
            and not c.metadata.owner_references
            and c
        ),
        timeout=60,
        what="orphaned child without ownerReferences",
    )
    assert child.metadata.name == "child"
