"""The routing-propagation check: which hop of a sandbox dropped the routing key.

Pure: it reads request counts the mesh already keeps (Istio's `istio_requests_total`,
Linkerd's `response_total`, turned into `Flow`s by `sandboxes.telemetry`) and the
sandbox's forks, and says, per fork, who sent it requests, and per edge
"fork A -> service B" (B forked too) whether A's calls reached B's fork or B's
baseline. No Django, no I/O; `docs/routing.md` explains how to read the result.

The call graph is learnt from the same counts: if A's baseline calls B's baseline, or
A's fork calls either of B's workloads, then A calls B. A fork A whose calls to B all
reached B's baseline while B's fork got none of them lost the key on its way out: the
application did not copy the incoming `baggage` header onto its outgoing request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# OpenTelemetry's own pages on propagating context (and so `baggage`) per language.
PROPAGATION_DOCS: Mapping[str, str] = {
    "Go": "https://opentelemetry.io/docs/languages/go/instrumentation/",
    "Java": "https://opentelemetry.io/docs/languages/java/instrumentation/",
    "JavaScript": "https://opentelemetry.io/docs/languages/js/propagation/",
    "Python": "https://opentelemetry.io/docs/languages/python/propagation/",
    ".NET": "https://opentelemetry.io/docs/languages/dotnet/instrumentation/",
    "Concept": "https://opentelemetry.io/docs/concepts/context-propagation/",
}

# A fork whose error rate is this much above its baseline's (absolute, 0..1) is flagged,
# once it has served at least MIN_REQUESTS_FOR_RATE requests: two failures out of three
# say little.
ERROR_RATE_MARGIN = 0.05
MIN_REQUESTS_FOR_RATE = 5.0


@dataclass(frozen=True, order=True)
class Workload:
    """A workload as the mesh names it: namespace and Deployment name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


UNKNOWN = "unknown"  # Istio's source_workload for callers outside the mesh


@dataclass(frozen=True)
class Flow:
    """Requests from one workload to another over the window, and how many failed."""

    source: Workload
    destination: Workload
    requests: float
    errors: float = 0.0

    def __post_init__(self) -> None:
        if self.requests < 0 or self.errors < 0:
            raise ValueError("counts cannot be negative")


@dataclass(frozen=True)
class ForkedService:
    """One fork of the sandbox: its catalog name, its baseline and fork Deployments."""

    service: str
    namespace: str
    baseline: str
    fork: str

    @property
    def baseline_workload(self) -> Workload:
        return Workload(self.namespace, self.baseline)

    @property
    def fork_workload(self) -> Workload:
        return Workload(self.namespace, self.fork)


class HopStatus(StrEnum):
    PROPAGATED = "propagated"  # every call of fork A to B reached B's fork
    DROPPED = "dropped"  # calls reached B's baseline, none reached B's fork
    PARTIAL = "partial"  # some calls lost the key, some kept it
    IDLE = "idle"  # A calls B (the graph says so) but fork A made no such call


class FindingKind(StrEnum):
    DROPPED_KEY = "dropped_key"
    PARTIAL_KEY = "partial_key"
    NO_TRAFFIC = "no_traffic"
    HIGHER_ERROR_RATE = "higher_error_rate"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class SourceCount:
    workload: Workload
    role: str  # "fork:<service>", "baseline:<service>", "outside the mesh" or ""
    requests: float


@dataclass(frozen=True)
class ForkTraffic:
    service: str
    fork: Workload
    baseline: Workload
    requests: float
    errors: float
    baseline_requests: float
    baseline_errors: float
    sources: tuple[SourceCount, ...]

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def baseline_error_rate(self) -> float | None:
        return self.baseline_errors / self.baseline_requests if self.baseline_requests else None


@dataclass(frozen=True)
class Hop:
    source: str  # the calling service (its fork is the caller)
    destination: str
    to_fork: float
    to_baseline: float
    status: HopStatus


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    severity: Severity
    service: str
    message: str
    destination: str = ""
    links: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PropagationReport:
    forks: tuple[ForkTraffic, ...]
    hops: tuple[Hop, ...]
    findings: tuple[Finding, ...]

    @property
    def dropped_hops(self) -> tuple[Hop, ...]:
        return tuple(h for h in self.hops if h.status == HopStatus.DROPPED)

    @property
    def key_dropped(self) -> bool:
        """True when some hop lost the key: what the CLI's exit code reports."""
        return bool(self.dropped_hops)


def _fmt(count: float) -> str:
    return f"{count:.0f}" if abs(count - round(count)) < 0.05 else f"{count:.1f}"


def _roles(forks: Iterable[ForkedService]) -> dict[Workload, tuple[str, bool]]:
    roles: dict[Workload, tuple[str, bool]] = {}
    for f in forks:
        roles[f.fork_workload] = (f.service, True)
        roles[f.baseline_workload] = (f.service, False)
    return roles


def _role_label(workload: Workload, roles: Mapping[Workload, tuple[str, bool]]) -> str:
    if workload.name == UNKNOWN:
        return "outside the mesh"
    if workload not in roles:
        return ""
    service, is_fork = roles[workload]
    return f"fork:{service}" if is_fork else f"baseline:{service}"


def learn_call_graph(flows: Iterable[Flow], forks: Iterable[ForkedService]) -> set[tuple[str, str]]:
    """Service-level edges (A, B) between forked services: A's baseline or fork called
    B's baseline or fork in the window."""
    roles = _roles(forks)
    edges: set[tuple[str, str]] = set()
    for flow in flows:
        if flow.requests <= 0:
            continue
        src, dst = roles.get(flow.source), roles.get(flow.destination)
        if src and dst and src[0] != dst[0]:
            edges.add((src[0], dst[0]))
    return edges


def check_propagation(
    flows: Iterable[Flow],
    forks: Iterable[ForkedService],
    *,
    error_rate_margin: float = ERROR_RATE_MARGIN,
    min_requests_for_rate: float = MIN_REQUESTS_FOR_RATE,
) -> PropagationReport:
    """Per fork: requests received and from whom, error rate against the baseline. Per
    edge between forked services: did the fork's calls keep the key. Findings name the
    hop that dropped it."""
    forks = sorted(forks, key=lambda f: f.service)
    flows = [f for f in flows if f.requests > 0]
    by_service = {f.service: f for f in forks}
    roles = _roles(forks)

    received: dict[Workload, float] = {}
    failed: dict[Workload, float] = {}
    sources: dict[Workload, dict[Workload, float]] = {}
    between: dict[tuple[Workload, Workload], float] = {}
    for flow in flows:
        received[flow.destination] = received.get(flow.destination, 0.0) + flow.requests
        failed[flow.destination] = failed.get(flow.destination, 0.0) + flow.errors
        per_source = sources.setdefault(flow.destination, {})
        per_source[flow.source] = per_source.get(flow.source, 0.0) + flow.requests
        pair = (flow.source, flow.destination)
        between[pair] = between.get(pair, 0.0) + flow.requests

    fork_rows: list[ForkTraffic] = []
    findings: list[Finding] = []
    for f in forks:
        srcs = sources.get(f.fork_workload, {})
        row = ForkTraffic(
            service=f.service,
            fork=f.fork_workload,
            baseline=f.baseline_workload,
            requests=received.get(f.fork_workload, 0.0),
            errors=failed.get(f.fork_workload, 0.0),
            baseline_requests=received.get(f.baseline_workload, 0.0),
            baseline_errors=failed.get(f.baseline_workload, 0.0),
            sources=tuple(
                SourceCount(w, _role_label(w, roles), n)
                for w, n in sorted(srcs.items(), key=lambda kv: (-kv[1], kv[0]))
            ),
        )
        fork_rows.append(row)

    hops: list[Hop] = []
    for a, b in sorted(learn_call_graph(flows, forks)):
        fa, fb = by_service[a], by_service[b]
        to_fork = between.get((fa.fork_workload, fb.fork_workload), 0.0)
        to_baseline = between.get((fa.fork_workload, fb.baseline_workload), 0.0)
        if to_fork and to_baseline:
            status = HopStatus.PARTIAL
        elif to_baseline:
            status = HopStatus.DROPPED
        elif to_fork:
            status = HopStatus.PROPAGATED
        else:
            status = HopStatus.IDLE
        hops.append(Hop(a, b, to_fork, to_baseline, status))
        if status == HopStatus.DROPPED:
            findings.append(
                Finding(
                    FindingKind.DROPPED_KEY,
                    Severity.ERROR,
                    a,
                    f"{a} dropped the routing key: propagate the `baggage` header in {a}'s "
                    f"outgoing calls. {_fmt(to_baseline)} call(s) from the fork of {a} "
                    f"reached the baseline of {b}; its fork got none.",
                    destination=b,
                    links=PROPAGATION_DOCS,
                )
            )
        elif status == HopStatus.PARTIAL:
            findings.append(
                Finding(
                    FindingKind.PARTIAL_KEY,
                    Severity.WARNING,
                    a,
                    f"Some of {a}'s calls lost the routing key: {_fmt(to_baseline)} of "
                    f"{_fmt(to_fork + to_baseline)} call(s) from the fork of {a} reached the "
                    f"baseline of {b}. One code path of {a} does not propagate `baggage`.",
                    destination=b,
                    links=PROPAGATION_DOCS,
                )
            )

    dropped_to = {h.destination for h in hops if h.status == HopStatus.DROPPED}
    for row in fork_rows:
        if not row.requests:
            why = (
                " An upstream fork dropped the key on its way here (see above)."
                if row.service in dropped_to
                else " Send a request that carries the sandbox's key (see the curl snippet)."
            )
            findings.append(
                Finding(
                    FindingKind.NO_TRAFFIC,
                    Severity.WARNING,
                    row.service,
                    f"The fork of {row.service} received no requests in this window.{why}",
                )
            )
            continue
        fork_rate, base_rate = row.error_rate, row.baseline_error_rate or 0.0
        if (
            fork_rate is not None
            and row.requests >= min_requests_for_rate
            and fork_rate - base_rate > error_rate_margin
        ):
            findings.append(
                Finding(
                    FindingKind.HIGHER_ERROR_RATE,
                    Severity.WARNING,
                    row.service,
                    f"The fork of {row.service} fails {fork_rate:.0%} of its requests; "
                    f"its baseline fails {base_rate:.0%} over the same window.",
                )
            )

    order = {Severity.ERROR: 0, Severity.WARNING: 1}
    findings.sort(key=lambda x: (order[x.severity], x.service, x.destination))
    return PropagationReport(tuple(fork_rows), tuple(hops), tuple(findings))
