"""The validator itself: it must reject what the API server would reject."""

import pytest

from routing.names import fork_object_name, managed_labels
from tests.support.schemas import ManifestInvalid, validate_manifest

KEY = "abc0000000000000000x"


def fork_deployment() -> dict:
    name = fork_object_name("orders", KEY)
    pod_labels = {"app": "orders-fork", "sidestage.dev/sandbox": KEY}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "labels": managed_labels(sandbox_key=KEY)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": pod_labels},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "containers": [
                        {
                            "name": "orders",
                            "image": "registry.example/orders:pr-12",
                            "env": [{"name": "SIDESTAGE_ROUTING_KEY", "value": KEY}],
                            "ports": [{"containerPort": 8080, "name": "http"}],
                        }
                    ]
                },
            },
        },
    }


def fork_service() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": fork_object_name("orders", KEY),
            "namespace": "shop",
            "labels": managed_labels(sandbox_key=KEY),
        },
        "spec": {
            "selector": {"sidestage.dev/sandbox": KEY},
            "ports": [{"name": "http", "port": 8080, "targetPort": 8080}],
        },
    }


def test_core_kinds_validate_with_kubernetes_validate():
    validate_manifest(fork_deployment())
    validate_manifest(fork_service())


def test_core_kinds_reject_wrong_types_and_unknown_fields():
    bad = fork_service()
    bad["spec"]["ports"][0]["port"] = "eighty"
    with pytest.raises(ManifestInvalid, match="Service"):
        validate_manifest(bad)
    unknown = fork_deployment()
    unknown["spec"]["replica"] = 1
    with pytest.raises(ManifestInvalid):
        validate_manifest(unknown)


def test_destination_rule_schema_is_available(crds):
    validate_manifest(
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": "orders", "namespace": "shop"},
            "spec": {
                "host": "orders.shop.svc.cluster.local",
                "subsets": [{"name": "sbx", "labels": {"sidestage.dev/sandbox": KEY}}],
            },
        }
    )


def test_crd_validation_rejects_unknown_fields_and_wrong_types(crds):
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "x", "namespace": "shop"},
        "spec": {
            "hosts": ["x"],
            "http": [{"route": [{"destination": {"host": "x"}}], "matchh": []}],
        },
    }
    with pytest.raises(ManifestInvalid, match=r"http\.0.*matchh"):
        validate_manifest(vs)
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "x", "namespace": "shop"},
        "spec": {"rules": [{"matches": [{"headers": [{"name": "bad header", "value": "v"}]}]}]},
    }
    with pytest.raises(ManifestInvalid, match="does not match"):
        validate_manifest(route)


def test_unknown_kind_is_an_error(crds):
    with pytest.raises(ManifestInvalid, match="no fetched CRD schema"):
        validate_manifest(
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
        )
