"""The routing-propagation check's cost as the mesh grows: a real Prometheus answering
the check's PromQL over a mesh of N workloads, then the pure check over the answer.

    .venv/bin/python bench/traffic_check.py [--workloads 50] [--forks 10]

Needs the cached binary (`scripts/prometheus-testenv build`). Starts it on loopback
scraping a prometheus-client exporter every second with Istio-shaped counters: a chain
of `workloads` baselines in one namespace, `forks` of them forked (the middle fork drops
the key), each baseline also called by 5 other workloads. Times the query
(`sandboxes.telemetry.istio_query`) and the check (`routing.propagation`); writes
bench/results/traffic-<timestamp>.{md,json}.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workloads", type=int, default=50)
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    import django

    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    import httpx
    import pytest

    from routing.propagation import ForkedService, check_propagation
    from sandboxes.telemetry import PrometheusReader, TelemetryConfig, istio_flows, istio_query
    from tests.fixtures import prometheus as fx

    names = [f"svc{i}" for i in range(args.workloads)]
    forked = names[: args.forks]
    forks = [ForkedService(n, "bench", n, f"{n}-sbx-k") for n in forked]
    calls = [fx.Call("bench", a, "bench", b, 50) for a, b in itertools.pairwise(names)]
    calls += [fx.Call("other", f"caller{j}", "bench", n, 10) for n in names for j in range(5)]
    middle = args.forks // 2
    for i, (a, b) in enumerate(itertools.pairwise(forked)):
        target = b if i == middle else f"{b}-sbx-k"
        calls.append(fx.Call("bench", f"{a}-sbx-k", "bench", target, 5))

    factory = pytest.TempPathFactory(
        given_basetemp=Path(tempfile.mkdtemp()),
        retention_count=1,
        retention_policy="none",
        trace=lambda *a: None,
        _ispytest=True,
    )
    gen = fx.prometheus.__wrapped__(factory)
    server = next(gen)
    try:
        t0 = time.perf_counter()
        server.feed(calls)
        fed = time.perf_counter() - t0
        promql = istio_query("1m", ["bench"])
        query_ms, check_ms = [], []
        with PrometheusReader(TelemetryConfig(server.url, timeout=30)) as reader:
            for _ in range(args.rounds):
                t1 = time.perf_counter()
                samples = reader.query(promql)
                t2 = time.perf_counter()
                report = check_propagation(istio_flows(samples), forks)
                t3 = time.perf_counter()
                query_ms.append((t2 - t1) * 1000)
                check_ms.append((t3 - t2) * 1000)
        assert report.key_dropped, "the bench's chain drops the key in the middle"
        result = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}",
            "prometheus": server.version,
            "workloads": args.workloads,
            "forks": args.forks,
            "series": len(samples),
            "feed_seconds": round(fed, 2),
            "query_ms_p50": round(statistics.median(query_ms), 1),
            "query_ms_max": round(max(query_ms), 1),
            "check_ms_p50": round(statistics.median(check_ms), 2),
            "check_ms_max": round(max(check_ms), 2),
            "dropped_hops": [f"{h.source}->{h.destination}" for h in report.dropped_hops],
        }
    finally:
        next(gen, None)
        httpx.Client().close()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"traffic-{stamp}"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Routing-propagation check", ""] + [f"- {k}: {v}" for k, v in result.items()]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
