"""Edge protection configs for each mesh."""

import shutil
import subprocess

import pytest

from routing.edge import (
    L5D_CONTEXT_HEADERS,
    baggage_strip_lua,
    gateway_api_header_filter,
    linkerd1_edge_server,
    render_gateway_api_edge_route,
    render_istio_baggage_filter,
    render_istio_edge_authorization_policy,
    render_istio_gateway_virtual_service,
    untrusted_headers,
)
from routing.model import WireConfig
from tests.support.schemas import validate_manifest


def test_untrusted_headers_are_ours_and_linkerds_but_never_baggage():
    headers = untrusted_headers()
    assert headers[0] == "x-sidestage-route"
    assert set(L5D_CONTEXT_HEADERS) <= set(headers)
    assert "baggage" not in headers
    assert untrusted_headers(WireConfig(header="x-route"))[0] == "x-route"


def test_istio_gateway_virtual_service_removes_headers(crds):
    vs = render_istio_gateway_virtual_service(
        name="shop-public",
        namespace="shop",
        gateways=["istio-system/public"],
        hosts=["shop.example.com"],
        destination_host="frontend.shop.svc.cluster.local",
        destination_port=80,
    )
    validate_manifest(vs)
    (rule,) = vs["spec"]["http"]
    assert rule["headers"]["request"]["remove"] == untrusted_headers()


def test_istio_authorization_policy_alternative(crds):
    policy = render_istio_edge_authorization_policy()
    validate_manifest(policy)
    assert policy["spec"]["action"] == "DENY"
    keys = [r["when"][0]["key"] for r in policy["spec"]["rules"]]
    assert keys == [f"request.headers[{h}]" for h in untrusted_headers()]


def test_istio_baggage_member_filter(crds):
    envoy_filter = render_istio_baggage_filter()
    validate_manifest(envoy_filter)
    lua = envoy_filter["spec"]["configPatches"][0]["patch"]["value"]["typed_config"][
        "default_source_code"
    ]["inline_string"]
    assert '"sidestage"' in lua


LUA = shutil.which("lua5.4") or shutil.which("lua5.3") or shutil.which("lua")


@pytest.mark.skipif(LUA is None, reason="no Lua interpreter here")
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("a=1, sidestage=k;p ,b=2;sidestage=3", "a=1,b=2;sidestage=3"),
        ("sidestage=k", None),
        ("xsidestage=k,foo=sidestage=k", "xsidestage=k,foo=sidestage=k"),
    ],
)
def test_lua_strips_only_our_member(given, expected):
    harness = (
        baggage_strip_lua()
        + f"""
local store = {{baggage = {given!r}}}
local headers = {{
  get = function(_, k) return store[k] end,
  replace = function(_, k, v) store[k] = v end,
  remove = function(_, k) store[k] = nil end,
}}
envoy_on_request({{headers = function() return headers end}})
print(store.baggage == nil and "<nil>" or store.baggage)
"""
    )
    out = subprocess.run(
        [LUA, "-"], input=harness, capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == (expected or "<nil>")


def test_gateway_api_edge_route(crds):
    route = render_gateway_api_edge_route(
        name="shop-public",
        namespace="shop",
        gateway="public",
        gateway_namespace="infra",
        hostnames=["shop.example.com"],
        backend_service="frontend",
        backend_port=80,
    )
    validate_manifest(route)
    assert route["spec"]["rules"][0]["filters"] == [gateway_api_header_filter()]
    assert gateway_api_header_filter()["requestHeaderModifier"]["remove"] == untrusted_headers()


def test_linkerd1_clear_context():
    server = linkerd1_edge_server(port=4140)
    assert server["clearContext"] is True
    assert server["port"] == 4140
