"""Django admin for operators.

Every write here goes through the services, like the API's and the UI's: teams (with
memberships), data-isolation policies and catalog entries through `operator_save` /
`operator_delete` (an audit event, and a reconcile of every sandbox the change affects).
Tenants, tokens, sandboxes, approvals and the audit log are read-only here: they have
services with rules of their own (a generated tenant key, a secret shown once, the
four-eyes rule), reached from the portal's pages and the API."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from sandboxes import services
from sandboxes.models import (
    ApiToken,
    Approval,
    AuditEvent,
    BaselineService,
    DataIsolationPolicy,
    DataIsolationRule,
    DataResource,
    Fork,
    Membership,
    Sandbox,
    Team,
    Tenant,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


class ServiceWriteAdmin(admin.ModelAdmin):
    """Saves and deletes through the services. The object and its inlines are saved
    together in `save_related`, so the audit event and the reconciles see both."""

    def save_model(self, request: HttpRequest, obj: Model, form: ModelForm, change: bool) -> None:
        # Deferred to save_related: the inline formsets are saved in the same service call.
        return None

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: list[Any], change: bool
    ) -> None:
        changed = list(form.changed_data) + [f.prefix for f in formsets if f.has_changed()]
        services.operator_save(
            actor=request.user,
            obj=form.instance,
            changed=changed,
            save_related=lambda: super(ServiceWriteAdmin, self).save_related(
                request, form, formsets, change
            ),
        )

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        services.operator_delete(actor=request.user, obj=obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # One object at a time (no bulk delete, which would skip the services), and
        # only what nothing depends on: operator_delete refuses the rest.
        return (
            obj is not None
            and super().has_delete_permission(request, obj)
            and services.operator_delete_objection(obj) is None
        )


@admin.register(Team)
class TeamAdmin(ServiceWriteAdmin):
    list_display = ["name", "slug", "max_sandboxes", "max_ttl", "policy"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Tenant)
class TenantAdmin(ReadOnlyAdmin):
    """Read-only: a lead creates tenants on the team's Tokens page (services.tenant_create
    generates the tenant key and writes the audit event)."""

    list_display = ["name", "team", "kind", "owner", "created_at"]
    list_filter = ["team", "kind"]
    search_fields = ["name"]


class DataResourceInline(admin.TabularInline):
    model = DataResource
    extra = 0


@admin.register(BaselineService)
class BaselineServiceAdmin(ServiceWriteAdmin):
    list_display = [
        "name",
        "namespace",
        "deployment",
        "service",
        "mesh",
        "source",
        "drift",
        "last_seen_at",
        "retired_at",
    ]
    list_filter = ["mesh", "source", "drift", "namespace"]
    search_fields = ["name", "namespace", "service", "backstage_ref"]
    # What discovery recorded is its to write (sandboxes/catalog/services.py).
    readonly_fields = [
        "source",
        "last_seen_at",
        "detection",
        "observed",
        "drift",
        "drift_message",
        "drift_since",
        "retired_at",
        "backstage_ref",
    ]
    inlines = [DataResourceInline]
    actions = ["accept_drift"]

    @admin.action(description="Accept the live Service, ports and mesh of changed entries")
    def accept_drift(self, request: Any, queryset: Any) -> None:
        from sandboxes.catalog.services import catalog_accept_drift
        from sandboxes.errors import SidestageError

        for baseline in queryset:
            try:
                catalog_accept_drift(baseline=baseline, actor=request.user)
            except SidestageError as exc:
                self.message_user(request, exc.message, level=messages.WARNING)
            else:
                self.message_user(request, f"{baseline.name}: accepted.")


class DataIsolationRuleInline(admin.TabularInline):
    model = DataIsolationRule
    extra = 1


@admin.register(DataIsolationPolicy)
class DataIsolationPolicyAdmin(ServiceWriteAdmin):
    list_display = ["name", "fallback_action"]
    inlines = [DataIsolationRuleInline]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Read-only: issuing shows the secret once and revoking is audited; both are on the
    team's Tokens page and in the API."""

    list_display = ["name", "team", "tenant", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["team"]


class ForkInline(admin.TabularInline):
    model = Fork
    extra = 0
    can_delete = False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Sandbox)
class SandboxAdmin(ReadOnlyAdmin):
    list_display = ["name", "tenant", "profile", "generation", "observed_generation", "expires_at"]
    list_filter = ["profile", "tenant__team"]
    search_fields = ["name", "routing_key"]
    inlines = [ForkInline]


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ["sandbox", "generation", "state", "requested_by", "decided_by", "expires_at"]
    list_filter = ["state"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "team", "actor", "verb", "target"]
    list_filter = ["verb", "team"]
