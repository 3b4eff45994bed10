"""A typical baseline workload (an app container plus a metrics sidecar, and its
Service), for the benchmark and the reconciler tests (`tests/reconcile/conftest.py`)."""

from __future__ import annotations


def baseline_objects(name: str, namespace: str, *, env: list[dict] | None = None) -> list[dict]:
    """A baseline Deployment (the app container plus a metrics sidecar) and its Service."""
    labels = {"app": name, "tier": "backend"}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": name,
                                "image": f"ghcr.io/acme/{name}:1.0.0",
                                "ports": [{"containerPort": 8080}],
                                "env": env or [{"name": "LOG_LEVEL", "value": "info"}],
                            },
                            {"name": "metrics-sidecar", "image": "ghcr.io/acme/metrics:2"},
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "selector": {"app": name},
                "ports": [{"name": "http", "port": 8080, "targetPort": 8080}],
            },
        },
    ]
