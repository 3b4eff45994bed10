"""The prometheus-operator ServiceMonitor CRD, from its published Go module (the same
way scripts/fetch-crds gets the Istio and Gateway API CRDs): the test control plane
does not install it, and the chart's optional ServiceMonitor is checked against it."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
CRD_FILE = "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"


def servicemonitor_crd() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            ["go", "mod", "download", "-json", PROMETHEUS_OPERATOR],
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if result.returncode != 0:
        pytest.fail(
            f"go mod download {PROMETHEUS_OPERATOR} failed:\n{result.stderr[-2000:]}",
            pytrace=False,
        )
    module_dir = Path(json.loads(result.stdout)["Dir"])
    return yaml.safe_load((module_dir / CRD_FILE).read_text())


def install_crd(api: client.ApiClient, crd: dict[str, Any]) -> bool:
    """Create the CRD unless it exists and wait until it is served; True if created."""
    extensions = client.ApiextensionsV1Api(api)
    name = crd["metadata"]["name"]
    created = False
    try:
        extensions.create_custom_resource_definition(crd)
        created = True
    except ApiException as error:
        if error.status != 409:
            raise
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = extensions.read_custom_resource_definition(name).status
        if any(c.type == "Established" and c.status == "True" for c in status.conditions or []):
            return created
        time.sleep(0.2)
    raise AssertionError(f"CRD {name} never became Established")
