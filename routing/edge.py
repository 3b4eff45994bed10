"""Edge protection: routing headers must not be settable from the internet.

For each mesh this renders the ingress configuration that strips the dedicated
routing header and Linkerd's ``l5d-*`` context headers from untrusted traffic.

The baggage caveat: ``baggage`` also carries the caller's tracing context, so it is
never removed wholesale. Header-level filters (Istio ``headers.request.remove``,
Gateway API ``RequestHeaderModifier``, Linkerd 1 ``clearContext``) cannot edit one
member, so on Istio an EnvoyFilter with a few lines of Lua removes only our member
(:func:`render_istio_baggage_filter`). Gateway API has no portable way to do so;
there the keys' unguessability is the guard and docs/routing.md says so.
"""

from __future__ import annotations

from routing.meshes.gateway_api import GATEWAY_API_VERSION
from routing.meshes.istio import API_VERSION as ISTIO_API_VERSION
from routing.model import DEFAULT_WIRE, WireConfig
from routing.names import managed_labels

LUA_FILTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"

ISTIO_SECURITY_VERSION = "security.istio.io/v1"
ISTIO_ENVOYFILTER_VERSION = "networking.istio.io/v1alpha3"
DEFAULT_GATEWAY_SELECTOR = {"istio": "ingressgateway"}

# Linkerd's per-request context headers; any of them would let a caller steer routing.
L5D_CONTEXT_HEADERS = (
    "l5d-ctx-deadline",
    "l5d-ctx-dtab",
    "l5d-ctx-trace",
    "l5d-dtab",
    "l5d-sample",
)


def untrusted_headers(wire: WireConfig = DEFAULT_WIRE) -> list[str]:
    """Request headers the edge must drop: ours and Linkerd's context headers."""
    return [wire.header, *L5D_CONTEXT_HEADERS]


def istio_header_removal(wire: WireConfig = DEFAULT_WIRE) -> dict:
    """The ``headers`` block to put on every route of a gateway VirtualService."""
    return {"request": {"remove": untrusted_headers(wire)}}


def render_istio_gateway_virtual_service(
    *,
    name: str,
    namespace: str,
    gateways: list[str],
    hosts: list[str],
    destination_host: str,
    destination_port: int | None = None,
    wire: WireConfig = DEFAULT_WIRE,
) -> dict:
    """An ingress VirtualService that strips routing headers before routing inward.

    Where the platform already owns the gateway VirtualService, merge
    :func:`istio_header_removal` into each of its routes instead.
    """
    destination: dict = {"host": destination_host}
    if destination_port is not None:
        destination["port"] = {"number": destination_port}
    return {
        "apiVersion": ISTIO_API_VERSION,
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace, "labels": managed_labels()},
        "spec": {
            "hosts": list(hosts),
            "gateways": list(gateways),
            "http": [
                {
                    "name": "strip-routing-headers",
                    "headers": istio_header_removal(wire),
                    "route": [{"destination": destination}],
                }
            ],
        },
    }


def render_istio_edge_authorization_policy(
    *,
    name: str = "sidestage-edge",
    namespace: str = "istio-system",
    selector: dict[str, str] | None = None,
    wire: WireConfig = DEFAULT_WIRE,
) -> dict:
    """The alternative: reject, at the ingress gateway, requests that carry the headers.

    Rejecting is louder than stripping (a caller learns the header is not theirs to
    set) but breaks clients that set it by accident. Rules are ORed, so one rule per
    header; ``*`` matches any present value.
    """
    return {
        "apiVersion": ISTIO_SECURITY_VERSION,
        "kind": "AuthorizationPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": managed_labels()},
        "spec": {
            "selector": {"matchLabels": dict(selector or DEFAULT_GATEWAY_SELECTOR)},
            "action": "DENY",
            "rules": [
                {"when": [{"key": f"request.headers[{h}]", "values": ["*"]}]}
                for h in untrusted_headers(wire)
            ],
        },
    }


def baggage_strip_lua(wire: WireConfig = DEFAULT_WIRE) -> str:
    """Lua for Envoy that removes only our member from ``baggage``.

    Envoy's ``headers:get`` joins repeated headers with ",", so one pass sees every
    member; other members are kept verbatim, in order.
    """
    # A token never contains '"' or '\\', so it is safe inside a Lua string literal.
    return f"""function envoy_on_request(handle)
  local headers = handle:headers()
  local value = headers:get("baggage")
  if value == nil then return end
  local kept = {{}}
  for member in string.gmatch(value, "[^,]+") do
    local trimmed = string.match(member, "^[ \\t]*(.-)[ \\t]*$")
    local key = string.match(trimmed, "^([^=; \\t]+)")
    if trimmed ~= "" and key ~= "{wire.baggage_member}" then
      table.insert(kept, trimmed)
    end
  end
  if #kept == 0 then
    headers:remove("baggage")
  else
    headers:replace("baggage", table.concat(kept, ","))
  end
end
"""


def render_istio_baggage_filter(
    *,
    name: str = "sidestage-strip-baggage-member",
    namespace: str = "istio-system",
    selector: dict[str, str] | None = None,
    wire: WireConfig = DEFAULT_WIRE,
) -> dict:
    """EnvoyFilter running :func:`baggage_strip_lua` on the ingress gateway."""
    return {
        "apiVersion": ISTIO_ENVOYFILTER_VERSION,
        "kind": "EnvoyFilter",
        "metadata": {"name": name, "namespace": namespace, "labels": managed_labels()},
        "spec": {
            "workloadSelector": {"labels": dict(selector or DEFAULT_GATEWAY_SELECTOR)},
            "configPatches": [
                {
                    "applyTo": "HTTP_FILTER",
                    "match": {
                        "context": "GATEWAY",
                        "listener": {
                            "filterChain": {
                                "filter": {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "subFilter": {"name": "envoy.filters.http.router"},
                                }
                            }
                        },
                    },
                    "patch": {
                        "operation": "INSERT_BEFORE",
                        "value": {
                            "name": "envoy.filters.http.lua",
                            "typed_config": {
                                "@type": LUA_FILTER_TYPE,
                                "default_source_code": {"inline_string": baggage_strip_lua(wire)},
                            },
                        },
                    },
                }
            ],
        },
    }


def gateway_api_header_filter(wire: WireConfig = DEFAULT_WIRE) -> dict:
    """The ``RequestHeaderModifier`` filter to put on every rule of an ingress HTTPRoute."""
    return {
        "type": "RequestHeaderModifier",
        "requestHeaderModifier": {"remove": untrusted_headers(wire)},
    }


def render_gateway_api_edge_route(
    *,
    name: str,
    namespace: str,
    gateway: str,
    gateway_namespace: str | None,
    hostnames: list[str],
    backend_service: str,
    backend_port: int,
    wire: WireConfig = DEFAULT_WIRE,
) -> dict:
    """An ingress HTTPRoute on a Gateway that strips routing headers, then forwards."""
    parent: dict = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway}
    if gateway_namespace:
        parent["namespace"] = gateway_namespace
    return {
        "apiVersion": GATEWAY_API_VERSION,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace, "labels": managed_labels()},
        "spec": {
            "parentRefs": [parent],
            "hostnames": list(hostnames),
            "rules": [
                {
                    "filters": [gateway_api_header_filter(wire)],
                    "backendRefs": [
                        {
                            "group": "",
                            "kind": "Service",
                            "name": backend_service,
                            "port": backend_port,
                        }
                    ],
                }
            ],
        },
    }


def linkerd1_edge_server(*, port: int, ip: str = "0.0.0.0") -> dict:  # noqa: S104
    """A Linkerd 1 router ``servers`` entry that drops all ``l5d-*`` context from callers.

    Linkerd 1 routes on ``l5d-dtab``/``l5d-ctx-dtab``, not on the dedicated header,
    so ``clearContext`` is the whole of the edge guard there.
    """
    return {"port": port, "ip": ip, "clearContext": True}
