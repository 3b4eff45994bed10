"""Pure builders for a fork's workload: a Deployment copied from the live baseline's pod
template with the fork's overrides, and a Service of the same name. No I/O.

The fork's pods must never be selected by the baseline's Service or Deployment:
otherwise kube-proxy and the mesh's catch-all would send strangers' traffic to a
half-finished fork. So every label the baseline's selectors use gets a fork-specific
value, and the fork's own selectors use only Sidestage's labels.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from routing.names import SANDBOX_LABEL, SERVICE_LABEL, fork_object_name, managed_labels

SANDBOX_NAME_ANNOTATION = "sidestage.dev/sandbox-name"
BASELINE_ANNOTATION = "sidestage.dev/baseline"
GENERATION_ANNOTATION = "sidestage.dev/generation"
SANDBOX_ENV = "SIDESTAGE_SANDBOX"
ROUTING_KEY_ENV = "SIDESTAGE_ROUTING_KEY"
# The object name for render-only mode, when there is no live baseline to copy.
UNKNOWN_IMAGE = "<the baseline image>"


@dataclass(frozen=True)
class ForkWorkloadSpec:
    """Everything the builders need about one fork, as plain values."""

    service: str  # catalog name
    namespace: str
    deployment: str  # the baseline Deployment's name
    sandbox_name: str
    routing_key: str
    image: str  # "" keeps the baseline's image
    env: tuple[tuple[str, str], ...]
    replicas: int
    data_env: tuple[tuple[str, str], ...] = ()
    generation: int = 1

    @property
    def name(self) -> str:
        return fork_object_name(self.service, self.routing_key)

    @property
    def selector(self) -> dict[str, str]:
        return {SANDBOX_LABEL: self.routing_key, SERVICE_LABEL: self.service}


def _fork_labels(
    baseline_labels: dict[str, str], selected_keys: set[str], fork_name: str, spec: ForkWorkloadSpec
) -> dict[str, str]:
    labels = {k: (fork_name if k in selected_keys else v) for k, v in baseline_labels.items()}
    labels.update(managed_labels(sandbox_key=spec.routing_key, service=spec.service))
    return labels


def _target_container(containers: list[dict[str, Any]], spec: ForkWorkloadSpec) -> int:
    """The container that gets the image and env overrides: the one named like the
    service or Deployment, else the first (sidecars are listed after the app)."""
    for wanted in (spec.service, spec.deployment):
        for i, container in enumerate(containers):
            if container.get("name") == wanted:
                return i
    return 0


def _set_env(env: list[dict[str, Any]], name: str, value: str) -> list[dict[str, Any]]:
    out = [e for e in env if e.get("name") != name]
    position = next((i for i, e in enumerate(env) if e.get("name") == name), len(out))
    out.insert(position, {"name": name, "value": value})
    return out


def _apply_data_env(
    container: dict[str, Any], data_env: tuple[tuple[str, str], ...], *, always: bool
) -> None:
    env = list(container.get("env") or [])
    reads_env_from = bool(container.get("envFrom"))
    for env_name, value in data_env:
        if always or reads_env_from or any(e.get("name") == env_name for e in env):
            env = _set_env(env, env_name, value)
    if env:
        container["env"] = env


def render_fork_deployment(
    spec: ForkWorkloadSpec,
    *,
    baseline_deployment: dict[str, Any],
    baseline_service: dict[str, Any] | None,
) -> dict[str, Any]:
    """The fork Deployment `<service>-sbx-<key>` in the baseline's namespace."""
    name = spec.name
    base_spec = baseline_deployment.get("spec") or {}
    template = copy.deepcopy(base_spec.get("template") or {})
    template_meta = template.setdefault("metadata", {})
    selected = set(((baseline_service or {}).get("spec") or {}).get("selector") or {})
    selected |= set(((base_spec.get("selector") or {}).get("matchLabels")) or {})
    template_meta["labels"] = _fork_labels(template_meta.get("labels") or {}, selected, name, spec)
    for key in ("creationTimestamp", "name", "namespace", "uid", "resourceVersion"):
        template_meta.pop(key, None)
    pod_spec = template.setdefault("spec", {})
    containers = pod_spec.setdefault("containers", [])
    if not containers:
        containers.append({"name": spec.deployment, "image": UNKNOWN_IMAGE})
    target = _target_container(containers, spec)
    data_env = dict(spec.data_env)
    # Data isolation applies to every container that may read the resource, init
    # containers (migrations, native sidecars) included, so that none keeps talking to
    # the shared data. A container with envFrom may get the variable from a ConfigMap or
    # Secret; an explicit env entry takes precedence over envFrom.
    for init in pod_spec.get("initContainers") or []:
        _apply_data_env(init, spec.data_env, always=False)
    for i, container in enumerate(containers):
        _apply_data_env(container, spec.data_env, always=i == target)
        env = list(container.get("env") or [])
        if i == target:
            if spec.image:
                container["image"] = spec.image
            for env_name, value in spec.env:
                if env_name not in data_env:
                    env = _set_env(env, env_name, value)
            env = _set_env(env, SANDBOX_ENV, spec.sandbox_name)
            env = _set_env(env, ROUTING_KEY_ENV, spec.routing_key)
        if env:
            container["env"] = env
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": managed_labels(sandbox_key=spec.routing_key, service=spec.service),
            "annotations": {
                SANDBOX_NAME_ANNOTATION: spec.sandbox_name,
                BASELINE_ANNOTATION: f"{spec.namespace}/{spec.deployment}",
                GENERATION_ANNOTATION: str(spec.generation),
            },
        },
        "spec": {
            "replicas": spec.replicas,
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": spec.selector},
            "template": template,
        },
    }
    for key in ("minReadySeconds", "progressDeadlineSeconds", "strategy"):
        if key in base_spec:
            deployment["spec"][key] = copy.deepcopy(base_spec[key])
    return deployment


def render_fork_service(
    spec: ForkWorkloadSpec,
    *,
    baseline_service: dict[str, Any] | None,
    catalog_ports: list[int],
) -> dict[str, Any]:
    """The fork's Service: the baseline's ports, selecting only the fork's pods."""
    ports: list[dict[str, Any]] = []
    live_ports = (((baseline_service or {}).get("spec") or {}).get("ports")) or []
    for port in live_ports:
        kept = {
            k: port[k]
            for k in ("name", "port", "targetPort", "protocol", "appProtocol")
            if port.get(k) is not None
        }
        ports.append(kept)
    if not ports:
        ports = [
            {"name": f"p{p}", "port": p, "targetPort": p, "protocol": "TCP"} for p in catalog_ports
        ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": spec.name,
            "namespace": spec.namespace,
            "labels": managed_labels(sandbox_key=spec.routing_key, service=spec.service),
            "annotations": {SANDBOX_NAME_ANNOTATION: spec.sandbox_name},
        },
        "spec": {"type": "ClusterIP", "selector": spec.selector, "ports": ports},
    }


def deployment_readiness(live: dict[str, Any] | None, replicas: int) -> tuple[bool, str, dict]:
    """Is the live fork Deployment rolled out and available? With a short message and
    the replica counts the UI shows."""
    if live is None:
        return False, "The Deployment does not exist yet.", {"replicas": replicas}
    status = live.get("status") or {}
    counts = {
        "replicas": replicas,
        "readyReplicas": status.get("readyReplicas", 0) or 0,
        "availableReplicas": status.get("availableReplicas", 0) or 0,
        "updatedReplicas": status.get("updatedReplicas", 0) or 0,
    }
    generation = (live.get("metadata") or {}).get("generation", 0)
    if (status.get("observedGeneration") or 0) < generation:
        return False, "The rollout has not been observed yet.", counts
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return False, f"ProgressDeadlineExceeded: {cond.get('message', '')}", counts
    if counts["updatedReplicas"] < replicas or counts["availableReplicas"] < replicas:
        return (
            False,
            f"{counts['availableReplicas']}/{replicas} replicas available.",
            counts,
        )
    return True, f"{counts['availableReplicas']}/{replicas} replicas available.", counts
