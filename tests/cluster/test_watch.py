"""A watch streams ADDED, MODIFIED and DELETED events, in order."""

from __future__ import annotations

import pytest
from kubernetes import client, watch

pytestmark = pytest.mark.cluster


def test_watch_streams_added_modified_deleted(
    kube_api: client.ApiClient, kube_namespace: str
) -> None:
    core = client.CoreV1Api(kube_api)
    # Watching from the list's resourceVersion delivers exactly what happened after it,
    # so the assertion does not depend on when the stream connects.
    since = core.list_namespaced_config_map(kube_namespace).metadata.resource_version
    core.create_namespaced_config_map(
        kube_namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"), data={"v": "1"}),
    )
    core.patch_namespaced_config_map("watched", kube_namespace, {"data": {"v": "2"}})
    core.delete_namespaced_config_map("watched", kube_namespace)

    seen: list[tuple[str, str, str]] = []
    stream = watch.Watch()
    for event in stream.stream(
        core.list_namespaced_config_map,
        kube_namespace,
        field_selector="metadata.name=watched",
        resource_version=since,
        timeout_seconds=30,
    ):
        obj = event["object"]
        seen.append((event["type"], (obj.data or {}).get("v", ""), obj.metadata.resource_version))
        if event["type"] == "DELETED":
            stream.stop()

    assert [(kind, value) for kind, value, _ in seen] == [
        ("ADDED", "1"),
        ("MODIFIED", "2"),
        ("DELETED", "2"),
    ]
    versions = [int(rv) for _, _, rv in seen]
    assert versions == sorted(versions), "events arrive in resourceVersion order"


def test_watch_delivers_changes_made_while_it_is_open(
    kube_api: client.ApiClient, kube_namespace: str
) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_config_map(
        kube_namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="live"), data={"v": "1"}),
    )
    seen: list[str] = []
    stream = watch.Watch()
    # Without a resourceVersion the watch opens with a synthetic ADDED for what exists;
    # each later change is made only after the previous event arrived, so MODIFIED and
    # DELETED can only have come down the open stream.
    for event in stream.stream(
        core.list_namespaced_config_map,
        kube_namespace,
        field_selector="metadata.name=live",
        timeout_seconds=30,
    ):
        seen.append(event["type"])
        if event["type"] == "ADDED":
            core.patch_namespaced_config_map("live", kube_namespace, {"data": {"v": "2"}})
        elif event["type"] == "MODIFIED":
            core.delete_namespaced_config_map("live", kube_namespace)
        else:
            stream.stop()
    assert seen == ["ADDED", "MODIFIED", "DELETED"]
