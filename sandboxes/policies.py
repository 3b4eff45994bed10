"""What the team's data-isolation policy does to each data resource of a fork.

Checked when a sandbox is created or changed (a `deny` refuses the fork) and realised
by the reconciler; the UI shows the same plan before anyone submits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandboxes.models import (
    ACTIONS_FOR_KIND,
    BaselineService,
    DataAction,
    DataResource,
    PolicyDecision,
    Team,
    decide_data_action,
)


@dataclass(frozen=True)
class DataPlan:
    resource: DataResource
    decision: PolicyDecision

    @property
    def action(self) -> str:
        return self.decision.action

    @property
    def refused(self) -> bool:
        return self.action == DataAction.DENY

    @property
    def problem(self) -> str | None:
        if self.refused:
            return (
                f"The data-isolation policy denies forks of {self.resource.baseline.name} "
                f"access to {self.resource.name} ({self.resource.get_kind_display()}, "
                f"${self.resource.env_var}); rule: {self.decision.explanation}."
            )
        if self.action not in ACTIONS_FOR_KIND.get(self.resource.kind, set()):
            return (
                f"The policy asks for '{self.action}' on {self.resource.name}, which a "
                f"{self.resource.get_kind_display()} does not support; fix the policy."
            )
        return None


def plan_data_isolation(team: Team, baseline: BaselineService, profile: str) -> list[DataPlan]:
    """The decision for every data resource of `baseline`. Uses prefetched
    `data_resources` and policy `rules` when the caller loaded them."""
    resources = list(baseline.data_resources.all())
    if not resources:
        return []
    policy = team.policy
    if policy is None:
        # No policy means nobody decided what a fork may do with shared data: refuse.
        return [DataPlan(r, PolicyDecision(action=DataAction.DENY, rule=None)) for r in resources]
    rules = list(policy.rules.all())
    return [
        DataPlan(r, decide_data_action(rules, policy.fallback_action, r, profile))
        for r in resources
    ]
