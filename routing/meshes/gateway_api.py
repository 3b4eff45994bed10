"""Gateway API mesh routing (GAMMA), as Linkerd 2 and other GAMMA meshes read it.

Per sandbox per forked service: one HTTPRoute whose parent is the baseline Service
and whose single rule sends matching requests to the fork's Service. Per service:
one catch-all HTTPRoute to the baseline, because once any route attaches to a
Service, requests that match no route are refused. Gateway API precedence puts a
match with more header matches ahead of the catch-all, whose match has none.

``parentRefs[].group`` is ``""``: the spec says the core group must be written as
the empty string; Linkerd also accepts ``core``, other meshes may not.

Linkerd's own ``policy.linkerd.io`` HTTPRoute has the same shape under another
apiVersion: ``routing/meshes/linkerd_policy.py`` reuses this renderer.
"""

from __future__ import annotations

from collections.abc import Iterable

from routing.baggage import baggage_match_regex
from routing.meshes.base import MeshRoutes, MeshRouting, RouteRenderError
from routing.model import DEFAULT_WIRE, BaselineService, ServicePort, WireConfig
from routing.names import fork_object_name, managed_labels, shared_route_name, shorten_name
from routing.plan import ForkRoute, RoutePlan

GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1"

# Limits of the HTTPRoute CRD; the CEL ones are not checked by a JSON Schema validator.
MAX_RULES = 16
MAX_MATCHES_PER_RULE = 64
MAX_MATCHES_TOTAL = 127  # CEL: "must be less than 128"
MAX_HEADER_MATCHES = 16
MAX_HEADER_VALUE = 4096


class RouteLimitError(RouteRenderError, ValueError):
    """A rendered HTTPRoute would break a limit of the CRD."""

    reason = "RouteLimitExceeded"


def _parent_ref(service: BaselineService, port: ServicePort) -> dict:
    return {"group": "", "kind": "Service", "name": service.service_name, "port": port.port}


def _route_name(base: str, service: BaselineService, port: ServicePort) -> str:
    # One route per port only when there are several: a backendRef to a Service
    # must name a port, so each port needs its own route.
    if len(service.ports) == 1:
        return base
    return shorten_name(f"{base}-{port.port}")


def check_route_limits(route: dict) -> None:
    """Raise :class:`RouteLimitError` if ``route`` breaks a limit of the HTTPRoute CRD."""
    name = route["metadata"]["name"]
    rules = route["spec"].get("rules", [])
    if len(rules) > MAX_RULES:
        raise RouteLimitError(f"HTTPRoute {name} has {len(rules)} rules; at most {MAX_RULES}")
    total = 0
    for rule in rules:
        matches = rule.get("matches", [])
        total += len(matches)
        if len(matches) > MAX_MATCHES_PER_RULE:
            raise RouteLimitError(f"HTTPRoute {name}: a rule has {len(matches)} matches")
        for match in matches:
            headers = match.get("headers", [])
            if len(headers) > MAX_HEADER_MATCHES:
                raise RouteLimitError(f"HTTPRoute {name}: a match has {len(headers)} headers")
            for header in headers:
                if len(header["value"]) > MAX_HEADER_VALUE:
                    raise RouteLimitError(
                        f"HTTPRoute {name}: header {header['name']} value is "
                        f"{len(header['value'])} characters; at most {MAX_HEADER_VALUE}"
                    )
    if total > MAX_MATCHES_TOTAL:
        raise RouteLimitError(f"HTTPRoute {name} has {total} matches; at most {MAX_MATCHES_TOTAL}")


def render_sandbox_route(
    service: BaselineService,
    route: ForkRoute,
    port: ServicePort,
    *,
    wire: WireConfig = DEFAULT_WIRE,
    api_version: str = GATEWAY_API_VERSION,
) -> dict:
    """The HTTPRoute that sends one sandbox's keys for ``service`` to its fork."""
    fork = route.fork
    matches: list[dict] = [
        {"headers": [{"type": "Exact", "name": wire.header, "value": k}]} for k in route.keys
    ]
    matches.append(
        {
            "headers": [
                {
                    "type": "RegularExpression",
                    "name": "baggage",
                    "value": baggage_match_regex(
                        route.keys, wire.baggage_member, max_length=MAX_HEADER_VALUE
                    ),
                }
            ]
        }
    )
    labels = managed_labels(sandbox_key=fork.routing_key, service=service.name)
    obj = {
        "apiVersion": api_version,
        "kind": "HTTPRoute",
        "metadata": {
            "name": _route_name(fork_object_name(service.name, fork.routing_key), service, port),
            "namespace": service.namespace,
            "labels": labels,
        },
        "spec": {
            "parentRefs": [_parent_ref(service, port)],
            "rules": [
                {
                    "matches": matches,
                    "backendRefs": [
                        {
                            "group": "",
                            "kind": "Service",
                            "name": fork.fork_service,
                            "port": port.port,
                        }
                    ],
                }
            ],
        },
    }
    check_route_limits(obj)
    return obj


def render_catch_all_route(
    service: BaselineService, port: ServicePort, *, api_version: str = GATEWAY_API_VERSION
) -> dict:
    """The baseline route that keeps unmatched requests flowing once routes attach."""
    return {
        "apiVersion": api_version,
        "kind": "HTTPRoute",
        "metadata": {
            "name": _route_name(shared_route_name(service.name), service, port),
            "namespace": service.namespace,
            "labels": managed_labels(service=service.name),
        },
        "spec": {
            "parentRefs": [_parent_ref(service, port)],
            "rules": [
                {
                    "backendRefs": [
                        {
                            "group": "",
                            "kind": "Service",
                            "name": service.service_name,
                            "port": port.port,
                        }
                    ]
                }
            ],
        },
    }


def render_http_routes(
    service: BaselineService,
    plan: RoutePlan,
    *,
    wire: WireConfig = DEFAULT_WIRE,
    api_version: str = GATEWAY_API_VERSION,
) -> list[dict]:
    """All HTTPRoutes for one service: catch-all first, then sandbox routes by key.

    Empty when no sandbox forks the service, so the baseline is left untouched.
    Order is by port, then catch-all before sandboxes, then routing key; the
    catch-all goes first so that applying in order never leaves a moment where a
    sandbox route is attached and other traffic is refused.
    """
    if not plan.routes:
        return []
    objects: list[dict] = []
    for port in service.sorted_ports:
        objects.append(render_catch_all_route(service, port, api_version=api_version))
        objects.extend(
            render_sandbox_route(service, r, port, wire=wire, api_version=api_version)
            for r in plan.routes
        )
    return objects


class HTTPRouteMesh(MeshRouting):
    """A catch-all HTTPRoute per service port (shared) and one HTTPRoute per sandbox."""

    name = "gateway-api"
    label = "Gateway API (GAMMA, Linkerd 2)"
    api_version = GATEWAY_API_VERSION
    kinds = ((GATEWAY_API_VERSION, "HTTPRoute"),)
    # The per-sandbox routes carry the sandbox's key and are never shown to another
    # sandbox; the catch-all holds no key. So nothing needs redacting.
    sandbox_kinds = kinds

    def render(
        self,
        service: BaselineService,
        plan: RoutePlan,
        *,
        wire: WireConfig = DEFAULT_WIRE,
        foreign: Iterable[dict] = (),
    ) -> MeshRoutes:
        routes = render_http_routes(service, plan, wire=wire, api_version=self.api_version)
        return MeshRoutes(manifests=tuple(routes))


MESH = HTTPRouteMesh()
