"""Reads the mesh's request counts from a Prometheus-compatible HTTP API and runs the
routing-propagation check (`routing.propagation`) for one sandbox.

The metrics and labels are the meshes' own (docs/routing.md cites their pages):
- Istio `istio_requests_total`, reported by the server proxy (`reporter="destination"`),
  by `source_workload[_namespace]`, `destination_workload[_namespace]`,
  `destination_service` and `response_code`; 5xx counts as an error.
- Linkerd `response_total`, reported by the client proxy (`direction="outbound"`), by
  `namespace`/`deployment` (the scrape's pod labels) and `dst_namespace`/
  `dst_deployment`, with `classification="failure"` as an error. `response_total`
  rather than `request_total`: it carries the classification, so one query gives both.

Every failure of the telemetry backend (down, slow, refusing the token, a broken
answer) becomes `TelemetryUnavailable`, a 503 with a message a person can act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from routing.names import fork_object_name
from routing.propagation import (
    Flow,
    ForkedService,
    PropagationReport,
    Workload,
    check_propagation,
)
from sandboxes.errors import SidestageError
from sandboxes.models import Mesh, Sandbox

WINDOWS = ("1m", "5m", "15m", "1h", "6h", "24h")
DEFAULT_WINDOW = "15m"

ISTIO_METRIC = "istio_requests_total"
LINKERD_METRIC = "response_total"
ISTIO_MESHES = {Mesh.ISTIO}
LINKERD_MESHES = {Mesh.GATEWAY_API, Mesh.LINKERD_POLICY}
_NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Bounds the memory one answer can take; a window over a few namespaces has far fewer.
MAX_SERIES = 5000


class TelemetryUnavailable(SidestageError):
    code = "telemetry_unavailable"
    status = 503


@dataclass(frozen=True)
class TelemetryConfig:
    url: str
    token: str = ""
    timeout: float = 5.0

    @classmethod
    def from_settings(cls) -> TelemetryConfig | None:
        url = (settings.SIDESTAGE_PROMETHEUS_URL or "").rstrip("/")
        if not url:
            return None
        return cls(
            url=url,
            token=settings.SIDESTAGE_PROMETHEUS_TOKEN or "",
            timeout=float(settings.SIDESTAGE_PROMETHEUS_TIMEOUT),
        )

    @property
    def display_url(self) -> str:
        """The URL without any credentials a person put in it."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"


def _namespaces_regex(namespaces: Iterable[str]) -> str:
    names = sorted(set(namespaces))
    for name in names:
        if not _NAMESPACE_RE.match(name):
            raise ValueError(f"not a namespace name: {name!r}")
    return "|".join(names)


def istio_query(window: str, namespaces: Iterable[str]) -> str:
    """Requests into the sandbox's namespaces over `window`, per caller and callee."""
    return (
        "sum by (source_workload, source_workload_namespace, destination_workload, "
        "destination_workload_namespace, destination_service, response_code) "
        f'(increase({ISTIO_METRIC}{{reporter="destination", '
        f'destination_workload_namespace=~"{_namespaces_regex(namespaces)}"}}[{window}]))'
    )


def linkerd_query(window: str, namespaces: Iterable[str]) -> str:
    return (
        "sum by (namespace, deployment, dst_namespace, dst_deployment, classification) "
        f'(increase({LINKERD_METRIC}{{direction="outbound", '
        f'dst_namespace=~"{_namespaces_regex(namespaces)}"}}[{window}]))'
    )


def _labels(sample: Any) -> dict[str, str]:
    labels = sample.get("metric") if isinstance(sample, dict) else None
    if not isinstance(labels, dict):
        raise TelemetryUnavailable("The telemetry backend sent a sample without labels.")
    return {str(k): str(v) for k, v in labels.items()}


def _value(sample: dict[str, Any]) -> float:
    try:
        value = float(sample["value"][1])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise TelemetryUnavailable("The telemetry backend sent a sample without a value.") from exc
    return value if value == value and value >= 0 else 0.0  # NaN and resets count as 0


def istio_flows(samples: Iterable[dict[str, Any]]) -> list[Flow]:
    flows = []
    for sample in samples:
        labels = _labels(sample)
        count = _value(sample)
        if not count:
            continue
        error = str(labels.get("response_code", "")).startswith("5")
        flows.append(
            Flow(
                source=Workload(
                    labels.get("source_workload_namespace", "unknown"),
                    labels.get("source_workload", "unknown"),
                ),
                destination=Workload(
                    labels.get("destination_workload_namespace", "unknown"),
                    labels.get("destination_workload", "unknown"),
                ),
                requests=count,
                errors=count if error else 0.0,
            )
        )
    return flows


def linkerd_flows(samples: Iterable[dict[str, Any]]) -> list[Flow]:
    flows = []
    for sample in samples:
        labels = _labels(sample)
        count = _value(sample)
        if not count:
            continue
        flows.append(
            Flow(
                source=Workload(
                    labels.get("namespace", "unknown"), labels.get("deployment", "unknown")
                ),
                destination=Workload(
                    labels.get("dst_namespace", "unknown"), labels.get("dst_deployment", "unknown")
                ),
                requests=count,
                errors=count if labels.get("classification") == "failure" else 0.0,
            )
        )
    return flows


class PrometheusReader:
    """`GET /api/v1/query` with a timeout; every failure is a TelemetryUnavailable."""

    def __init__(self, config: TelemetryConfig, transport: httpx.BaseTransport | None = None):
        self.config = config
        headers = {"Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._client = httpx.Client(
            headers=headers, timeout=config.timeout, transport=transport, follow_redirects=False
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PrometheusReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, promql: str) -> list[dict[str, Any]]:
        where = self.config.display_url
        try:
            response = self._client.get(f"{self.config.url}/api/v1/query", params={"query": promql})
        except httpx.TimeoutException as exc:
            raise TelemetryUnavailable(
                f"The telemetry backend at {where} did not answer within "
                f"{self.config.timeout:g} seconds."
            ) from exc
        except httpx.HTTPError as exc:
            raise TelemetryUnavailable(
                f"The telemetry backend at {where} cannot be reached: {type(exc).__name__}."
            ) from exc
        if response.status_code in (401, 403):
            raise TelemetryUnavailable(
                f"The telemetry backend at {where} refused the request "
                f"(HTTP {response.status_code}); check SIDESTAGE_PROMETHEUS_TOKEN."
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TelemetryUnavailable(
                f"The telemetry backend at {where} answered HTTP {response.status_code} "
                "without a Prometheus API response."
            )
        if body.get("status") != "success":
            raise TelemetryUnavailable(
                f"The telemetry backend at {where} rejected the query: "
                f"{str(body.get('error') or body.get('errorType') or 'unknown error')[:300]}"
            )
        data = body.get("data")
        if not isinstance(data, dict):
            data = {}
        result = data.get("result")
        if data.get("resultType") != "vector" or not isinstance(result, list):
            raise TelemetryUnavailable(
                f"The telemetry backend at {where} sent an unexpected answer shape."
            )
        if len(result) > MAX_SERIES:
            raise TelemetryUnavailable(
                f"The telemetry backend at {where} sent {len(result)} series, more than "
                f"{MAX_SERIES}; narrow the window."
            )
        return result


def forked_services(sandbox: Sandbox) -> list[ForkedService]:
    """The sandbox's forks the meshes count (a Linkerd 1 fork has no such metrics)."""
    out = []
    for fork in sandbox.forks.all():
        baseline = fork.baseline
        if baseline.mesh not in ISTIO_MESHES | LINKERD_MESHES:
            continue
        out.append(
            ForkedService(
                service=baseline.name,
                namespace=baseline.namespace,
                baseline=baseline.deployment,
                fork=fork_object_name(baseline.name, sandbox.routing_key),
            )
        )
    return sorted(out, key=lambda f: f.service)


@dataclass(frozen=True)
class TrafficResult:
    window: str
    config: TelemetryConfig
    queries: tuple[str, ...]
    report: PropagationReport
    skipped: tuple[str, ...]  # forked services whose mesh has no such metrics


def read_traffic(
    sandbox: Sandbox, window: str, config: TelemetryConfig, reader: PrometheusReader | None = None
) -> TrafficResult:
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}")
    forks = forked_services(sandbox)
    meshes = {f.baseline.name: f.baseline.mesh for f in sandbox.forks.all()}
    skipped = tuple(
        sorted(name for name, mesh in meshes.items() if mesh not in ISTIO_MESHES | LINKERD_MESHES)
    )
    istio_ns = {f.namespace for f in forks if meshes[f.service] in ISTIO_MESHES}
    linkerd_ns = {f.namespace for f in forks if meshes[f.service] in LINKERD_MESHES}
    queries: list[str] = []
    flows: list[Flow] = []
    own = reader is None
    reader = reader or PrometheusReader(config)
    try:
        if istio_ns:
            queries.append(istio_query(window, istio_ns))
            flows += istio_flows(reader.query(queries[-1]))
        if linkerd_ns:
            queries.append(linkerd_query(window, linkerd_ns))
            flows += linkerd_flows(reader.query(queries[-1]))
    finally:
        if own:
            reader.close()
    return TrafficResult(window, config, tuple(queries), check_propagation(flows, forks), skipped)


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _count(value: float) -> float:
    return round(value, 2)


def report_document(report: PropagationReport) -> dict[str, Any]:
    """The check's result in the API's camelCase shape (also what the panel renders)."""
    return {
        "forks": [
            {
                "service": row.service,
                "fork": str(row.fork),
                "baseline": str(row.baseline),
                "requests": _count(row.requests),
                "errors": _count(row.errors),
                "errorRate": _rate(row.error_rate),
                "baselineRequests": _count(row.baseline_requests),
                "baselineErrors": _count(row.baseline_errors),
                "baselineErrorRate": _rate(row.baseline_error_rate),
                "sources": [
                    {
                        "workload": str(src.workload),
                        "role": src.role,
                        "requests": _count(src.requests),
                    }
                    for src in row.sources
                ],
            }
            for row in report.forks
        ],
        "hops": [
            {
                "from": hop.source,
                "to": hop.destination,
                "toFork": _count(hop.to_fork),
                "toBaseline": _count(hop.to_baseline),
                "status": hop.status.value,
            }
            for hop in report.hops
        ],
        "findings": [
            {
                "kind": f.kind.value,
                "severity": f.severity.value,
                "service": f.service,
                "destination": f.destination,
                "message": f.message,
                "links": [{"title": title, "url": url} for title, url in f.links.items()],
            }
            for f in report.findings
        ],
        "keyDropped": report.key_dropped,
    }


def manual_check_curl(sandbox: Sandbox, window: str) -> str:
    """What a person can run by hand when the portal has no telemetry configured: the
    query, against whatever Prometheus scrapes the mesh."""
    namespaces = {f.namespace for f in forked_services(sandbox)} or {"default"}
    return (
        'curl -sG "$PROMETHEUS_URL/api/v1/query" \\\n'
        '  -H "Authorization: Bearer $PROMETHEUS_TOKEN" \\\n'
        f"  --data-urlencode 'query={istio_query(window, namespaces)}'"
    )


def sandbox_traffic_document(
    sandbox: Sandbox, *, window: str = DEFAULT_WINDOW, curl: str = ""
) -> dict[str, Any]:
    """The whole answer for the API, the panel and the CLI. Raises TelemetryUnavailable
    when a backend is configured but does not answer usefully."""
    config = TelemetryConfig.from_settings()
    base: dict[str, Any] = {"sandbox": sandbox.name, "window": window, "howToTest": curl}
    if config is None:
        return {
            **base,
            "telemetry": {
                "state": "not_configured",
                "message": "No telemetry is configured: Sidestage cannot see the mesh's "
                "request counts (set SIDESTAGE_PROMETHEUS_URL). Send a request with the "
                "curl below and check the forks' logs, or run the query by hand.",
                "source": "",
                "queries": [],
                "manualQuery": manual_check_curl(sandbox, window),
            },
            "skipped": [],
            **report_document(PropagationReport((), (), ())),
        }
    result = read_traffic(sandbox, window, config)
    return {
        **base,
        "telemetry": {
            "state": "ok",
            "message": "",
            "source": config.display_url,
            "queries": list(result.queries),
            "manualQuery": "",
        },
        "skipped": list(result.skipped),
        **report_document(result.report),
    }
