"""Gateway API (GAMMA) and Linkerd policy HTTPRoutes, validated against the real CRD."""

import copy
import re

import pytest

from routing.meshes import get_mesh
from routing.meshes.gateway_api import (
    MAX_HEADER_VALUE,
    RouteLimitError,
    check_route_limits,
)
from routing.names import SANDBOX_LABEL, SERVICE_LABEL
from routing.plan import plan_routes
from routing.render import manifests_to_yaml, render_service_routes
from tests.routing.factories import ALICE_KEY, BOB_KEY, TENANT_KEY, baseline, fork
from tests.support.schemas import validate_manifest


def routes(forks, mesh="gateway-api", ports=(8080,)):
    service = baseline(mesh=mesh, ports=ports)
    return list(get_mesh(mesh).render(service, plan_routes(service.name, forks)).manifests)


def test_catch_all_then_one_route_per_sandbox(crds):
    objs = routes([fork(key=BOB_KEY), fork(key=ALICE_KEY, tenant_key=TENANT_KEY)])
    for obj in objs:
        validate_manifest(obj)
    catch_all, alice, bob = objs
    assert catch_all["metadata"]["name"] == "orders-sidestage"
    assert catch_all["metadata"]["labels"][SERVICE_LABEL] == "orders"
    assert SANDBOX_LABEL not in catch_all["metadata"]["labels"]
    assert catch_all["spec"]["rules"] == [
        {"backendRefs": [{"group": "", "kind": "Service", "name": "orders", "port": 8080}]}
    ]
    assert alice["metadata"]["name"] == f"orders-sbx-{ALICE_KEY}"
    assert alice["metadata"]["labels"][SANDBOX_LABEL] == ALICE_KEY
    assert alice["spec"]["parentRefs"] == [
        {"group": "", "kind": "Service", "name": "orders", "port": 8080}
    ]
    (rule,) = alice["spec"]["rules"]
    assert rule["matches"][:2] == [
        {"headers": [{"type": "Exact", "name": "x-sidestage-route", "value": ALICE_KEY}]},
        {"headers": [{"type": "Exact", "name": "x-sidestage-route", "value": TENANT_KEY}]},
    ]
    assert rule["matches"][2]["headers"][0]["type"] == "RegularExpression"
    assert rule["backendRefs"] == [
        {"group": "", "kind": "Service", "name": f"orders-sbx-{ALICE_KEY}", "port": 8080}
    ]
    assert bob["metadata"]["name"] == f"orders-sbx-{BOB_KEY}"


def test_linkerd_policy_flavour(crds):
    objs = routes([fork(key=ALICE_KEY)], mesh="linkerd-policy")
    assert {o["apiVersion"] for o in objs} == {"policy.linkerd.io/v1beta3"}
    for obj in objs:
        validate_manifest(obj)


def test_multi_port_services_get_a_route_per_port(crds):
    objs = routes([fork(key=ALICE_KEY)], ports=(9090, 8080))
    assert [o["metadata"]["name"] for o in objs] == [
        "orders-sidestage-8080",
        f"orders-sbx-{ALICE_KEY}-8080",
        "orders-sidestage-9090",
        f"orders-sbx-{ALICE_KEY}-9090",
    ]
    for obj in objs:
        validate_manifest(obj)
        assert (
            obj["spec"]["parentRefs"][0]["port"]
            == obj["spec"]["rules"][0]["backendRefs"][0]["port"]
        )


def test_no_forks_no_routes():
    assert routes([]) == []
    assert routes([], mesh="linkerd-policy") == []


def test_deterministic():
    forks = [fork(key=ALICE_KEY), fork(key=BOB_KEY)]
    service = baseline(mesh="gateway-api")
    a = manifests_to_yaml(render_service_routes(service, forks).manifests)
    b = manifests_to_yaml(render_service_routes(service, forks[::-1]).manifests)
    assert a == b


def test_rule_match_and_header_limits():
    (_, route) = routes([fork(key=ALICE_KEY)])
    check_route_limits(route)
    too_many_rules = copy.deepcopy(route)
    too_many_rules["spec"]["rules"] *= 17
    with pytest.raises(RouteLimitError, match="17 rules"):
        check_route_limits(too_many_rules)
    too_many_headers = copy.deepcopy(route)
    too_many_headers["spec"]["rules"][0]["matches"][0]["headers"] *= 17
    with pytest.raises(RouteLimitError, match="17 headers"):
        check_route_limits(too_many_headers)
    long_value = copy.deepcopy(route)
    long_value["spec"]["rules"][0]["matches"][0]["headers"][0]["value"] = "a" * (
        MAX_HEADER_VALUE + 1
    )
    with pytest.raises(RouteLimitError, match="4097 characters"):
        check_route_limits(long_value)
    too_many_matches = copy.deepcopy(route)
    too_many_matches["spec"]["rules"] = [
        {"matches": route["spec"]["rules"][0]["matches"] * 22} for _ in range(3)
    ]
    with pytest.raises(RouteLimitError, match="132 matches"):
        check_route_limits(too_many_matches)


def test_regex_is_anchored_for_search_semantics():
    (_, route) = routes([fork(key=ALICE_KEY)])
    regex = route["spec"]["rules"][0]["matches"][-1]["headers"][0]["value"]
    assert regex.startswith("^") and regex.endswith("$")
    assert not re.search(regex, f"sidestage={ALICE_KEY}0")
