"""Checks a sandbox spec against what only the database knows: the catalog, the team's
allow-lists and limits, and its data-isolation policy. Collects every problem into a
FieldErrors with dotted paths (`forks[0].image`). The pure rules are in validation.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sandboxes.errors import FieldErrors
from sandboxes.models import BaselineService, DataIsolationPolicy, Profile, Team
from sandboxes.policies import plan_data_isolation
from sandboxes.validation import (
    DESCRIPTION_MAX,
    env_errors,
    image_reference_errors,
    labels_errors,
    registry_allowed,
    replicas_errors,
    text_errors,
)


@dataclass(frozen=True)
class ForkSpec:
    """One validated fork: the catalog entry and its overrides."""

    baseline: BaselineService
    image: str
    env: list[dict[str, str]]
    replicas: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.baseline.name,
            "image": self.image,
            "env": self.env,
            "replicas": self.replicas,
        }


def unknown_service_message(name: str, team: Team) -> str:
    return (
        f"Unknown service {name!r}: not in the catalog of services team {team.slug} may fork "
        "(GET /api/v1/services lists them)."
    )


def check_forks(
    team: Team,
    forks: Any,
    profile: str,
    errors: FieldErrors,
    *,
    already_forked: frozenset[str] = frozenset(),
) -> list[ForkSpec]:
    """Validate raw fork documents (from the API, the CLI or a form) against the catalog,
    the team's allow-lists and limits, and the data-isolation policy.

    A retired catalog entry takes no new forks; `already_forked` (the services the
    sandbox forks today) may stay until the sandbox expires."""
    if not isinstance(forks, Sequence) or isinstance(forks, str | bytes):
        errors.add("forks", "Must be a list of forks.")
        return []
    if not forks:
        errors.add("forks", "A sandbox needs at least one fork.")
        return []
    if len(forks) > team.max_forks_per_sandbox:
        errors.add(
            "forks", f"At most {team.max_forks_per_sandbox} forks per sandbox (the team's limit)."
        )
    names = [f.get("service") for f in forks if isinstance(f, Mapping)]
    catalog = {
        s.name: s
        for s in BaselineService.objects.filter(
            name__in=[n for n in names if isinstance(n, str)]
        ).prefetch_related("data_resources")
    }
    if team.policy_id:
        # One query for the rules, reused for every fork.
        team.policy = DataIsolationPolicy.objects.prefetch_related("rules").get(pk=team.policy_id)
    result: list[ForkSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(forks):
        path = f"forks[{i}]"
        if not isinstance(raw, Mapping):
            errors.add(path, 'Must be an object: {"service", "image", "env", "replicas"}.')
            continue
        unknown = set(raw) - {"service", "image", "env", "replicas"}
        if unknown:
            errors.add(path, f"Unknown keys: {', '.join(sorted(map(str, unknown)))}.")
        service_name = raw.get("service")
        baseline = catalog.get(service_name) if isinstance(service_name, str) else None
        if not isinstance(service_name, str) or not service_name:
            errors.add(f"{path}.service", "This field is required.")
        elif baseline is None or baseline.namespace not in (team.allowed_namespaces or []):
            # One message for "no such entry" and "an entry your team may not use": a
            # different answer would let a team enumerate other teams' catalog names.
            errors.add(f"{path}.service", unknown_service_message(service_name, team))
            baseline = None
        elif baseline.is_retired and service_name not in already_forked:
            errors.add(
                f"{path}.service",
                f"Service {service_name} was retired from the catalog "
                f"({baseline.retired_at:%Y-%m-%d %H:%M} UTC) and takes no new forks.",
            )
            baseline = None
        elif service_name in seen:
            errors.add(f"{path}.service", f"Service {service_name} is forked twice.")
            baseline = None
        if isinstance(service_name, str):
            seen.add(service_name)

        image = raw.get("image", "") or ""
        image_problems = image_reference_errors(image)
        for message in image_problems:
            errors.add(f"{path}.image", message)
        if image and not image_problems and not registry_allowed(image, team.allowed_registries):
            allowed = ", ".join(team.allowed_registries) or "none"
            errors.add(
                f"{path}.image",
                f"Registry not allowed for team {team.slug} (allowed: {allowed}).",
            )
        env = raw.get("env", [])
        for field, messages in env_errors(env, prefix=f"{path}.env").items():
            for message in messages:
                errors.add(field, message)
        replicas = raw.get("replicas", 1)
        for message in replicas_errors(replicas, team.max_replicas):
            errors.add(f"{path}.replicas", message)

        if baseline is not None:
            for plan in plan_data_isolation(team, baseline, profile):
                if plan.problem:
                    errors.add(f"{path}.service", plan.problem)
            # The data policy decides these variables; an override would defeat it.
            managed = {r.env_var: r.name for r in baseline.data_resources.all()}
            for j, item in enumerate(env if isinstance(env, list) else []):
                name = item.get("name") if isinstance(item, Mapping) else None
                if name in managed:
                    errors.add(
                        f"{path}.env[{j}].name",
                        f"{name} points at {managed[name]}; the data-isolation policy "
                        "decides its value, so a fork cannot override it.",
                    )
            result.append(
                ForkSpec(
                    baseline=baseline,
                    image=image,
                    env=[{"name": e["name"], "value": e.get("value", "")} for e in env]
                    if isinstance(env, list) and all(isinstance(e, Mapping) for e in env)
                    else [],
                    replicas=replicas if isinstance(replicas, int) else 1,
                )
            )
    return result


def check_common(
    *,
    team: Team,
    profile: Any,
    description: Any,
    labels: Any,
    errors: FieldErrors,
) -> None:
    if profile not in Profile.values:
        errors.add("profile", f"Must be one of: {', '.join(Profile.values)}.")
    for message in text_errors(description, max_length=DESCRIPTION_MAX):
        errors.add("description", message)
    for message in labels_errors(labels):
        errors.add("labels", message)
