"""The Istio and Gateway API CRDs are installed and the apiserver enforces their schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.cluster


def _virtual_service(name: str, match: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name},
        "spec": {
            "hosts": ["orders"],
            "http": [
                {
                    "name": "sbx-alice",
                    "match": match,
                    "route": [{"destination": {"host": "orders", "subset": "sbx-alice"}}],
                },
                {"name": "baseline", "route": [{"destination": {"host": "orders"}}]},
            ],
        },
    }


def _create(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    group, version = body["apiVersion"].split("/")
    plural = {"VirtualService": "virtualservices", "HTTPRoute": "httproutes"}[body["kind"]]
    return client.CustomObjectsApi(api).create_namespaced_custom_object(
        group, version, namespace, plural, body
    )


def test_valid_virtual_service_is_accepted(kube_api: client.ApiClient, kube_namespace: str) -> None:
    match = [{"headers": {"x-sidestage-tenant": {"exact": "alice"}}}]
    created = _create(kube_api, kube_namespace, _virtual_service("orders", match))
    assert created["metadata"]["uid"]
    assert created["spec"]["http"][0]["match"] == match


def test_virtual_service_with_wrongly_typed_match_is_rejected(
    kube_api: client.ApiClient, kube_namespace: str
) -> None:
    # `uri` is a StringMatch object in the schema; a bare number must not get through.
    body = _virtual_service("orders", [{"uri": 42}])
    with pytest.raises(ApiException) as caught:
        _create(kube_api, kube_namespace, body)
    assert caught.value.status == 422
    status = json.loads(caught.value.body)
    assert status["reason"] == "Invalid"
    causes = {cause["field"]: cause for cause in status["details"]["causes"]}
    assert causes["spec.http[0].match[0].uri"]["reason"] == "FieldValueTypeInvalid"
    assert "must be of type object" in causes["spec.http[0].match[0].uri"]["message"]


def test_http_route_with_unknown_path_match_type_is_rejected(
    kube_api: client.ApiClient, kube_namespace: str
) -> None:
    body = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "orders-sbx-alice"},
        "spec": {
            "parentRefs": [{"group": "", "kind": "Service", "name": "orders", "port": 8080}],
            "rules": [
                {
                    "matches": [{"path": {"type": "Glob", "value": "/api/*"}}],
                    "backendRefs": [{"name": "orders-sbx-alice", "port": 8080}],
                }
            ],
        },
    }
    with pytest.raises(ApiException) as caught:
        _create(kube_api, kube_namespace, body)
    assert caught.value.status == 422
    status = json.loads(caught.value.body)
    assert status["reason"] == "Invalid"
    causes = {cause["field"]: cause for cause in status["details"]["causes"]}
    assert causes["spec.rules[0].matches[0].path.type"]["reason"] == "FieldValueNotSupported"
    assert 'Unsupported value: "Glob"' in causes["spec.rules[0].matches[0].path.type"]["message"]
