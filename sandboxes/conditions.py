"""Kubernetes-style status conditions, stored as a JSON list on the Sandbox.

`lastTransitionTime` changes only when a condition's status changes, as in the API
conventions, so a resync that finds nothing new writes nothing new.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

# Condition types, in the order people read them.
APPROVED = "Approved"
POLICY_SATISFIED = "PolicySatisfied"
WORKLOADS_READY = "WorkloadsReady"
ROUTES_PROGRAMMED = "RoutesProgrammed"
READY = "Ready"
DELETED = "Deleted"

# Render-only mode (no cluster): the manifests were written, which is the product of
# that mode. Ready stays False (nothing runs), but `wait` counts it as done.
RENDERED = "Rendered"
CONDITION_ORDER = [APPROVED, POLICY_SATISFIED, WORKLOADS_READY, ROUTES_PROGRAMMED, READY, DELETED]

# Reasons the reconciler writes on a False condition that no retry will change: a
# person has to act (fix the catalog, the policy or the spec, approve, configure a
# cluster). Waiters (the API's `wait`, the CLI) stop on these instead of timing out.
# Everything else (Progressing, AwaitingApproval, ClusterUnreachable...) may still
# turn True on its own.
TERMINAL_REASONS = frozenset(
    {
        # gates
        "ApprovalRejected",
        "ApprovalExpired",
        "PolicyDenied",
        # data isolation
        "NoReadOnlyEndpoint",
        "EnvNotRewritable",
        "NoProvisionerCredentials",
        "UnsupportedIsolation",
        "DataProvisioningFailed",
        # the cluster refused or lacks something
        "BaselineNotFound",
        "ForeignVirtualService",
        "NameTaken",
        "RouteLimitExceeded",
        "CRDMissing",
        "Invalid",
        "Forbidden",
        "ApplyRejected",
        "ProgressDeadlineExceeded",
        # render-only mode: nothing will ever be deployed
        "NoCluster",
    }
)


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    lastTransitionTime: str
    observedGeneration: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Condition:
        return cls(
            type=data["type"],
            status=data["status"],
            reason=data.get("reason", ""),
            message=data.get("message", ""),
            lastTransitionTime=data.get("lastTransitionTime", ""),
            observedGeneration=int(data.get("observedGeneration", 0)),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def condition_status(conditions: list[dict[str, Any]] | None, type_: str) -> str:
    for cond in conditions or []:
        if cond.get("type") == type_:
            return str(cond.get("status", "Unknown"))
    return "Unknown"


def set_condition(
    conditions: list[dict[str, Any]] | None,
    *,
    type_: str,
    status: str,
    reason: str,
    message: str,
    generation: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """Return a new list with one condition set; keeps lastTransitionTime if the status
    did not change. The list stays in CONDITION_ORDER so renders are stable."""
    if status not in {"True", "False", "Unknown"}:
        raise ValueError(f"condition status must be True, False or Unknown, not {status!r}")
    by_type = {c["type"]: dict(c) for c in conditions or []}
    previous = by_type.get(type_)
    transition = now.isoformat().replace("+00:00", "Z")
    if previous and previous.get("status") == status and previous.get("lastTransitionTime"):
        transition = previous["lastTransitionTime"]
    by_type[type_] = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        lastTransitionTime=transition,
        observedGeneration=generation,
    ).to_dict()
    order = {name: i for i, name in enumerate(CONDITION_ORDER)}
    return sorted(by_type.values(), key=lambda c: (order.get(c["type"], 99), c["type"]))
