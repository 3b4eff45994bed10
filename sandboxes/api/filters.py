"""List filters for sandboxes and audit events, as DRF filter backends so that the
OpenAPI schema documents every query parameter.

Sandboxes: `tenant` (name or team/name), `condition` (`Ready`, `Ready=False`,
`Approved=Unknown`), `service` (forks this catalog service), `label` (`key` or
`key=value`), `deleted` (include deleted ones). Repeat a parameter to AND the values.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import connections
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from rest_framework import serializers
from rest_framework.filters import BaseFilterBackend

from sandboxes.api.lookup import tenant_from_ref
from sandboxes.errors import FieldErrors, ValidationFailed
from sandboxes.models import Fork
from sandboxes.validation import DNS1123_LABEL_RE

_CONDITION_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,62})(?:=(True|False|Unknown))?\Z")
_LABEL_VALUE_MAX = 63
_MAX_VALUES = 10


def _param(name: str, description: str, *, many: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if many:
        schema = {"type": "array", "items": {"type": "string"}}
    return {
        "name": name,
        "required": False,
        "in": "query",
        "description": description,
        "schema": schema,
        **({"style": "form", "explode": True} if many else {}),
    }


def _values(request: Any, name: str, errors: FieldErrors) -> list[str]:
    values = request.query_params.getlist(name)
    if len(values) > _MAX_VALUES:
        errors.add(name, f"At most {_MAX_VALUES} values.")
        return []
    bad = [v for v in values if "\x00" in v or len(v) > 200]
    if bad:
        errors.add(name, "Values may not contain NUL characters or exceed 200 characters.")
        return []
    return values


class SandboxFilter(BaseFilterBackend):
    def filter_queryset(self, request: Any, queryset: QuerySet, view: Any) -> QuerySet:
        errors = FieldErrors()
        tenants = _values(request, "tenant", errors)
        if len(tenants) > 1:
            errors.add("tenant", "Give one tenant.")
        elif tenants and tenants[0]:
            try:
                queryset = queryset.filter(tenant=tenant_from_ref(request, tenants[0]))
            except ValidationFailed as exc:
                for message in exc.fields.get("tenant", []):
                    errors.add("tenant", message)
        for value in _values(request, "condition", errors):
            match = _CONDITION_RE.match(value)
            if not match:
                errors.add("condition", f"{value!r}: expected Type or Type=True|False|Unknown.")
                continue
            queryset = queryset.filter(
                _condition_q(match.group(1), match.group(2) or "True", queryset.db)
            )
        for value in _values(request, "service", errors):
            if not DNS1123_LABEL_RE.match(value):
                errors.add("service", f"{value!r} is not a service name.")
                continue
            queryset = queryset.filter(
                Exists(Fork.objects.filter(sandbox=OuterRef("pk"), baseline__name=value))
            )
        for value in _values(request, "label", errors):
            key, sep, label_value = value.partition("=")
            if not DNS1123_LABEL_RE.match(key) or len(label_value) > _LABEL_VALUE_MAX:
                errors.add("label", f"{value!r}: expected key or key=value.")
                continue
            queryset = filter_by_label(queryset, key, label_value if sep else None)
        deleted = request.query_params.get("deleted", "false")
        if deleted not in ("true", "false"):
            errors.add("deleted", "Must be true or false.")
        elif deleted == "false":
            queryset = queryset.filter(deleted_at__isnull=True)
        errors.raise_if_any()
        return queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            _param("tenant", "Only this tenant's sandboxes: `name` or `team/name`."),
            _param(
                "condition",
                "A condition with a status: `Ready` (means `Ready=True`), `Ready=False`, "
                "`Approved=Unknown`. Repeat to require several.",
                many=True,
            ),
            _param("service", "Sandboxes that fork this catalog service.", many=True),
            _param("label", "`key` (has the label) or `key=value`.", many=True),
            {
                "name": "deleted",
                "required": False,
                "in": "query",
                "description": "Include sandboxes whose deletion has finished.",
                "schema": {"type": "string", "enum": ["true", "false"]},
            },
        ]


def filter_by_label(queryset: QuerySet, key: str, value: str | None) -> QuerySet:
    """Sandboxes with the label `key` (any value when `value` is None). Shared by the
    API's `?label=` and the dashboard's label filter."""
    if value is not None and _has_json_contains(queryset.db):
        # `@>`: PostgreSQL can answer it from an index.
        return queryset.filter(labels__contains={key: value})
    if value is not None:
        # SQLite has no JSON containment; labels are flat strings, so comparing the
        # key's text is the same test. The path is quoted: a key like "42" is a member
        # name, not an array index (the ORM's key lookup would take it for one).
        return queryset.filter(
            RawSQL(
                "json_type(sandboxes_sandbox.labels, %s) = 'text' "
                "AND json_extract(sandboxes_sandbox.labels, %s) = %s",
                (f'$."{key}"', f'$."{key}"', value),
                output_field=BooleanField(),
            )
        )
    if _has_json_contains(queryset.db):
        return queryset.filter(labels__has_key=key)
    return queryset.filter(
        RawSQL(
            "json_type(sandboxes_sandbox.labels, %s) IS NOT NULL",
            (f'$."{key}"',),
            output_field=BooleanField(),
        )
    )


def _has_json_contains(alias: str) -> bool:
    return connections[alias].features.supports_json_field_contains


def _has_condition(type_: str, status: str, alias: str) -> Q:
    if _has_json_contains(alias):
        return Q(conditions__contains=[{"type": type_, "status": status}])
    # SQLite (the embedded default): look through the list with json_each.
    return Q(
        RawSQL(
            "EXISTS (SELECT 1 FROM json_each(sandboxes_sandbox.conditions) AS c "
            "WHERE json_extract(c.value, '$.type') = %s "
            "AND json_extract(c.value, '$.status') = %s)",
            (type_, status),
            output_field=BooleanField(),
        )
    )


def condition_q(type_: str, status: str, alias: str) -> Q:
    """Sandboxes whose condition `type_` has `status` (absent counts as Unknown)."""
    return _condition_q(type_, status, alias)


def _condition_q(type_: str, status: str, alias: str) -> Q:
    if status == "Unknown":
        # An absent condition counts as Unknown, as in Kubernetes.
        return ~_has_condition(type_, "True", alias) & ~_has_condition(type_, "False", alias)
    return _has_condition(type_, status, alias)


class EventQuery(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        # DRF reads `?until=` like an empty HTML form field and skips it; a query
        # parameter given empty is a client mistake, not "no filter".
        empty = [
            name
            for name, field in self.fields.items()
            if not isinstance(field, serializers.CharField) and data.get(name, None) == ""
        ]
        if empty:
            raise serializers.ValidationError({name: ["Must not be empty."] for name in empty})
        return super().to_internal_value(data)

    sandbox = serializers.CharField(required=False, max_length=63)
    verb = serializers.CharField(required=False, max_length=64)
    actor = serializers.CharField(required=False, max_length=150)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    tenant = serializers.CharField(required=False, max_length=200)


class EventFilter(BaseFilterBackend):
    def filter_queryset(self, request: Any, queryset: QuerySet, view: Any) -> QuerySet:
        query = EventQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        if "sandbox" in data:
            queryset = queryset.filter(sandbox__name=data["sandbox"])
        if "verb" in data:
            verb = data["verb"]
            # `sandbox.` matches every sandbox verb.
            queryset = (
                queryset.filter(verb__startswith=verb)
                if verb.endswith(".")
                else queryset.filter(verb=verb)
            )
        if "actor" in data:
            queryset = queryset.filter(actor__username=data["actor"])
        if "since" in data:
            queryset = queryset.filter(created_at__gte=data["since"])
        if "until" in data:
            queryset = queryset.filter(created_at__lt=data["until"])
        if data.get("tenant"):
            tenant = tenant_from_ref(request, data["tenant"])
            queryset = queryset.filter(sandbox__tenant=tenant)
        return queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = [
            _param("sandbox", "Events of sandboxes with this name."),
            _param("verb", "An exact verb (`sandbox.create`), or a prefix ending in `.`."),
            _param("actor", "Username of the person who acted."),
            _param("tenant", "Events of this tenant's sandboxes: `name` or `team/name`."),
        ]
        for name, text in (("since", "From this time (inclusive)."), ("until", "Before this.")):
            params.append(
                {
                    "name": name,
                    "required": False,
                    "in": "query",
                    "description": text,
                    "schema": {"type": "string", "format": "date-time"},
                }
            )
        return params
