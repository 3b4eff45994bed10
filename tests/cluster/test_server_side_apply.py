"""Server-side apply is the real thing: managedFields per manager, 409 on conflict,
and ``force`` moves ownership."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

pytestmark = pytest.mark.cluster


def _config_map(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def _managers(obj: Any) -> dict[str, dict[str, Any]]:
    return {entry["manager"]: entry for entry in obj.to_dict()["metadata"]["managedFields"]}


def test_apply_records_the_field_manager(kube_api: client.ApiClient, kube_namespace: str) -> None:
    config_maps = DynamicClient(kube_api).resources.get(api_version="v1", kind="ConfigMap")
    body = _config_map("routing", {"routing-key": "alice"})

    applied = config_maps.server_side_apply(
        body=body, namespace=kube_namespace, field_manager="sidestage"
    )

    managers = _managers(applied)
    assert set(managers) == {"sidestage"}
    assert managers["sidestage"]["operation"] == "Apply"
    assert "f:routing-key" in managers["sidestage"]["fieldsV1"]["f:data"]
    # Re-applying the same intent is a no-op: the reconciler relies on that.
    again = config_maps.server_side_apply(
        body=body, namespace=kube_namespace, field_manager="sidestage"
    )
    assert again.metadata.resourceVersion == applied.metadata.resourceVersion


def test_conflicting_apply_by_another_manager_gets_409_unless_forced(
    kube_api: client.ApiClient, kube_namespace: str
) -> None:
    config_maps = DynamicClient(kube_api).resources.get(api_version="v1", kind="ConfigMap")
    config_maps.server_side_apply(
        body=_config_map("routing", {"routing-key": "alice"}),
        namespace=kube_namespace,
        field_manager="sidestage",
    )
    intruder = _config_map("routing", {"routing-key": "mallory"})

    with pytest.raises(ApiException) as caught:
        config_maps.server_side_apply(
            body=intruder, namespace=kube_namespace, field_manager="kubectl-edit"
        )
    assert caught.value.status == 409
    status = json.loads(caught.value.body)
    assert status["reason"] == "Conflict"
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "sidestage"',
            "field": ".data.routing-key",
        }
    ]
    unchanged = config_maps.get(name="routing", namespace=kube_namespace)
    assert unchanged.data["routing-key"] == "alice"

    forced = config_maps.server_side_apply(
        body=intruder, namespace=kube_namespace, field_manager="kubectl-edit", force_conflicts=True
    )
    assert forced.data["routing-key"] == "mallory"
    managers = _managers(forced)
    assert "f:routing-key" in managers["kubectl-edit"]["fieldsV1"]["f:data"]
    # The forced apply took the field away from sidestage, which now owns nothing.
    assert "sidestage" not in managers


def test_apply_works_on_istio_custom_resources(
    kube_api: client.ApiClient, kube_namespace: str
) -> None:
    rules = DynamicClient(kube_api).resources.get(
        api_version="networking.istio.io/v1", kind="DestinationRule"
    )
    body = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "orders"},
        "spec": {
            "host": "orders",
            "subsets": [{"name": "sbx-alice", "labels": {"sidestage.dev/sandbox": "alice"}}],
        },
    }
    applied = rules.server_side_apply(
        body=body, namespace=kube_namespace, field_manager="sidestage"
    )
    assert applied.spec.subsets[0].name == "sbx-alice"
    assert _managers(applied)["sidestage"]["operation"] == "Apply"
