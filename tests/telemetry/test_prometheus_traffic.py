"""The routing check end to end: series shaped exactly like Istio's and Linkerd's,
scraped by a real Prometheus (tests/fixtures/prometheus.py), read back through its HTTP
API by the portal, and reported by the API, the Routing panel and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from routing.names import fork_object_name
from sandboxes.models import Mesh
from tests import factories
from tests.fixtures.prometheus import Call

WINDOW = "1m"  # the scrape interval is 1s: a minute holds plenty of samples
NS = "shop"


@dataclass
class Chain:
    sandbox: Any
    names: list[str]  # catalog names = baseline Deployments
    forks: list[str]  # fork Deployments


@pytest.fixture
def use_prometheus(prometheus, settings):
    settings.SIDESTAGE_PROMETHEUS_URL = prometheus.url
    settings.SIDESTAGE_PROMETHEUS_TIMEOUT = 10
    return prometheus


def make_chain(make_sandbox, name: str, mesh: str = Mesh.ISTIO, size: int = 3) -> Chain:
    """`size` new baselines (names unique in the session, so each test's series are its
    own) and a sandbox that forks them all."""
    baselines = [factories.BaselineServiceFactory(namespace=NS, mesh=mesh) for _ in range(size)]
    sandbox = make_sandbox(
        name, forks=[{"service": b.name, "image": "ghcr.io/acme/app:pr-1"} for b in baselines]
    )
    names = [b.name for b in baselines]
    return Chain(sandbox, names, [fork_object_name(n, sandbox.routing_key) for n in names])


def baseline_traffic(chain: Chain, ingress: tuple[str, str], n: int = 20) -> list[Call]:
    """Everyday traffic: the entry point gets requests, each baseline calls the next."""
    calls = [Call(ingress[0], ingress[1], NS, chain.names[0], n)]
    calls += [Call(NS, a, NS, b, n) for a, b in zip(chain.names, chain.names[1:], strict=False)]
    return calls


ISTIO_INGRESS = ("istio-system", "istio-ingressgateway")
LINKERD_INGRESS = ("ingress", "ingress-nginx")


def get_traffic(client: Any, name: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/sandboxes/{name}/traffic", {"window": WINDOW})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["telemetry"]["state"] == "ok"
    return body


def by_service(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["service"]: row for row in body["forks"]}


pytestmark = pytest.mark.django_db


def test_a_healthy_chain_of_three_forks(world, client_for, make_sandbox, use_prometheus):
    chain = make_chain(make_sandbox, "healthy")
    web, cart, pay = chain.names
    web_f, cart_f, pay_f = chain.forks
    use_prometheus.feed(
        [
            *baseline_traffic(chain, ISTIO_INGRESS),
            Call(*ISTIO_INGRESS, NS, web_f, 6),
            Call(NS, web_f, NS, cart_f, 6),
            Call(NS, cart_f, NS, pay_f, 6),
        ]
    )
    body = get_traffic(client_for(world.alice), "healthy")
    assert body["keyDropped"] is False
    assert body["findings"] == []
    assert [(h["from"], h["to"], h["status"]) for h in body["hops"]] == [
        (web, cart, "propagated"),
        (cart, pay, "propagated"),
    ]
    rows = by_service(body)
    assert all(rows[n]["requests"] >= 6 for n in chain.names)
    assert [s["workload"] for s in rows[cart]["sources"]] == [f"{NS}/{web_f}"]
    assert rows[cart]["sources"][0]["role"] == f"fork:{web}"
    assert rows[web]["sources"][0]["workload"] == "istio-system/istio-ingressgateway"
    assert 'reporter="destination"' in body["telemetry"]["queries"][0]


def test_the_middle_fork_drops_the_key_and_every_surface_names_it(
    world, client_for, client, make_sandbox, use_prometheus
):
    chain = make_chain(make_sandbox, "dropped")
    web, cart, pay = chain.names
    web_f, cart_f, _ = chain.forks
    use_prometheus.feed(
        [
            *baseline_traffic(chain, ISTIO_INGRESS),
            Call(*ISTIO_INGRESS, NS, web_f, 5),
            Call(NS, web_f, NS, cart_f, 5),
            Call(NS, cart_f, NS, pay, 5),  # no baggage: the mesh sends it to the baseline
        ]
    )
    body = get_traffic(client_for(world.alice), "dropped")
    assert body["keyDropped"] is True
    hops = {(h["from"], h["to"]): h for h in body["hops"]}
    assert hops[(web, cart)]["status"] == "propagated"
    assert hops[(cart, pay)]["status"] == "dropped"
    assert hops[(cart, pay)]["toBaseline"] >= 5 and hops[(cart, pay)]["toFork"] == 0
    first = body["findings"][0]
    assert first["kind"] == "dropped_key" and first["severity"] == "error"
    assert first["message"].startswith(
        f"{cart} dropped the routing key: propagate the `baggage` header in {cart}'s "
        "outgoing calls."
    )
    assert {link["title"] for link in first["links"]} >= {"Go", "Java", "Python", "JavaScript"}
    assert [f["service"] for f in body["findings"] if f["kind"] == "no_traffic"] == [pay]

    client.force_login(world.alice)
    panel = client.get(
        f"/sandboxes/{chain.sandbox.pk}/traffic/",
        {"window": WINDOW},
        headers={"HX-Request": "true", "HX-Target": "routing"},
    ).content.decode()
    assert f"{cart} dropped the routing key" in panel
    assert f'data-hop="{cart}-{pay}"' in panel and "status-dropped" in panel
    assert "https://opentelemetry.io/docs/languages/python/propagation/" in panel


def test_a_fork_with_no_traffic_at_all(world, client_for, make_sandbox, use_prometheus):
    chain = make_chain(make_sandbox, "quiet")
    use_prometheus.feed(baseline_traffic(chain, ISTIO_INGRESS))
    body = get_traffic(client_for(world.alice), "quiet")
    assert body["keyDropped"] is False
    assert all(row["requests"] == 0 and row["sources"] == [] for row in body["forks"])
    assert {f["service"] for f in body["findings"] if f["kind"] == "no_traffic"} == set(chain.names)
    assert all(h["status"] == "idle" for h in body["hops"])  # the graph still comes from baselines
    assert len(body["hops"]) == 2


def test_a_fork_with_a_higher_error_rate(world, client_for, make_sandbox, use_prometheus):
    chain = make_chain(make_sandbox, "flaky", size=2)
    web, cart = chain.names
    web_f, cart_f = chain.forks
    use_prometheus.feed(
        [
            Call(*ISTIO_INGRESS, NS, web, 40),
            Call(NS, web, NS, cart, 40, errors=0),
            Call(*ISTIO_INGRESS, NS, web_f, 20),
            Call(NS, web_f, NS, cart_f, 20, errors=10),
        ]
    )
    body = get_traffic(client_for(world.alice), "flaky")
    rows = by_service(body)
    assert rows[cart]["errorRate"] == pytest.approx(0.5, abs=0.01)
    assert rows[cart]["baselineErrorRate"] == 0
    flagged = [f for f in body["findings"] if f["kind"] == "higher_error_rate"]
    assert [f["service"] for f in flagged] == [cart]
    assert "fails 50% of its requests; its baseline fails 0%" in flagged[0]["message"]
    assert body["keyDropped"] is False


def test_linkerd_series_find_the_dropped_hop_too(world, client_for, make_sandbox, use_prometheus):
    chain = make_chain(make_sandbox, "l5d", mesh=Mesh.GATEWAY_API)
    web, cart, _ = chain.names
    web_f = chain.forks[0]
    use_prometheus.feed(
        [
            *baseline_traffic(chain, LINKERD_INGRESS),
            Call(*LINKERD_INGRESS, NS, web_f, 8),
            Call(NS, web_f, NS, cart, 8),  # the first fork already loses the key
        ],
        mesh="linkerd",
    )
    body = get_traffic(client_for(world.alice), "l5d")
    assert 'direction="outbound"' in body["telemetry"]["queries"][0]
    assert [(h["from"], h["to"]) for h in body["hops"] if h["status"] == "dropped"] == [(web, cart)]
    assert body["findings"][0]["service"] == web


@pytest.mark.django_db(transaction=True)
def test_the_cli_exits_1_on_a_dropped_key_and_0_on_a_healthy_chain(
    world, make_sandbox, cli, use_prometheus
):
    bad = make_chain(make_sandbox, "cli-bad")
    good = make_chain(make_sandbox, "cli-good", size=2)
    use_prometheus.feed(
        [
            *baseline_traffic(bad, ISTIO_INGRESS),
            Call(*ISTIO_INGRESS, NS, bad.forks[0], 4),
            Call(NS, bad.forks[0], NS, bad.forks[1], 4),
            Call(NS, bad.forks[1], NS, bad.names[2], 4),
            *baseline_traffic(good, ISTIO_INGRESS),
            Call(*ISTIO_INGRESS, NS, good.forks[0], 4),
            Call(NS, good.forks[0], NS, good.forks[1], 4),
        ]
    )
    result = cli("traffic", "cli-bad", "--window", WINDOW)
    assert result.returncode == 1, result.stderr
    assert f"ERROR: {bad.names[1]} dropped the routing key" in result.stdout
    assert f"hop {bad.names[1]} -> {bad.names[2]}: dropped" in result.stdout
    result = cli("traffic", "cli-good", "--window", WINDOW)
    assert result.returncode == 0, result.stderr
    assert "OK: every hop kept the routing key." in result.stdout


def test_a_query_prometheus_rejects_is_a_clear_error(prometheus):
    from sandboxes.telemetry import PrometheusReader, TelemetryConfig, TelemetryUnavailable

    with (
        PrometheusReader(TelemetryConfig(prometheus.url, token="t0ken", timeout=5)) as reader,
        pytest.raises(TelemetryUnavailable, match=r"rejected the query: .*parse error"),
    ):
        reader.query("sum(")


def test_a_url_that_is_not_a_prometheus_is_a_clear_error(prometheus):
    from sandboxes.telemetry import PrometheusReader, TelemetryConfig, TelemetryUnavailable

    with (
        PrometheusReader(TelemetryConfig(f"{prometheus.url}/nothing-here", timeout=5)) as reader,
        pytest.raises(TelemetryUnavailable, match="without a Prometheus API response"),
    ):
        reader.query("up")
