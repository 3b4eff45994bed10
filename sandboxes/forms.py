"""Browser forms: parse what the page posts into the arguments the services take, and
put the services' field errors back beside the inputs.

Validation itself lives in `sandboxes.services`; nothing here decides whether a value
is allowed. The create form is a small hand-written parser rather than a Django
formset: each catalog service is a card with its own inputs, and env rows come and go
through htmx, so parallel lists (`<service>-env-name`, `<service>-env-value`) are
simpler than management-form indexes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django import forms
from django.http import QueryDict

from sandboxes.models import BaselineService, Profile, Sandbox, Tenant
from sandboxes.validation import ascii_int

HOURS_RE = re.compile(r"^[0-9]{1,7}(?:\.[0-9]{1,6})?\Z", re.ASCII)

FORM_LEVEL_KEYS = ("__all__", "tenant", "labels", "forks")


@dataclass
class EnvRow:
    name: str = ""
    value: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def blank(self) -> bool:
        return not self.name.strip() and not self.value


@dataclass
class ForkDraft:
    """One catalog service on the create form, chosen or not."""

    baseline: BaselineService
    chosen: bool = False
    image: str = ""
    replicas: str = "1"
    env: list[EnvRow] = field(default_factory=lambda: [EnvRow()])
    errors: dict[str, list[str]] = field(default_factory=dict)
    # Which form row each posted env item came from (blank rows are not sent).
    env_positions: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.baseline.name

    def payload(self) -> dict[str, Any]:
        items: list[dict[str, str]] = []
        self.env_positions = []
        for position, row in enumerate(self.env):
            if row.blank:
                continue
            items.append({"name": row.name.strip(), "value": row.value})
            self.env_positions.append(position)
        replicas: Any = self.replicas.strip()
        if (number := ascii_int(replicas)) is not None:
            replicas = number  # anything else: the services layer says what is wrong
        return {
            "service": self.name,
            "image": self.image.strip(),
            "env": items,
            "replicas": replicas,
        }

    def add_error(self, key: str, messages: list[str]) -> None:
        self.errors.setdefault(key, []).extend(messages)


def _ttl_in_hours(message: str) -> str:
    """The services count a TTL in seconds; the form's field is in hours."""
    if match := re.search(r"at most ([0-9]+) seconds", message):
        hours = int(match.group(1)) / 3600
        shown = f"{hours:g}"
        return f"Must be at most {shown} hours (the team's maximum)."
    if "greater than 0 seconds" in message:
        return "Must be more than 0 hours."
    if "whole number of seconds" in message:
        return "Enter a number of hours, e.g. 8 or 1.5."
    return message


@dataclass
class SandboxDraft:
    """Everything the create form holds, posted or not yet."""

    tenant_id: int | None
    name: str = ""
    description: str = ""
    profile: str = Profile.DEV
    ttl_hours: str = ""
    approval_note: str = ""
    forks: list[ForkDraft] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def initial(cls, tenant: Tenant | None, catalog: list[BaselineService]) -> SandboxDraft:
        ttl = tenant.team.default_ttl if tenant else timedelta(hours=8)
        return cls(
            tenant_id=tenant.pk if tenant else None,
            ttl_hours=_hours(ttl),
            forks=[ForkDraft(baseline=b) for b in catalog],
        )

    @classmethod
    def from_sandbox(cls, sandbox: Sandbox, catalog: list[BaselineService]) -> SandboxDraft:
        """The edit form: the sandbox's current spec over the team's catalog."""
        forks = {f.baseline_id: f for f in sandbox.forks.all()}
        drafts = []
        for baseline in catalog:
            fork = forks.get(baseline.pk)
            if fork is None:
                drafts.append(ForkDraft(baseline=baseline))
                continue
            rows = [EnvRow(name=e["name"], value=e.get("value", "")) for e in fork.env]
            rows = rows or [EnvRow()]
            drafts.append(
                ForkDraft(
                    baseline=baseline,
                    chosen=True,
                    image=fork.image,
                    replicas=str(fork.replicas),
                    env=rows,
                )
            )
        return cls(
            tenant_id=sandbox.tenant_id,
            name=sandbox.name,
            description=sandbox.description,
            profile=sandbox.profile,
            forks=drafts,
        )

    @classmethod
    def from_post(cls, data: QueryDict, catalog: list[BaselineService]) -> SandboxDraft:
        chosen = set(data.getlist("services"))
        forks = []
        for baseline in catalog:
            prefix = baseline.name
            names = data.getlist(f"{prefix}-env-name")
            values = data.getlist(f"{prefix}-env-value")
            rows = [EnvRow(name=n, value=v) for n, v in zip(names, values, strict=False)]
            forks.append(
                ForkDraft(
                    baseline=baseline,
                    chosen=baseline.name in chosen,
                    image=data.get(f"{prefix}-image", ""),
                    replicas=data.get(f"{prefix}-replicas", "1"),
                    env=rows,
                )
            )
        tenant_id = ascii_int(data.get("tenant", ""))
        return cls(
            tenant_id=tenant_id,
            name=data.get("name", "").strip(),
            description=data.get("description", ""),
            profile=data.get("profile", Profile.DEV),
            ttl_hours=data.get("ttl_hours", "").strip(),
            approval_note=data.get("approval_note", ""),
            forks=forks,
        )

    @property
    def chosen_forks(self) -> list[ForkDraft]:
        return [f for f in self.forks if f.chosen]

    def fork(self, service: str) -> ForkDraft | None:
        return next((f for f in self.forks if f.name == service), None)

    def ttl_seconds(self) -> int | None:
        """The TTL in seconds, or None (and a message) when it is not a number of hours."""
        if not self.ttl_hours:
            return None  # the team's default
        # ASCII only: float() also reads Arabic-Indic digits, "1_0", "nan" and "inf".
        if not HOURS_RE.match(self.ttl_hours):
            self.errors.setdefault("ttl", []).append("Enter a number of hours, e.g. 8 or 1.5.")
            return None
        return round(float(self.ttl_hours) * 3600)

    def service_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `services.sandbox_create`, bar actor and tenant."""
        return {
            "name": self.name,
            "forks": [f.payload() for f in self.chosen_forks],
            "profile": self.profile,
            "ttl_seconds": self.ttl_seconds(),
            "description": self.description,
            "approval_note": self.approval_note.strip()[:500],
        }

    def apply_errors(self, fields: dict[str, list[str]]) -> None:
        """Put `ValidationFailed.fields` (dotted paths) beside the inputs they concern."""
        chosen = self.chosen_forks
        for key, messages in fields.items():
            head, _, rest = key.partition(".")
            if head.startswith("forks[") and head.endswith("]"):
                try:
                    fork = chosen[int(head[6:-1])]
                except (ValueError, IndexError):
                    self.errors.setdefault("forks", []).extend(messages)
                    continue
                self._apply_fork_error(fork, rest, messages)
            elif key == "ttl":
                self.errors.setdefault("ttl", []).extend(_ttl_in_hours(m) for m in messages)
            else:
                self.errors.setdefault(key, []).extend(messages)

    @staticmethod
    def _apply_fork_error(fork: ForkDraft, rest: str, messages: list[str]) -> None:
        if rest.startswith("env[") and "]" in rest:
            index_text, _, attr = rest[4:].partition("]")
            try:
                position = fork.env_positions[int(index_text)]
            except (ValueError, IndexError):
                fork.add_error("env", messages)
                return
            label = attr.lstrip(".") or "row"
            fork.env[position].errors.extend(f"{label}: {m}" for m in messages)
        else:
            fork.add_error(rest or "service", messages)

    @property
    def form_errors(self) -> list[str]:
        out: list[str] = []
        for key in FORM_LEVEL_KEYS:
            out.extend(self.errors.get(key, []))
        return out

    @property
    def error_links(self) -> list[tuple[str, str]]:
        """(anchor, text) for the error summary: each problem links to its field."""
        # The form-level keys (FORM_LEVEL_KEYS) are listed as they are, above these.
        fields = {
            "name": ("id_name", "Name"),
            "description": ("id_description", "Description"),
            "profile": ("id_profile_0", "Profile"),
            "ttl": ("id_ttl_hours", "Time to live"),
        }
        out = []
        for key, (anchor, label) in fields.items():
            out.extend((anchor, f"{label}: {m}") for m in self.errors.get(key, []))
        for fork in self.forks:
            for key, messages in fork.errors.items():
                anchor = {"image": f"{fork.name}-image", "replicas": f"{fork.name}-replicas"}.get(
                    key, f"svc-{fork.name}"
                )
                label = {"image": "image", "replicas": "replicas", "env": "environment"}.get(
                    key, "service"
                )
                out.extend((anchor, f"{fork.name} {label}: {m}") for m in messages)
            for row in fork.env:
                out.extend(
                    (f"env-{fork.name}", f"{fork.name} environment: {m}") for m in row.errors
                )
        return out

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(
            f.errors or any(r.errors for r in f.env) for f in self.forks
        )


def _hours(value: timedelta) -> str:
    hours = value.total_seconds() / 3600
    return str(int(hours)) if hours.is_integer() else f"{hours:g}"


EXTEND_CHOICES = [
    (1, "1 hour"),
    (4, "4 hours"),
    (8, "8 hours"),
    (24, "1 day"),
    (72, "3 days"),
    (168, "7 days"),
]


class ExtendForm(forms.Form):
    """How long from now the sandbox should live. Bounds are the services' to check."""

    hours = forms.TypedChoiceField(choices=EXTEND_CHOICES, coerce=int, initial=8, label="Expire in")

    def __init__(self, *args: Any, max_ttl: timedelta | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if max_ttl is not None:
            limit = max_ttl.total_seconds() / 3600
            self.fields["hours"].choices = [c for c in EXTEND_CHOICES if c[0] <= limit]


VALID_FOR_CHOICES = [
    (4, "4 hours"),
    (24, "1 day"),
    (72, "3 days"),
    (168, "7 days"),
    (720, "30 days"),
]


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    valid_for = forms.TypedChoiceField(
        choices=VALID_FOR_CHOICES, coerce=int, initial=24, label="Approval valid for"
    )
