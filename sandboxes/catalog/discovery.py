"""Discovery of forkable services: read Deployments, Services and Namespaces from the
cluster (`read_snapshot`, the only I/O here), and turn them into catalog candidates
(`discover`, pure).

A Deployment is forkable when it carries `sidestage.dev/forkable: "true"`. Optional
annotations on it:

- `sidestage.dev/name`: the catalog name (default: the Deployment's name);
- `sidestage.dev/description`, `sidestage.dev/entry-path`;
- `sidestage.dev/service`: the Service in front of it (default: the one Service whose
  selector picks the pod template, preferring one named like the Deployment);
- `sidestage.dev/data.<ENV_VAR>: postgres|kafka-topic|queue|redis`: a data resource;
- `sidestage.dev/mesh`: the mesh, when nothing in the cluster says (see
  `mesh_detection`).

Discovery reads only what `DISCOVERY_PERMISSIONS` grants, one namespace at a time,
and only in the namespaces of `SIDESTAGE_DISCOVERY_NAMESPACES`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandboxes.catalog.mesh_detection import (
    ClusterCapabilities,
    MeshDetection,
    detect_mesh,
)
from sandboxes.cluster import Cluster, ClusterError
from sandboxes.validation import ENV_NAME_RE, dns1123_label_errors

# --- RBAC: what discovery needs, and nothing more ------------------------------------
# (api group, resource, verbs). `sandboxes/cluster_permissions.py` merges these into
# the Helm chart's generated rules (namespaces, being cluster-scoped, go into a
# ClusterRole limited by resourceNames in the chart's namespaced mode).
# `tests/catalog/test_discovery_cluster.py` runs discovery with a ServiceAccount
# token bound to exactly this list. Gateway API and Istio support are
# read from API discovery, which every authenticated client may read
# (system:discovery), so they need no rule.
DISCOVERY_PERMISSIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # Discovery lists periodically; it opens no watch, so it is granted none.
    ("apps", "deployments", ("list",)),
    ("", "services", ("list",)),
    ("", "namespaces", ("get",)),
)

FORKABLE_ANNOTATION = "sidestage.dev/forkable"
NAME_ANNOTATION = "sidestage.dev/name"
DESCRIPTION_ANNOTATION = "sidestage.dev/description"
ENTRY_PATH_ANNOTATION = "sidestage.dev/entry-path"
SERVICE_ANNOTATION = "sidestage.dev/service"
DATA_ANNOTATION_PREFIX = "sidestage.dev/data."
DATA_KINDS = ("postgres", "kafka-topic", "queue", "redis")
BACKSTAGE_ID_LABEL = "backstage.io/kubernetes-id"
CATALOG_NAME_MAX = 40
ENTRY_PATH_RE = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,199}\Z", re.ASCII)


@dataclass(frozen=True)
class DataResourceSpec:
    name: str
    kind: str
    env_var: str


@dataclass(frozen=True)
class DiscoveredWorkload:
    """One Deployment as a catalog candidate. `forkable` is False for Deployments that
    are read (a Backstage component may name them) but not annotated."""

    namespace: str
    deployment: str
    forkable: bool
    name: str = ""
    service: str = ""
    ports: tuple[int, ...] = ()
    description: str = ""
    entry_path: str = ""
    data_resources: tuple[DataResourceSpec, ...] = ()
    detection: MeshDetection | None = None
    backstage_id: str = ""
    problems: tuple[str, ...] = ()

    @property
    def mesh(self) -> str | None:
        return self.detection.mesh if self.detection else None

    @property
    def usable(self) -> bool:
        return not self.problems and self.mesh is not None

    @property
    def observed(self) -> dict[str, Any]:
        """What drift is measured against."""
        return {"service": self.service, "ports": list(self.ports)}


@dataclass
class ClusterSnapshot:
    """Everything discovery read, per namespace. A namespace it could not read is in
    `unreadable` with the reason, and its entries are left alone (never retired)."""

    namespaces: dict[str, dict] = field(default_factory=dict)
    deployments: dict[str, list[dict]] = field(default_factory=dict)
    services: dict[str, list[dict]] = field(default_factory=dict)
    capabilities: ClusterCapabilities = field(default_factory=ClusterCapabilities)
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def read_namespaces(self) -> list[str]:
        return sorted(self.namespaces)


def _serves(cluster: Cluster, api_version: str, kind: str) -> bool:
    try:
        cluster.resource(api_version, kind)
    except ClusterError as exc:
        if exc.reason == "CRDMissing":
            return False
        raise
    return True


def read_capabilities(cluster: Cluster) -> ClusterCapabilities:
    return ClusterCapabilities(
        gateway_api=_serves(cluster, "gateway.networking.k8s.io/v1", "HTTPRoute"),
        istio_crds=_serves(cluster, "networking.istio.io/v1", "VirtualService")
        or _serves(cluster, "networking.istio.io/v1beta1", "VirtualService"),
    )


def read_snapshot(cluster: Cluster, namespaces: list[str]) -> ClusterSnapshot:
    """Read the namespaces, Deployments and Services discovery needs. Transient
    errors propagate (the task retries); a Forbidden or missing namespace is recorded
    and skipped."""
    snapshot = ClusterSnapshot(capabilities=read_capabilities(cluster))
    for ns in sorted(set(namespaces)):
        try:
            namespace = cluster.get("v1", "Namespace", ns, None)
            if namespace is None:
                snapshot.unreadable[ns] = "The namespace does not exist."
                continue
            deployments = cluster.list("apps/v1", "Deployment", label_selector="", namespace=ns)
            services = cluster.list("v1", "Service", label_selector="", namespace=ns)
        except ClusterError as exc:
            if exc.transient:
                raise
            snapshot.unreadable[ns] = f"{exc.reason}: {exc.message}"
            continue
        snapshot.namespaces[ns] = namespace
        snapshot.deployments[ns] = deployments
        snapshot.services[ns] = services
    return snapshot


def service_ports(service: Mapping[str, Any]) -> tuple[int, ...]:
    ports = ((service.get("spec") or {}).get("ports")) or []
    return tuple(sorted({int(p["port"]) for p in ports if isinstance(p.get("port"), int)}))


def _selects(service: Mapping[str, Any], pod_labels: Mapping[str, str]) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    return bool(selector) and all(pod_labels.get(k) == v for k, v in selector.items())


def _pick_service(
    deployment_name: str,
    pod_labels: Mapping[str, str],
    services: list[dict],
    wanted: str | None,
) -> tuple[dict | None, str]:
    by_name = {s["metadata"]["name"]: s for s in services}
    if wanted:
        if wanted not in by_name:
            return None, f"{SERVICE_ANNOTATION}={wanted}: no such Service in the namespace."
        return by_name[wanted], ""
    matching = [s for s in services if _selects(s, pod_labels)]
    if not matching:
        return None, "No Service selects this Deployment's pods."
    if len(matching) == 1:
        return matching[0], ""
    same = [s for s in matching if s["metadata"]["name"] == deployment_name]
    if same:
        return same[0], ""
    names = ", ".join(sorted(s["metadata"]["name"] for s in matching))
    return None, f"Several Services select its pods ({names}); set {SERVICE_ANNOTATION}."


def _data_resources(
    annotations: Mapping[str, str],
) -> tuple[tuple[DataResourceSpec, ...], list[str]]:
    resources: list[DataResourceSpec] = []
    problems: list[str] = []
    for key in sorted(annotations):
        if not key.startswith(DATA_ANNOTATION_PREFIX):
            continue
        env_var, kind = key[len(DATA_ANNOTATION_PREFIX) :], annotations[key]
        if not ENV_NAME_RE.match(env_var) or len(env_var) > 128:
            problems.append(f"{key}: {env_var!r} is not an env var name.")
            continue
        if kind not in DATA_KINDS:
            problems.append(f"{key}={kind!r}: must be one of {', '.join(DATA_KINDS)}.")
            continue
        name = env_var.lower().replace("_", "-").strip("-")[:63] or "data"
        resources.append(DataResourceSpec(name=name, kind=kind, env_var=env_var))
    return tuple(resources), problems


def describe_workload(
    deployment: Mapping[str, Any],
    namespace: Mapping[str, Any],
    services: list[dict],
    capabilities: ClusterCapabilities,
) -> DiscoveredWorkload:
    """One Deployment as a catalog candidate, with every problem found. Pure."""
    meta = deployment.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    template_meta = ((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}
    pod_labels = template_meta.get("labels") or {}
    ns, dep_name = meta["namespace"], meta["name"]
    forkable = str(annotations.get(FORKABLE_ANNOTATION, "")).lower() == "true"
    problems: list[str] = []

    name = annotations.get(NAME_ANNOTATION) or dep_name
    for message in dns1123_label_errors(name, max_length=CATALOG_NAME_MAX):
        problems.append(f"Catalog name {name!r}: {message}")
    description = str(annotations.get(DESCRIPTION_ANNOTATION, ""))[:2000]
    entry_path = str(annotations.get(ENTRY_PATH_ANNOTATION, ""))
    if entry_path and not ENTRY_PATH_RE.match(entry_path):
        problems.append(f"{ENTRY_PATH_ANNOTATION}={entry_path!r}: must be a URL path like /orders.")
        entry_path = ""
    service, problem = _pick_service(
        dep_name, pod_labels, services, annotations.get(SERVICE_ANNOTATION)
    )
    if problem:
        problems.append(problem)
    ports = service_ports(service) if service else ()
    if service and not ports:
        problems.append(f"Service {service['metadata']['name']} has no ports.")
    data, data_problems = _data_resources(annotations)
    problems.extend(data_problems)
    detection = detect_mesh(namespace=namespace, deployment=deployment, capabilities=capabilities)
    if detection.problem:
        problems.append(detection.problem)
    return DiscoveredWorkload(
        namespace=ns,
        deployment=dep_name,
        forkable=forkable,
        name=name,
        service=service["metadata"]["name"] if service else "",
        ports=ports,
        description=description,
        entry_path=entry_path,
        data_resources=data,
        detection=detection,
        backstage_id=str(labels.get(BACKSTAGE_ID_LABEL, "")),
        problems=tuple(problems),
    )


def discover(snapshot: ClusterSnapshot) -> list[DiscoveredWorkload]:
    """Every Deployment in the snapshot as a candidate (forkable or not). Pure."""
    found: list[DiscoveredWorkload] = []
    for ns in snapshot.read_namespaces:
        for deployment in sorted(snapshot.deployments[ns], key=lambda d: d["metadata"]["name"]):
            found.append(
                describe_workload(
                    deployment,
                    snapshot.namespaces[ns],
                    snapshot.services[ns],
                    snapshot.capabilities,
                )
            )
    return found
