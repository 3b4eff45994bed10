"""The pure fork workload builders: a copy of the baseline pod template with the
fork's overrides, whose pods the baseline's selectors never pick up."""

from __future__ import annotations

import copy

from sandboxes.workloads import (
    ForkWorkloadSpec,
    deployment_readiness,
    render_fork_deployment,
    render_fork_service,
)
from tests.support.schemas import validate_manifest

KEY = "k7f3q9x2m4p8w1z6c5v0"

BASELINE = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "orders", "namespace": "shop", "uid": "abc", "resourceVersion": "7"},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "orders"}},
        "progressDeadlineSeconds": 120,
        "template": {
            "metadata": {
                "labels": {"app": "orders", "version": "v2", "team": "shop"},
                "annotations": {"sidecar.istio.io/inject": "true"},
            },
            "spec": {
                "initContainers": [
                    {
                        "name": "migrate",
                        "image": "ghcr.io/acme/orders:2",
                        "env": [{"name": "DATABASE_URL", "value": "postgres://shared/orders"}],
                    },
                    {"name": "tools", "image": "ghcr.io/acme/tools:1"},
                ],
                "containers": [
                    {
                        "name": "outbox",
                        "image": "ghcr.io/acme/outbox:1",
                        "envFrom": [{"configMapRef": {"name": "orders-config"}}],
                    },
                    {
                        "name": "orders",
                        "image": "ghcr.io/acme/orders:2",
                        "env": [
                            {"name": "DATABASE_URL", "value": "postgres://shared/orders"},
                            {"name": "LOG_LEVEL", "value": "info"},
                        ],
                    },
                    {"name": "metrics", "image": "ghcr.io/acme/metrics:1"},
                ],
            },
        },
    },
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "orders", "namespace": "shop"},
    "spec": {
        "selector": {"app": "orders", "version": "v2"},
        "ports": [{"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP"}],
    },
}


def _spec(**overrides) -> ForkWorkloadSpec:
    fields = {
        "service": "orders",
        "namespace": "shop",
        "deployment": "orders",
        "sandbox_name": "pr-42",
        "routing_key": KEY,
        "image": "ghcr.io/acme/orders:pr-42",
        "env": (("LOG_LEVEL", "debug"), ("FEATURE_X", "on")),
        "replicas": 1,
        "data_env": (("DATABASE_URL", "postgres://shared/orders?options=-csearch_path%3Dsbx"),),
    }
    return ForkWorkloadSpec(**{**fields, **overrides})


def _env(container) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def test_the_fork_is_a_copy_with_the_overrides_on_the_app_container():
    original = copy.deepcopy(BASELINE)
    fork = render_fork_deployment(_spec(), baseline_deployment=BASELINE, baseline_service=SERVICE)
    assert original == BASELINE  # the input is never modified
    assert fork["metadata"]["name"] == f"orders-sbx-{KEY}"
    assert fork["spec"]["replicas"] == 1
    assert fork["spec"]["progressDeadlineSeconds"] == 120
    _outbox, app, metrics = fork["spec"]["template"]["spec"]["containers"]
    assert app["image"] == "ghcr.io/acme/orders:pr-42"
    assert metrics["image"] == "ghcr.io/acme/metrics:1"  # sidecars keep their images
    assert _env(app) == {
        "DATABASE_URL": "postgres://shared/orders?options=-csearch_path%3Dsbx",
        "LOG_LEVEL": "debug",
        "FEATURE_X": "on",
        "SIDESTAGE_SANDBOX": "pr-42",
        "SIDESTAGE_ROUTING_KEY": KEY,
    }
    assert "env" not in metrics  # it never read the resource
    annotations = fork["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"sidecar.istio.io/inject": "true"}


def test_data_env_reaches_every_container_that_may_read_it():
    fork = render_fork_deployment(_spec(), baseline_deployment=BASELINE, baseline_service=SERVICE)
    pod = fork["spec"]["template"]["spec"]
    migrate, tools = pod["initContainers"]
    outbox = pod["containers"][0]
    rewritten = "postgres://shared/orders?options=-csearch_path%3Dsbx"
    assert _env(migrate)["DATABASE_URL"] == rewritten  # an init container that reads it
    assert _env(outbox)["DATABASE_URL"] == rewritten  # envFrom could hold the shared URL
    assert "env" not in tools


def test_the_baselines_selectors_never_pick_up_fork_pods():
    fork = render_fork_deployment(_spec(), baseline_deployment=BASELINE, baseline_service=SERVICE)
    labels = fork["spec"]["template"]["metadata"]["labels"]
    for selector in (SERVICE["spec"]["selector"], BASELINE["spec"]["selector"]["matchLabels"]):
        assert not all(labels.get(k) == v for k, v in selector.items())
    assert labels["team"] == "shop"  # labels nobody selects on are kept
    assert labels["sidestage.dev/sandbox"] == KEY
    assert fork["spec"]["selector"]["matchLabels"] == {
        "sidestage.dev/sandbox": KEY,
        "sidestage.dev/service": "orders",
    }
    assert all(labels[k] == v for k, v in fork["spec"]["selector"]["matchLabels"].items())


def test_the_fork_service_selects_only_the_fork_with_the_baselines_ports():
    service = render_fork_service(_spec(), baseline_service=SERVICE, catalog_ports=[9999])
    assert service["metadata"]["name"] == f"orders-sbx-{KEY}"
    assert service["spec"]["selector"] == {
        "sidestage.dev/sandbox": KEY,
        "sidestage.dev/service": "orders",
    }
    assert service["spec"]["ports"] == SERVICE["spec"]["ports"]
    fallback = render_fork_service(_spec(), baseline_service=None, catalog_ports=[9999])
    assert fallback["spec"]["ports"] == [
        {"name": "p9999", "port": 9999, "targetPort": 9999, "protocol": "TCP"}
    ]


def test_both_objects_validate_against_the_kubernetes_schemas():
    validate_manifest(
        render_fork_deployment(_spec(), baseline_deployment=BASELINE, baseline_service=SERVICE)
    )
    validate_manifest(render_fork_service(_spec(), baseline_service=SERVICE, catalog_ports=[80]))


def test_long_service_names_are_shortened_to_a_valid_name():
    spec = _spec(service="a-very-long-catalog-service-name-for-orders-v2")
    fork = render_fork_deployment(spec, baseline_deployment=BASELINE, baseline_service=SERVICE)
    assert len(fork["metadata"]["name"]) <= 63
    validate_manifest(fork)


def test_readiness_follows_the_deployment_status():
    assert deployment_readiness(None, 1)[0] is False
    live = {
        "metadata": {"generation": 2},
        "status": {"observedGeneration": 1, "availableReplicas": 1, "updatedReplicas": 1},
    }
    assert deployment_readiness(live, 1)[1] == "The rollout has not been observed yet."
    live["status"]["observedGeneration"] = 2
    ready, message, counts = deployment_readiness(live, 1)
    assert (ready, message, counts["availableReplicas"]) == (True, "1/1 replicas available.", 1)
    live["status"]["conditions"] = [
        {"type": "Progressing", "reason": "ProgressDeadlineExceeded", "message": "too slow"}
    ]
    assert deployment_readiness(live, 1)[1] == "ProgressDeadlineExceeded: too slow"
