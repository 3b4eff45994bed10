"""Sidestage's data model: who may fork what, the desired state of each sandbox, and
the audit trail.

Invariants live in the database as well as in code (see `Meta.constraints`). Writes go
through `sandboxes.services`; reads through `sandboxes.selectors`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from routing.keys import generate_routing_key
from routing.linkerd import dtab_entry, is_dtab_path, linkerd1_host
from routing.meshes import MESHES
from sandboxes.conditions import Condition, condition_status

USER = settings.AUTH_USER_MODEL


class Role(models.TextChoices):
    MEMBER = "member", "Member"
    LEAD = "lead", "Lead"


# One choice per registered mesh module (routing/meshes/), named like its value:
# Mesh.ISTIO == "istio", Mesh.GATEWAY_API == "gateway-api". A new mesh module adds a
# choice here and to the check constraint below (`makemigrations` writes the migration).
Mesh = models.TextChoices(
    "Mesh",
    [(name.upper().replace("-", "_"), (name, mesh.label)) for name, mesh in MESHES.items()],
)


class CatalogSource(models.TextChoices):
    MANUAL = "manual", "Hand-made"
    CLUSTER = "cluster", "Discovered in the cluster"
    BACKSTAGE = "backstage", "Imported from Backstage"


class BaselineDrift(models.TextChoices):
    NONE = "", "In sync"
    CHANGED = "changed", "Baseline changed"
    NOT_FOUND = "not-found", "Baseline not found"


class Profile(models.TextChoices):
    DEV = "dev", "dev"
    PROD_LIKE = "prod-like", "prod-like"


class DataKind(models.TextChoices):
    POSTGRES = "postgres", "PostgreSQL database"
    KAFKA_TOPIC = "kafka-topic", "Kafka topic"
    QUEUE = "queue", "Message queue"
    REDIS = "redis", "Redis keyspace"
    OTHER = "other", "Other"


class DataAction(models.TextChoices):
    SHARED = "shared", "Use the baseline's data"
    READ_ONLY = "read-only", "Read-only endpoint"
    ISOLATED_SCHEMA = "isolated-schema", "A schema per sandbox"
    ISOLATED_DATABASE = "isolated-database", "A database per sandbox"
    PREFIX = "prefix", "Topic, queue or key prefix"
    DENY = "deny", "Refuse the fork"


# Which actions make sense for which kind of data; the rest are refused when a rule
# is saved, so that a policy can never ask the reconciler for the impossible.
ACTIONS_FOR_KIND: dict[str, set[str]] = {
    DataKind.POSTGRES: {"shared", "read-only", "isolated-schema", "isolated-database", "deny"},
    DataKind.KAFKA_TOPIC: {"shared", "prefix", "deny"},
    DataKind.QUEUE: {"shared", "prefix", "deny"},
    DataKind.REDIS: {"shared", "read-only", "prefix", "deny"},
    DataKind.OTHER: {"shared", "read-only", "deny"},
}


class Team(models.Model):
    """People with roles, quotas, and the namespaces and registries they may use."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=63, unique=True)
    max_sandboxes = models.PositiveIntegerField(
        default=20, help_text="Active sandboxes, team-wide."
    )
    max_forks_per_sandbox = models.PositiveIntegerField(default=10)
    max_replicas = models.PositiveIntegerField(default=3, help_text="Replicas per fork.")
    max_ttl = models.DurationField(default=timedelta(days=7))
    default_ttl = models.DurationField(default=timedelta(hours=8))
    allowed_namespaces = models.JSONField(default=list, blank=True)
    allowed_registries = models.JSONField(
        default=list,
        blank=True,
        help_text='Registry hosts or prefixes, e.g. ["ghcr.io/acme", "registry.local:5000"].',
    )
    policy = models.ForeignKey(
        "DataIsolationPolicy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="teams",
        help_text="Empty means the built-in default: every data resource is refused.",
    )
    members = models.ManyToManyField(USER, through="Membership", related_name="teams")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_ttl__lte=models.F("max_ttl")), name="team_default_ttl_le_max"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_lead(self, user: Any) -> bool:
        return self.memberships.filter(user=user, role=Role.LEAD).exists()


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_unique_user_team"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.team}"


class TenantKind(models.TextChoices):
    DEVELOPER = "developer", "Developer"
    CI = "ci", "CI pipeline"
    BOT = "bot", "Test client / bot"


class Tenant(models.Model):
    """The routing identity of one developer or one test client.

    A request carrying the tenant key reaches every active fork of this tenant.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="tenants")
    name = models.CharField(max_length=40)
    kind = models.CharField(max_length=12, choices=TenantKind.choices, default=TenantKind.DEVELOPER)
    owner = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_tenants"
    )
    # A generated default: a row written outside the services (a fixture, the shell)
    # still gets a valid key, never '' (which fails routing and collides on the second).
    tenant_key = models.CharField(
        max_length=64, unique=True, editable=False, default=generate_routing_key
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["team_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="tenant_unique_name_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.team.slug}/{self.name}"


def validate_dtab_path(value: str) -> None:
    if value and not is_dtab_path(value):
        raise ValidationError(
            "Enter a dtab path: /segment/segment, letters, digits and _:.#$%- only."
        )


class BaselineService(models.Model):
    """A catalog entry for a workload in the shared environment."""

    name = models.CharField(max_length=40, unique=True, help_text="Catalog name (DNS-1123).")
    namespace = models.CharField(max_length=63)
    deployment = models.CharField(max_length=63, help_text="The baseline Deployment's name.")
    service = models.CharField(max_length=63, help_text="The baseline Service's name.")
    ports = models.JSONField(default=list, help_text="Service ports, e.g. [8080].")
    mesh = models.CharField(max_length=16, choices=Mesh.choices, default=Mesh.ISTIO)
    grpc_port = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(65535)],
        help_text="The Service port that serves gRPC, if any: the grpcurl snippet uses it.",
    )
    linkerd1_name = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_dtab_path],
        help_text=(
            "Linkerd 1 only: the name the router's identifier gives this service's requests, "
            "e.g. /host/world (io.l5d.header.token with dstPrefix /host) or /svc/orders. Its "
            "last segment is the Host clients send. Blank: /svc/<service>."
        ),
    )
    linkerd1_dst_prefix = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_dtab_path],
        help_text=(
            "Linkerd 1 only: a fork is delegated to <prefix>/<fork Service>, e.g. /srv. "
            "Blank: the name's own prefix."
        ),
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Where the entry came from and what the cluster looked like when last read
    # (`sandboxes/catalog/`). Hand-made entries have no observation and never drift.
    source = models.CharField(
        max_length=12, choices=CatalogSource.choices, default=CatalogSource.MANUAL
    )
    entry_path = models.CharField(
        max_length=200, blank=True, help_text="Where requests enter the service, e.g. /orders."
    )
    last_seen_at = models.DateTimeField(null=True, blank=True)
    detection = models.JSONField(
        default=dict, blank=True, help_text="What discovery found: the mesh and its evidence."
    )
    observed = models.JSONField(
        default=dict, blank=True, help_text="The live Service and ports at the last sync."
    )
    drift = models.CharField(
        max_length=12, choices=BaselineDrift.choices, default=BaselineDrift.NONE, blank=True
    )
    drift_message = models.CharField(max_length=500, blank=True)
    drift_since = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the forkable annotation went away: no new forks."
    )
    backstage_ref = models.CharField(
        max_length=255, blank=True, help_text="The Backstage entity, e.g. component:default/orders."
    )
    owner_team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_services"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "service"], name="baseline_unique_service_per_namespace"
            ),
            models.CheckConstraint(condition=Q(mesh__in=Mesh.values), name="baseline_mesh_valid"),
            models.CheckConstraint(
                condition=Q(source__in=CatalogSource.values), name="baseline_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(drift__in=BaselineDrift.values), name="baseline_drift_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.namespace}/{self.service}, {self.mesh})"

    def clean(self) -> None:
        if self.grpc_port is not None and self.grpc_port not in (self.ports or []):
            raise ValidationError({"grpc_port": "The gRPC port must be one of the ports."})

    @property
    def host(self) -> str:
        return f"{self.service}.{self.namespace}.svc.cluster.local"

    @property
    def client_host(self) -> str:
        """The host clients address: for Linkerd 1 the one its router names by (the
        last segment of ``linkerd1_name``), otherwise the Service's in-cluster name."""
        if self.mesh == Mesh.LINKERD1:
            return linkerd1_host(self.service, self.linkerd1_name or None)
        return self.host

    def linkerd1_dentry(self, fork_service: str) -> str:
        return dtab_entry(
            self.service,
            fork_service,
            name=self.linkerd1_name or None,
            dst_prefix=self.linkerd1_dst_prefix or None,
        )

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None


class DataResource(models.Model):
    """A piece of shared data a baseline service uses, found through one env var."""

    baseline = models.ForeignKey(
        BaselineService, on_delete=models.CASCADE, related_name="data_resources"
    )
    name = models.CharField(max_length=63, help_text="e.g. orders-db, orders-events.")
    kind = models.CharField(max_length=16, choices=DataKind.choices)
    env_var = models.CharField(max_length=128, help_text="The env var the service reads it from.")
    read_only_value = models.TextField(
        blank=True, help_text="The env value of the read-only endpoint (for read-only)."
    )
    provisioner_dsn_env = models.CharField(
        max_length=128,
        blank=True,
        help_text=(
            "For isolated-schema/-database: the name of an env var on the worker holding a DSN "
            "with rights to create schemas/databases. The secret never enters the database."
        ),
    )

    class Meta:
        ordering = ["baseline_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["baseline", "name"], name="data_resource_unique_name"),
            models.UniqueConstraint(
                fields=["baseline", "env_var"], name="data_resource_unique_env"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.baseline.name}:{self.name} ({self.kind} via ${self.env_var})"


class DataIsolationPolicy(models.Model):
    """For each data resource, what a fork may do with it. Rules are matched most
    specific first: a named resource of a service, then a kind, then the fallback."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    fallback_action = models.CharField(
        max_length=20, choices=DataAction.choices, default=DataAction.DENY
    )

    class Meta:
        verbose_name_plural = "data isolation policies"

    def __str__(self) -> str:
        return self.name

    def decide(self, resource: DataResource, profile: str) -> PolicyDecision:
        return decide_data_action(list(self.rules.all()), self.fallback_action, resource, profile)


class DataIsolationRule(models.Model):
    ANY = "*"
    policy = models.ForeignKey(DataIsolationPolicy, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(
        max_length=16, choices=[(ANY, "any kind"), *DataKind.choices], default=ANY
    )
    baseline = models.ForeignKey(
        BaselineService, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    resource_name = models.CharField(max_length=63, blank=True)
    profile = models.CharField(
        max_length=10, choices=[(ANY, "any profile"), *Profile.choices], default=ANY
    )
    action = models.CharField(max_length=20, choices=DataAction.choices)
    prefix_template = models.CharField(
        max_length=63,
        default="sbx-{key}-",
        help_text="For prefix: '{key}' becomes the sandbox's routing key.",
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["policy_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=DataAction.values), name="rule_action_valid"
            ),
            models.CheckConstraint(
                condition=Q(resource_name="") | Q(baseline__isnull=False),
                name="rule_resource_needs_service",
            ),
        ]

    def __str__(self) -> str:
        scope = self.baseline.name if self.baseline_id else self.kind
        if self.resource_name:
            scope += f":{self.resource_name}"
        return f"{scope} [{self.profile}] -> {self.action}"

    @property
    def specificity(self) -> tuple[int, int, int]:
        return (
            int(bool(self.resource_name)) * 2 + int(self.baseline_id is not None),
            int(self.kind != self.ANY),
            int(self.profile != self.ANY),
        )

    def matches(self, resource: DataResource, profile: str) -> bool:
        return (
            (self.kind in (self.ANY, resource.kind))
            and (self.baseline_id is None or self.baseline_id == resource.baseline_id)
            and (not self.resource_name or self.resource_name == resource.name)
            and (self.profile in (self.ANY, profile))
        )


@dataclass(frozen=True)
class PolicyDecision:
    action: str
    rule: DataIsolationRule | None
    prefix_template: str = "sbx-{key}-"

    @property
    def explanation(self) -> str:
        return str(self.rule) if self.rule else "policy fallback"


def decide_data_action(
    rules: list[DataIsolationRule], fallback: str, resource: DataResource, profile: str
) -> PolicyDecision:
    """The most specific matching rule wins; ties go to the rule written first."""
    matching = [r for r in rules if r.matches(resource, profile)]
    if not matching:
        return PolicyDecision(action=fallback, rule=None)
    best = max(matching, key=lambda r: (r.specificity, -r.pk if r.pk else 0))
    return PolicyDecision(action=best.action, rule=best, prefix_template=best.prefix_template)


class SandboxQuerySet(models.QuerySet["Sandbox"]):
    def active(self) -> SandboxQuerySet:
        """Sandboxes that should exist in the cluster (not marked for deletion)."""
        return self.filter(deletion_requested_at__isnull=True)

    def present(self) -> SandboxQuerySet:
        """Sandboxes whose objects may still be in the cluster."""
        return self.filter(deleted_at__isnull=True)


class Sandbox(models.Model):
    """A named set of forks owned by a tenant, with its own routing key.

    `spec` is derived from the columns and the Fork rows (never stored twice);
    `generation` counts its changes. `conditions` and `observed_generation` are the
    reconciler's status, Kubernetes style.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="sandboxes")
    name = models.CharField(max_length=40)
    routing_key = models.CharField(max_length=64, unique=True, editable=False)
    profile = models.CharField(max_length=10, choices=Profile.choices, default=Profile.DEV)
    description = models.CharField(max_length=500, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    ttl = models.DurationField()
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    generation = models.PositiveBigIntegerField(default=1)
    observed_generation = models.PositiveBigIntegerField(default=0)
    conditions = models.JSONField(default=list, blank=True)
    deletion_requested_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # What the reconciler last applied for this sandbox (its own objects and the shared
    # routes of its services), so people can read the YAML without cluster access.
    applied_manifests = models.JSONField(default=list, blank=True)
    # Schemas and databases created for this sandbox, so deletion can drop them.
    provisioned_data = models.JSONField(default=list, blank=True)

    objects = SandboxQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A name is taken until the sandbox is fully deleted; then a pipeline may
            # create `pr-42` again (the deleted row stays for the audit trail).
            models.UniqueConstraint(
                fields=["tenant", "name"],
                condition=Q(deleted_at__isnull=True),
                name="sandbox_unique_name_per_tenant",
            ),
            models.CheckConstraint(
                condition=Q(profile__in=Profile.values), name="sandbox_profile_valid"
            ),
            models.CheckConstraint(
                condition=Q(observed_generation__lte=models.F("generation")),
                name="sandbox_observed_le_generation",
            ),
            models.CheckConstraint(condition=Q(generation__gte=1), name="sandbox_generation_ge_1"),
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="sandbox_expires_at_idx"),
            models.Index(fields=["tenant", "-created_at"], name="sandbox_tenant_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.name}"

    @property
    def is_deleting(self) -> bool:
        return self.deletion_requested_at is not None

    @property
    def needs_approval(self) -> bool:
        return self.profile == Profile.PROD_LIKE

    def time_left(self, now: datetime | None = None) -> timedelta:
        return max(self.expires_at - (now or timezone.now()), timedelta(0))

    def condition(self, type_: str) -> Condition | None:
        for cond in self.conditions or []:
            if cond.get("type") == type_:
                return Condition.from_dict(cond)
        return None

    @property
    def ready_status(self) -> str:
        return condition_status(self.conditions, "Ready")

    @property
    def is_rendered(self) -> bool:
        """Render-only mode wrote this generation's manifests (no cluster to apply to)."""
        ready = self.condition("Ready")
        return (
            ready is not None
            and ready.reason == "Rendered"
            and self.observed_generation >= self.generation
        )

    @property
    def in_progress(self) -> bool:
        """True while the reconciler still has work to do (the UI keeps polling)."""
        if self.deleted_at:
            return False
        if self.observed_generation < self.generation or self.is_deleting:
            return True
        return self.ready_status == "Unknown"

    @property
    def spec(self) -> dict[str, Any]:
        """The desired state as one document, the same shape the API and CLI use."""
        return {
            "name": self.name,
            "tenant": self.tenant.name,
            "profile": self.profile,
            "ttl": int(self.ttl.total_seconds()),
            "labels": dict(self.labels or {}),
            "description": self.description,
            "forks": [fork.spec for fork in self.forks.all()],
        }


class Fork(models.Model):
    """One baseline service in a sandbox, deployed as a copy of its pod template."""

    sandbox = models.ForeignKey(Sandbox, on_delete=models.CASCADE, related_name="forks")
    baseline = models.ForeignKey(BaselineService, on_delete=models.PROTECT, related_name="forks")
    image = models.CharField(max_length=512, blank=True, help_text="Empty: the baseline's image.")
    env = models.JSONField(default=list, blank=True, help_text='[{"name": ..., "value": ...}]')
    replicas = models.PositiveSmallIntegerField(default=1)
    # Live state the reconciler read back: replica counts and a short message.
    status = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["baseline__name"]
        constraints = [
            models.UniqueConstraint(fields=["sandbox", "baseline"], name="fork_unique_service"),
        ]

    def __str__(self) -> str:
        return f"{self.sandbox}:{self.baseline.name}"

    @property
    def spec(self) -> dict[str, Any]:
        return {
            "service": self.baseline.name,
            "image": self.image,
            "env": [dict(item) for item in self.env or []],
            "replicas": self.replicas,
        }


class SpecRevision(models.Model):
    """Who wrote each generation of a sandbox's spec (generation 1 is the creation).

    The four-eyes rule reads it: nobody who wrote any generation up to the one being
    approved may approve it, whoever filed the approval request. Written by the
    services in the same transaction that bumps `generation`.
    """

    sandbox = models.ForeignKey(Sandbox, on_delete=models.CASCADE, related_name="revisions")
    generation = models.PositiveBigIntegerField()
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sandbox_id", "generation"]
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox", "generation"], name="spec_revision_one_per_generation"
            ),
            models.CheckConstraint(
                condition=Q(generation__gte=1), name="spec_revision_generation_ge_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sandbox} gen {self.generation} by {self.author}"


class ApprovalState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded"


class Approval(models.Model):
    """A lead's decision on a prod-like sandbox, for one generation of its spec."""

    sandbox = models.ForeignKey(Sandbox, on_delete=models.CASCADE, related_name="approvals")
    generation = models.PositiveBigIntegerField(help_text="The spec generation this covers.")
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    request_note = models.CharField(max_length=500, blank=True)
    state = models.CharField(
        max_length=12, choices=ApprovalState.choices, default=ApprovalState.PENDING
    )
    decided_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox"],
                condition=Q(state="pending"),
                name="approval_one_pending_per_sandbox",
            ),
            models.CheckConstraint(
                condition=Q(state__in=ApprovalState.values), name="approval_state_valid"
            ),
            # The four-eyes rule, in the database too.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("requested_by")),
                name="approval_not_self_decided",
            ),
            models.CheckConstraint(
                condition=~Q(state="approved")
                | Q(expires_at__isnull=False, decided_at__isnull=False),
                name="approval_approved_has_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sandbox} gen {self.generation}: {self.state}"

    def is_valid(self, now: datetime | None = None) -> bool:
        return (
            self.state == ApprovalState.APPROVED
            and self.expires_at is not None
            and self.expires_at > (now or timezone.now())
        )


class AuditEvent(models.Model):
    """One state change, who made it, and what it was. Written only by services."""

    # Empty for catalog events no team owns (discovery, imports).
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_events"
    )
    actor = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token = models.ForeignKey(
        "ApiToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sandbox = models.ForeignKey(
        Sandbox, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    verb = models.CharField(max_length=64)
    target = models.CharField(max_length=200)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "-created_at"], name="audit_team_created_idx")]

    def __str__(self) -> str:
        who = self.actor or "system"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.verb} {self.target}"


TOKEN_PREFIX = "sst_"  # noqa: S105 - a public prefix, not a secret


class ApiToken(models.Model):
    """A bearer token for the API. Only a SHA-256 of the secret is stored: tokens are
    192-bit random strings, so a slow password hash would add nothing but latency."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
        help_text="Empty: the token may act for every tenant of the team.",
    )
    user = models.ForeignKey(
        USER, on_delete=models.CASCADE, related_name="api_tokens", help_text="Acts as this user."
    )
    name = models.CharField(max_length=100)
    lookup_id = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="token_unique_name_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}{self.lookup_id}_…)"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, self.hash_secret(secret))

    def is_usable(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


IDEMPOTENCY_KEY_MAX = 255


class IdempotencyKey(models.Model):
    """A POST made with an `Idempotency-Key` header and the response it got, kept for
    `IDEMPOTENCY_TTL` so a retried request gets the same answer instead of a second
    object. `scope` is whose key it is (`token:<id>` or `user:<id>`): two pipelines may
    pick the same key. Written in the same transaction as the object it created, so a
    stored response always describes a committed object."""

    scope = models.CharField(max_length=40)
    key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    # Empty only inside the transaction that claims the key and runs the request.
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    location = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
