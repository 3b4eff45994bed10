"""Shapes only: input serializers parse what clients send, output serializers render
what they get back. Every rule about what is allowed lives in `sandboxes.services`.

The sandbox document has one shape everywhere (API, CLI YAML files, docs):
`name, tenant, profile, ttl, labels, description, forks: [{service, image, env, replicas}]`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sandboxes.api.fields import (
    AsciiIntegerField,
    DurationSecondsField,
    StrictCharField,
    StrictDictField,
    StrictIntegerField,
    StrictListField,
)
from sandboxes.models import Profile, TenantKind

NOT_A_LIST = {"not_a_list": "Must be a list.", "empty": "Must not be empty."}

# Keys a client may echo back from a response (`sidestage sandbox get -o yaml` then
# `apply -f`): ignored on input, like kubectl ignores `status`.
READ_ONLY_DOCUMENT_KEYS = frozenset(
    {
        "team",
        "routingKey",
        "generation",
        "observedGeneration",
        "expiresAt",
        "createdAt",
        "updatedAt",
        "createdBy",
        "deletionRequestedAt",
        "deletedAt",
        "status",
        "snippets",
        "url",
    }
)


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know, so a typo (`replica: 2`) fails loudly."""

    ignored_keys: frozenset[str] = frozenset()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields) - self.ignored_keys
            if unknown:
                raise serializers.ValidationError(
                    {str(key): ["Unknown field."] for key in sorted(unknown, key=str)}
                )
        return super().to_internal_value(data)


# --- Input -----------------------------------------------------------------------------------
class EnvVarIn(StrictSerializer):
    name = StrictCharField(allow_blank=True)
    value = StrictCharField(required=False, allow_blank=True, default="")


class ForkIn(StrictSerializer):
    service = StrictCharField(allow_blank=True)
    image = StrictCharField(
        required=False, allow_blank=True, default="", help_text="Empty: the baseline's image."
    )
    env = StrictListField(child=EnvVarIn(), required=False, default=list)
    replicas = StrictIntegerField(required=False, default=1)


class SandboxDocumentIn(StrictSerializer):
    """The sandbox document. `tenant` may be `name` or `team/name`."""

    ignored_keys = READ_ONLY_DOCUMENT_KEYS

    name = StrictCharField(allow_blank=True)
    tenant = StrictCharField(required=False)
    profile = serializers.ChoiceField(choices=Profile.choices, required=False)
    ttl = DurationSecondsField(required=False, help_text="Seconds, or 90m, 8h, 2d.")
    labels = StrictDictField(child=StrictCharField(allow_blank=True), required=False)
    description = StrictCharField(required=False, allow_blank=True)
    forks = ForkIn(many=True, allow_empty=True, error_messages=NOT_A_LIST)


class SandboxPutIn(SandboxDocumentIn):
    """For `PUT /sandboxes/{name}`: `name` may be left out (the path gives it)."""

    name = StrictCharField(required=False, allow_blank=True)


class SandboxPatchIn(StrictSerializer):
    ignored_keys = READ_ONLY_DOCUMENT_KEYS | {"name", "tenant"}

    profile = serializers.ChoiceField(choices=Profile.choices, required=False)
    ttl = DurationSecondsField(required=False, help_text="Seconds, or 90m, 8h, 2d.")
    labels = StrictDictField(child=StrictCharField(allow_blank=True), required=False)
    description = StrictCharField(required=False, allow_blank=True)
    forks = ForkIn(many=True, required=False, allow_empty=True, error_messages=NOT_A_LIST)


class ExtendIn(StrictSerializer):
    ttl = DurationSecondsField(help_text="New lifetime from now: seconds, or 90m, 8h, 2d.")


class DecisionIn(StrictSerializer):
    reason = StrictCharField(allow_blank=True)
    validFor = StrictIntegerField(
        required=False, help_text="Approvals only: seconds the approval stays valid (24h)."
    )


class TenantQueryIn(serializers.Serializer):
    """Query parameters are parsed leniently: unknown ones (`format`, `page`) pass."""

    tenant = StrictCharField(required=False, max_length=200)


class WaitQueryIn(TenantQueryIn):
    timeout = AsciiIntegerField(
        required=False, min_value=0, max_value=10**6, help_text="Seconds; capped at 60."
    )


class SnippetQueryIn(TenantQueryIn):
    url = serializers.URLField(required=False, max_length=2000)
    service = StrictCharField(required=False, max_length=63)


class TenantIn(StrictSerializer):
    name = StrictCharField(allow_blank=True)
    kind = serializers.ChoiceField(choices=TenantKind.choices, required=False)
    team = StrictCharField(required=False, help_text="Team slug; needed if you are in several.")


class TokenIn(StrictSerializer):
    name = StrictCharField(allow_blank=True)
    team = StrictCharField(required=False, help_text="Team slug; needed if you are in several.")
    tenant = StrictCharField(
        required=False, help_text="Scope the token to one tenant (name); empty: the whole team."
    )
    ttl = DurationSecondsField(required=False, help_text="Lifetime; empty: until revoked.")


# --- Output ----------------------------------------------------------------------------------
class EnvVarOut(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.CharField()


class ForkOut(serializers.Serializer):
    service = serializers.CharField()
    image = serializers.CharField()
    env = EnvVarOut(many=True)
    replicas = serializers.IntegerField()


class ConditionOut(serializers.Serializer):
    type = serializers.CharField()
    status = serializers.ChoiceField(choices=["True", "False", "Unknown"])
    reason = serializers.CharField()
    message = serializers.CharField()
    lastTransitionTime = serializers.CharField()
    observedGeneration = serializers.IntegerField()


class SandboxStatusOut(serializers.Serializer):
    conditions = ConditionOut(many=True)
    ready = serializers.ChoiceField(choices=["True", "False", "Unknown"])
    inProgress = serializers.BooleanField()


class SandboxOut(serializers.Serializer):
    """The document plus what Sidestage adds. Built by `views.sandbox_document`."""

    name = serializers.CharField()
    tenant = serializers.CharField()
    team = serializers.CharField()
    profile = serializers.ChoiceField(choices=Profile.choices)
    ttl = serializers.IntegerField(help_text="Seconds.")
    labels = serializers.DictField(child=serializers.CharField())
    description = serializers.CharField()
    forks = ForkOut(many=True)
    routingKey = serializers.CharField()
    generation = serializers.IntegerField()
    observedGeneration = serializers.IntegerField()
    expiresAt = serializers.DateTimeField()
    createdAt = serializers.DateTimeField()
    createdBy = serializers.CharField(allow_null=True)
    deletionRequestedAt = serializers.DateTimeField(allow_null=True)
    deletedAt = serializers.DateTimeField(allow_null=True)
    status = SandboxStatusOut()
    snippets = serializers.DictField(
        child=serializers.URLField(), help_text="A link to each snippet format, by name."
    )
    url = serializers.URLField()


class WaitOut(serializers.Serializer):
    result = serializers.ChoiceField(
        choices=["ready", "rendered", "failed", "timeout"],
        help_text="rendered: render-only mode wrote the manifests (no cluster); done.",
    )
    reason = serializers.CharField()
    message = serializers.CharField()
    waited = serializers.FloatField(help_text="Seconds this request waited.")
    sandbox = SandboxOut()


class SnippetsOut(serializers.Serializer):
    routingKey = serializers.CharField()
    url = serializers.CharField(help_text="The URL the snippets send a request to.")
    snippets = serializers.DictField(child=serializers.CharField())


class SnippetOut(serializers.Serializer):
    format = serializers.CharField()
    routingKey = serializers.CharField()
    content = serializers.CharField()


class ApprovalOut(serializers.Serializer):
    sandbox = serializers.CharField()
    generation = serializers.IntegerField()
    state = serializers.CharField()
    requestedBy = serializers.CharField(allow_null=True)
    decidedBy = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    expiresAt = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "sandbox": instance.sandbox.name,
            "generation": instance.generation,
            "state": instance.state,
            "requestedBy": getattr(instance.requested_by, "username", None),
            "decidedBy": getattr(instance.decided_by, "username", None),
            "reason": instance.reason,
            "expiresAt": instance.expires_at.isoformat() if instance.expires_at else None,
        }


class DataResourceOut(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    envVar = serializers.CharField(source="env_var")


class DetectionOut(serializers.Serializer):
    mesh = serializers.CharField(allow_null=True, help_text="The mesh the evidence points to.")
    dataplane = serializers.CharField(
        help_text="istio-sidecar, istio-ambient, linkerd, override or none."
    )
    evidence = serializers.ListField(
        child=serializers.CharField(), help_text="The labels, annotations and APIs read."
    )
    problems = serializers.ListField(child=serializers.CharField())


class DriftOut(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["", "changed", "not-found"], help_text="Empty: as catalogued."
    )
    message = serializers.CharField()
    since = serializers.DateTimeField(allow_null=True)


class ServiceOut(serializers.Serializer):
    name = serializers.CharField()
    namespace = serializers.CharField()
    deployment = serializers.CharField()
    service = serializers.CharField()
    ports = serializers.ListField(child=serializers.IntegerField())
    mesh = serializers.CharField()
    host = serializers.CharField()
    grpcPort = serializers.IntegerField(
        source="grpc_port", allow_null=True, help_text="The port grpcurl snippets use."
    )
    linkerd1Name = serializers.CharField(
        source="linkerd1_name",
        help_text="Linkerd 1: the name its router gives requests (blank: /svc/<service>).",
    )
    description = serializers.CharField()
    entryPath = serializers.CharField(source="entry_path")
    dataResources = DataResourceOut(source="data_resources.all", many=True)
    source = serializers.ChoiceField(
        choices=["manual", "cluster", "backstage"],
        help_text="manual: hand-made; cluster: discovered by annotation; backstage: imported.",
    )
    backstageRef = serializers.CharField(source="backstage_ref")
    lastSeenAt = serializers.DateTimeField(
        source="last_seen_at", allow_null=True, help_text="When discovery last read it."
    )
    retiredAt = serializers.DateTimeField(
        source="retired_at", allow_null=True, help_text="Set: no new forks."
    )
    detection = serializers.SerializerMethodField()
    drift = serializers.SerializerMethodField()

    @extend_schema_field(DetectionOut(allow_null=True))
    def get_detection(self, service: Any) -> dict[str, Any] | None:
        found = service.detection or {}
        if not found:
            return None
        return {
            "mesh": found.get("mesh"),
            "dataplane": found.get("dataplane", "none"),
            "evidence": list(found.get("evidence", [])),
            "problems": list(found.get("problems", [])),
        }

    @extend_schema_field(DriftOut)
    def get_drift(self, service: Any) -> dict[str, Any]:
        return {
            "state": service.drift,
            "message": service.drift_message,
            "since": service.drift_since.isoformat() if service.drift_since else None,
        }


class TenantOut(serializers.Serializer):
    name = serializers.CharField()
    team = serializers.CharField(source="team.slug")
    kind = serializers.CharField()
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)
    tenantKey = serializers.CharField(
        source="tenant_key", help_text="Routes to every active fork of the tenant."
    )
    createdAt = serializers.DateTimeField(source="created_at")


class TokenOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    team = serializers.CharField(source="team.slug")
    tenant = serializers.CharField(source="tenant.name", allow_null=True, default=None)
    user = serializers.CharField(source="user.username")
    prefix = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True)

    @extend_schema_field(serializers.CharField())
    def get_prefix(self, token: Any) -> str:
        return f"sst_{token.lookup_id}_"


class TokenIssuedOut(TokenOut):
    secret = serializers.CharField(help_text="Shown exactly once; Sidestage keeps only a hash.")


class EventOut(serializers.Serializer):
    id = serializers.IntegerField()
    createdAt = serializers.DateTimeField(source="created_at")
    team = serializers.CharField(source="team.slug")
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    token = serializers.CharField(source="token.name", allow_null=True, default=None)
    verb = serializers.CharField()
    target = serializers.CharField()
    sandbox = serializers.CharField(source="sandbox.name", allow_null=True, default=None)
    data = serializers.JSONField()


class ErrorDetailOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ErrorOut(serializers.Serializer):
    error = ErrorDetailOut()
