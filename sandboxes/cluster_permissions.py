"""What Sidestage may do in a cluster: the one list of (API group, resource, verbs)
the reconciler and the orphan sweep call through `sandboxes.cluster.Cluster`.

The Helm chart's RBAC rules are generated from this list
(`manage.py rbac_rules --write` writes `deploy/helm/sidestage/templates/_rbac_rules.tpl`),
and tests check that the chart says the same, that every verb here is used by a real
sandbox life cycle, and that nothing outside it is needed. Change the list, regenerate,
commit both.

Why each verb:
- `get`: baseline Deployments and Services are read to copy their pod template and
  ports; an object we do not own yet is read by name before the first apply.
- `list`: owned objects are found by label selector (per sandbox, per service, and
  cluster-wide by the orphan sweep); foreign VirtualServices are listed to refuse a
  host somebody else routes.
- `create` + `patch`: server-side apply is a PATCH; when the object does not exist the
  API server also checks `create`.
- `delete`: objects that are no longer desired, and orphans.

Never: Secrets, Pods, namespaces, wildcards, `update` (no PUT), `watch`, `escalate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from routing.meshes import all_kinds
from sandboxes.owned_objects import WORKLOAD_KINDS

RULES_TEMPLATE = (
    Path(__file__).resolve().parent.parent
    / "deploy"
    / "helm"
    / "sidestage"
    / "templates"
    / "_rbac_rules.tpl"
)
OWNED_VERBS = ("create", "delete", "get", "list", "patch")


@dataclass(frozen=True)
class Permission:
    api_group: str
    resource: str
    verbs: tuple[str, ...]
    kind: str


# Plural resource names of every kind in WORKLOAD_KINDS and every mesh's kinds.
RECONCILER_PERMISSIONS: tuple[Permission, ...] = (
    Permission("", "services", OWNED_VERBS, "Service"),
    Permission("apps", "deployments", OWNED_VERBS, "Deployment"),
    Permission("gateway.networking.k8s.io", "httproutes", OWNED_VERBS, "HTTPRoute"),
    Permission("networking.istio.io", "virtualservices", OWNED_VERBS, "VirtualService"),
    Permission("policy.linkerd.io", "httproutes", OWNED_VERBS, "HTTPRoute"),
)


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def managed_kinds() -> set[tuple[str, str]]:
    """(API group, kind) of everything Sidestage applies: the code the list must cover."""
    kinds = set(WORKLOAD_KINDS) | set(all_kinds())
    return {(group_of(api_version), kind) for api_version, kind in kinds}


# Resources that are not namespaced: a Role cannot grant them, so the chart's namespaced
# mode grants them in a ClusterRole limited to the allowed namespaces by resourceNames.
CLUSTER_SCOPED = frozenset({("", "namespaces")})


def all_permissions() -> dict[tuple[str, str], tuple[str, ...]]:
    """(API group, resource) -> verbs: the reconciler's list and catalog discovery's."""
    from sandboxes.catalog.discovery import DISCOVERY_PERMISSIONS

    merged: dict[tuple[str, str], set[str]] = {}
    for perm in RECONCILER_PERMISSIONS:
        merged.setdefault((perm.api_group, perm.resource), set()).update(perm.verbs)
    for group, resource, verbs in DISCOVERY_PERMISSIONS:
        merged.setdefault((group, resource), set()).update(verbs)
    return {key: tuple(sorted(verbs)) for key, verbs in merged.items()}


def rbac_rules(*, namespaced: bool = False) -> list[dict[str, list[str]]]:
    """The permissions as RBAC PolicyRules, one rule per group and verb set, sorted:
    stable output. `namespaced` leaves out what a Role cannot grant."""
    by_group: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (group, resource), verbs in sorted(all_permissions().items()):
        if namespaced and (group, resource) in CLUSTER_SCOPED:
            continue
        by_group.setdefault((group, verbs), []).append(resource)
    return [
        {"apiGroups": [group], "resources": sorted(resources), "verbs": list(verbs)}
        for (group, verbs), resources in sorted(by_group.items())
    ]


def render_rules_template() -> str:
    """The chart's `_rbac_rules.tpl`: a named template holding the rules as YAML."""
    lines = [
        "{{/*",
        "GENERATED from sandboxes/cluster_permissions.py by `manage.py rbac_rules --write`.",
        "Do not edit: change RECONCILER_PERMISSIONS (or the catalog's DISCOVERY_PERMISSIONS)",
        "and regenerate. A test checks they agree.",
        "*/}}",
    ]
    for name, namespaced in (
        ("sidestage.rbacRules", False),
        ("sidestage.rbacNamespacedRules", True),
    ):
        lines.append('{{- define "' + name + '" -}}')
        for rule in rbac_rules(namespaced=namespaced):
            group = rule["apiGroups"][0]
            lines.append(f'- apiGroups: ["{group}"]')
            lines.append("  resources: [" + ", ".join(f'"{r}"' for r in rule["resources"]) + "]")
            lines.append("  verbs: [" + ", ".join(f'"{v}"' for v in rule["verbs"]) + "]")
        lines.append("{{- end -}}")
    return "\n".join(lines) + "\n"
