"""Istio (``networking.istio.io/v1``): one VirtualService per baseline host.

Design (see docs/routing.md):

* For sidecars Istio cannot merge two VirtualServices for one host, so Sidestage
  owns exactly one per host and writes one named rule per active sandbox into it,
  sorted by routing key, with the baseline catch-all last.
* Each sandbox rule routes straight to the fork's own Service
  (``<service>-sbx-<key>``), not to a subset of the baseline host. A subset only
  selects among the baseline Service's endpoints, so the fork pods would have to
  match the baseline selector, and then kube-proxy and the catch-all would send
  strangers' traffic to them. Routing to a separate Service keeps the fork out of
  the baseline's endpoints entirely. Hence Sidestage renders no DestinationRule:
  subsets of the baseline host would select no pods, and dead config misleads.
"""

from __future__ import annotations

from collections.abc import Iterable

from routing.baggage import baggage_match_regex
from routing.meshes.base import MeshRoutes, MeshRouting, RouteRenderError
from routing.model import DEFAULT_WIRE, BaselineService, WireConfig
from routing.names import MANAGED_BY_LABEL, MANAGED_BY_VALUE, managed_labels, shared_route_name
from routing.plan import RoutePlan

API_VERSION = "networking.istio.io/v1"
BASELINE_RULE = "baseline"
RULE_PREFIX = "sbx-"


class ForeignVirtualServiceError(RouteRenderError, RuntimeError):
    """Another owner's VirtualService already routes the host; Sidestage refuses."""

    reason = "ForeignVirtualService"


def fork_host(service: BaselineService, fork_service: str) -> str:
    """Cluster-local FQDN of a fork's Service (forks live beside the baseline)."""
    return f"{fork_service}.{service.namespace}.svc.cluster.local"


def sandbox_rule_name(routing_key: str) -> str:
    return f"{RULE_PREFIX}{routing_key}"


def render_sandbox_rule(
    service: BaselineService,
    fork_service: str,
    keys: Iterable[str],
    *,
    sandbox_key: str,
    wire: WireConfig = DEFAULT_WIRE,
) -> dict:
    """One ``http`` rule: dedicated header equals a key, OR baggage holds ``member=key``.

    Items of ``match`` are ORed by Istio; one item per key keeps each exact match
    readable in ``kubectl get -o yaml``.
    """
    key_list = list(keys)
    matches: list[dict] = [{"headers": {wire.header: {"exact": k}}} for k in key_list]
    matches.append(
        {"headers": {"baggage": {"regex": baggage_match_regex(key_list, wire.baggage_member)}}}
    )
    return {
        "name": sandbox_rule_name(sandbox_key),
        "match": matches,
        "route": [{"destination": {"host": fork_host(service, fork_service)}}],
    }


def render_virtual_service(
    service: BaselineService, plan: RoutePlan, *, wire: WireConfig = DEFAULT_WIRE
) -> dict | None:
    """The host's VirtualService, or None when no sandbox forks the service.

    No ``gateways`` field: it applies to the mesh (sidecars) only, so it never
    changes how the ingress routes. No destination port: Istio then keeps the port
    the request came in on, and the fork Service exposes the baseline's ports.
    """
    if not plan.routes:
        return None
    rules = [
        render_sandbox_rule(
            service, r.fork.fork_service, r.keys, sandbox_key=r.fork.routing_key, wire=wire
        )
        for r in plan.routes
    ]
    rules.append({"name": BASELINE_RULE, "route": [{"destination": {"host": service.fqdn}}]})
    return {
        "apiVersion": API_VERSION,
        "kind": "VirtualService",
        "metadata": {
            "name": shared_route_name(service.name),
            "namespace": service.namespace,
            "labels": managed_labels(service=service.name),
        },
        "spec": {"hosts": [service.fqdn], "http": rules},
    }


def _is_ours(obj: dict) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def check_host_ownership(service: BaselineService, live_virtual_services: Iterable[dict]) -> None:
    """Refuse to route a host that a VirtualService Sidestage does not own already routes.

    ``live_virtual_services`` is what the reconciler read from the cluster (any
    namespace). Sidestage does not prepend its rules into another owner's object:
    the owner's GitOps or controller would revert them, server-side apply would
    fight over the atomic ``http`` list, and a half-merged route is exactly the
    wrong match this module exists to prevent. The error says who to talk to.
    """
    short = {
        service.fqdn,
        service.service_name,
        f"{service.service_name}.{service.namespace}",
        f"{service.service_name}.{service.namespace}.svc",
    }
    for vs in live_virtual_services:
        if _is_ours(vs):
            continue
        spec = vs.get("spec") or {}
        if spec.get("gateways") and "mesh" not in spec["gateways"]:
            continue  # gateway-only routes do not shadow sidecar routing
        hosts = set(spec.get("hosts") or [])
        meta = vs.get("metadata") or {}
        # A short host in another namespace names a different Service.
        if meta.get("namespace") not in (None, service.namespace):
            hosts &= {service.fqdn}
        if hosts & short:
            raise ForeignVirtualServiceError(
                f"VirtualService {meta.get('namespace')}/{meta.get('name')} already routes "
                f"host {service.fqdn} and is not managed by Sidestage. Istio sidecars cannot "
                f"merge two VirtualServices for one host, and Sidestage does not edit objects "
                f"it does not own. Ask its owner to hand the host to Sidestage (remove or "
                f"relabel it), or fork a different service."
            )


class IstioMesh(MeshRouting):
    """One shared VirtualService per host; nothing per sandbox."""

    name = "istio"
    label = "Istio"
    kinds = ((API_VERSION, "VirtualService"),)
    foreign_host_kinds = kinds

    def render(
        self,
        service: BaselineService,
        plan: RoutePlan,
        *,
        wire: WireConfig = DEFAULT_WIRE,
        foreign: Iterable[dict] = (),
    ) -> MeshRoutes:
        if plan.routes:
            check_host_ownership(service, foreign)
        vs = render_virtual_service(service, plan, wire=wire)
        return MeshRoutes(manifests=(vs,) if vs is not None else ())

    def redact(self, manifest: dict, routing_key: str) -> dict:
        """Only this sandbox's rule and the baseline catch-all of the shared object."""
        keep = (sandbox_rule_name(routing_key), BASELINE_RULE)
        spec = manifest.get("spec") or {}
        spec["http"] = [rule for rule in spec.get("http") or [] if rule.get("name") in keep]
        return manifest


MESH = IstioMesh()
