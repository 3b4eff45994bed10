"""The routing-propagation check as a pure function: counts in, verdicts out."""

from __future__ import annotations

import pytest

from routing.propagation import (
    PROPAGATION_DOCS,
    FindingKind,
    Flow,
    ForkedService,
    HopStatus,
    Workload,
    check_propagation,
    learn_call_graph,
)

NS = "shop"
FORKS = [
    ForkedService("frontend", NS, "frontend", "frontend-sbx-k"),
    ForkedService("orders", NS, "orders", "orders-sbx-k"),
    ForkedService("payments", NS, "payments", "payments-sbx-k"),
]


def w(name: str, ns: str = NS) -> Workload:
    return Workload(ns, name)


def flow(src: str, dst: str, n: float, errors: float = 0.0) -> Flow:
    return Flow(w(src), w(dst), n, errors)


BASELINE_GRAPH = [
    flow("frontend", "orders", 100),
    flow("orders", "payments", 80),
    Flow(Workload("istio-system", "unknown"), w("frontend"), 120),
]


def test_a_healthy_chain_propagates_every_hop():
    flows = [
        *BASELINE_GRAPH,
        Flow(Workload("unknown", "unknown"), w("frontend-sbx-k"), 10),
        flow("frontend-sbx-k", "orders-sbx-k", 10),
        flow("orders-sbx-k", "payments-sbx-k", 10),
    ]
    report = check_propagation(flows, FORKS)
    assert [(h.source, h.destination, h.status) for h in report.hops] == [
        ("frontend", "orders", HopStatus.PROPAGATED),
        ("orders", "payments", HopStatus.PROPAGATED),
    ]
    assert not report.key_dropped
    assert report.findings == ()
    orders = next(f for f in report.forks if f.service == "orders")
    assert orders.requests == 10
    assert [(s.workload, s.role) for s in orders.sources] == [
        (w("frontend-sbx-k"), "fork:frontend")
    ]


def test_the_middle_fork_that_drops_the_key_is_named():
    flows = [
        *BASELINE_GRAPH,
        Flow(Workload("unknown", "unknown"), w("frontend-sbx-k"), 10),
        flow("frontend-sbx-k", "orders-sbx-k", 10),
        flow("orders-sbx-k", "payments", 10),
    ]
    report = check_propagation(flows, FORKS)
    assert report.key_dropped
    assert [(h.source, h.destination) for h in report.dropped_hops] == [("orders", "payments")]
    dropped = report.findings[0]
    assert dropped.kind == FindingKind.DROPPED_KEY
    assert dropped.service == "orders" and dropped.destination == "payments"
    assert dropped.message.startswith(
        "orders dropped the routing key: propagate the `baggage` header in orders's outgoing"
    )
    assert dropped.links == PROPAGATION_DOCS
    no_traffic = [f for f in report.findings if f.kind == FindingKind.NO_TRAFFIC]
    assert [f.service for f in no_traffic] == ["payments"]
    assert "upstream fork dropped the key" in no_traffic[0].message


def test_some_calls_keep_the_key_and_some_lose_it():
    flows = [
        *BASELINE_GRAPH,
        Flow(Workload("unknown", "unknown"), w("frontend-sbx-k"), 10),
        flow("frontend-sbx-k", "orders-sbx-k", 10),
        flow("orders-sbx-k", "payments-sbx-k", 6),
        flow("orders-sbx-k", "payments", 4),
    ]
    report = check_propagation(flows, FORKS)
    hop = next(h for h in report.hops if h.source == "orders")
    assert hop.status == HopStatus.PARTIAL and (hop.to_fork, hop.to_baseline) == (6, 4)
    assert not report.key_dropped  # a warning, not a failed CI job
    assert report.findings[0].kind == FindingKind.PARTIAL_KEY


def test_a_fork_with_no_traffic_says_how_to_send_some():
    report = check_propagation(BASELINE_GRAPH, FORKS)
    assert {f.service for f in report.findings if f.kind == FindingKind.NO_TRAFFIC} == {
        "frontend",
        "orders",
        "payments",
    }
    assert all(h.status == HopStatus.IDLE for h in report.hops)
    assert not report.key_dropped
    assert "curl" in report.findings[0].message


def test_a_fork_failing_more_than_its_baseline_is_flagged():
    flows = [
        flow("frontend", "orders", 100, errors=1),
        flow("frontend-sbx-k", "orders-sbx-k", 20, errors=10),
    ]
    forks = FORKS[:2]
    report = check_propagation(flows, forks)
    orders = next(f for f in report.forks if f.service == "orders")
    assert orders.error_rate == pytest.approx(0.5)
    assert orders.baseline_error_rate == pytest.approx(0.01)
    flagged = [f for f in report.findings if f.kind == FindingKind.HIGHER_ERROR_RATE]
    assert [f.service for f in flagged] == ["orders"]
    assert "50%" in flagged[0].message and "1%" in flagged[0].message


def test_a_few_failures_on_little_traffic_are_not_flagged():
    flows = [flow("frontend", "orders", 100), flow("frontend-sbx-k", "orders-sbx-k", 3, 1)]
    report = check_propagation(flows, FORKS[:2])
    assert not [f for f in report.findings if f.kind == FindingKind.HIGHER_ERROR_RATE]


def test_the_call_graph_is_learnt_from_baselines_and_forks_and_ignores_strangers():
    flows = [
        flow("frontend", "orders", 5),
        flow("orders-sbx-k", "payments", 1),
        flow("search", "orders", 9),  # not a forked service
        Flow(w("frontend", "other-ns"), w("payments"), 3),  # same name, other namespace
    ]
    assert learn_call_graph(flows, FORKS) == {("frontend", "orders"), ("orders", "payments")}


def test_negative_counts_are_refused():
    with pytest.raises(ValueError):
        Flow(w("a"), w("b"), -1)
