"""Istio VirtualService rendering, validated against the real CRD schema."""

import pytest
import re2
import yaml

from routing.meshes.istio import (
    ForeignVirtualServiceError,
    check_host_ownership,
    render_virtual_service,
)
from routing.names import MANAGED_BY_LABEL, SERVICE_LABEL
from routing.plan import plan_routes
from routing.render import manifests_to_yaml, render_service_routes
from tests.routing.factories import ALICE_KEY, BOB_KEY, TENANT_KEY, baseline, fork
from tests.support.schemas import validate_manifest


def render(forks, service=None):
    service = service or baseline()
    return render_virtual_service(service, plan_routes(service.name, forks))


def test_one_named_rule_per_sandbox_then_the_baseline(crds):
    vs = render([fork(key=BOB_KEY), fork(key=ALICE_KEY)])
    validate_manifest(vs)
    assert vs["apiVersion"] == "networking.istio.io/v1"
    assert vs["spec"]["hosts"] == ["orders.shop.svc.cluster.local"]
    assert "gateways" not in vs["spec"]
    rules = vs["spec"]["http"]
    assert [r["name"] for r in rules] == [f"sbx-{ALICE_KEY}", f"sbx-{BOB_KEY}", "baseline"]
    assert rules[-1] == {
        "name": "baseline",
        "route": [{"destination": {"host": "orders.shop.svc.cluster.local"}}],
    }
    assert "match" not in rules[-1]
    alice = rules[0]
    assert alice["match"][0] == {"headers": {"x-sidestage-route": {"exact": ALICE_KEY}}}
    assert alice["route"] == [
        {"destination": {"host": f"orders-sbx-{ALICE_KEY}.shop.svc.cluster.local"}}
    ]
    assert vs["metadata"]["labels"] == {MANAGED_BY_LABEL: "sidestage", SERVICE_LABEL: "orders"}


def test_baggage_match_is_the_anchored_regex(crds):
    vs = render([fork(key=ALICE_KEY)])
    regex = vs["spec"]["http"][0]["match"][-1]["headers"]["baggage"]["regex"]
    assert re2.fullmatch(regex, f"a=1, sidestage={ALICE_KEY};p")
    assert not re2.fullmatch(regex, f"sidestage={ALICE_KEY}x")


def test_tenant_key_is_matched_as_well_as_the_sandbox_key(crds):
    vs = render([fork(key=ALICE_KEY, tenant_key=TENANT_KEY)])
    validate_manifest(vs)
    match = vs["spec"]["http"][0]["match"]
    assert match[:2] == [
        {"headers": {"x-sidestage-route": {"exact": ALICE_KEY}}},
        {"headers": {"x-sidestage-route": {"exact": TENANT_KEY}}},
    ]
    regex = match[2]["headers"]["baggage"]["regex"]
    assert re2.fullmatch(regex, f"sidestage={TENANT_KEY}")


def test_conflicting_tenant_key_is_reported_and_not_routed(crds):
    forks = [
        fork(key=ALICE_KEY, sandbox="a", tenant_key=TENANT_KEY),
        fork(key=BOB_KEY, sandbox="b", tenant_key=TENANT_KEY),
    ]
    result = render_service_routes(baseline(), forks)
    assert len(result.conflicts) == 1
    text = manifests_to_yaml(result.manifests)
    assert TENANT_KEY not in text
    assert ALICE_KEY in text and BOB_KEY in text


def test_rerender_is_byte_identical_whatever_the_input_order():
    forks = [fork(key=ALICE_KEY, tenant_key=TENANT_KEY), fork(key=BOB_KEY)]
    first = manifests_to_yaml(render_service_routes(baseline(), forks).manifests)
    second = manifests_to_yaml(render_service_routes(baseline(), list(reversed(forks))).manifests)
    assert first == second
    assert yaml.safe_load(first)["kind"] == "VirtualService"


def test_no_forks_means_no_virtual_service():
    assert render_service_routes(baseline(), []).manifests == ()


def test_many_sandboxes_validate(crds):
    forks = [fork() for _ in range(40)]
    vs = render(forks)
    validate_manifest(vs)
    names = [r["name"] for r in vs["spec"]["http"]]
    assert names[:-1] == sorted(names[:-1])


def foreign(hosts, namespace="shop", gateways=None, labels=None):
    spec = {"hosts": hosts, "http": [{"route": [{"destination": {"host": hosts[0]}}]}]}
    if gateways:
        spec["gateways"] = gateways
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "theirs", "namespace": namespace, "labels": labels or {}},
        "spec": spec,
    }


@pytest.mark.parametrize(
    "hosts",
    [["orders"], ["orders.shop.svc.cluster.local"], ["orders.shop"], ["other", "orders.shop.svc"]],
)
def test_refuses_a_host_routed_by_a_virtual_service_it_does_not_own(hosts):
    with pytest.raises(ForeignVirtualServiceError, match="shop/theirs already routes host"):
        render_service_routes(baseline(), [fork()], foreign=[foreign(hosts)])


def test_ignores_its_own_gateway_only_and_unrelated_virtual_services():
    live = [
        foreign(["orders"], labels={MANAGED_BY_LABEL: "sidestage"}),
        foreign(["orders.shop.svc.cluster.local"], gateways=["istio-system/public"]),
        foreign(["orders"], namespace="other-team"),
        foreign(["payments"]),
    ]
    check_host_ownership(baseline(), live)
    assert render_service_routes(baseline(), [fork()], foreign=live).manifests


def test_foreign_virtual_service_does_not_matter_without_forks():
    assert render_service_routes(baseline(), [], foreign=[foreign(["orders"])]).manifests == ()
