"""Django admin for operators: teams, memberships, the catalog, policies, tenants and
tokens. Sandboxes are read-only here: they change through the services only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

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


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "max_sandboxes", "max_ttl", "policy"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "kind", "owner", "created_at"]
    list_filter = ["team", "kind"]
    search_fields = ["name"]
    readonly_fields = ["tenant_key"]


class DataResourceInline(admin.TabularInline):
    model = DataResource
    extra = 0


@admin.register(BaselineService)
class BaselineServiceAdmin(admin.ModelAdmin):
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
class DataIsolationPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "fallback_action"]
    inlines = [DataIsolationRuleInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "tenant", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["team"]
    readonly_fields = ["lookup_id", "secret_hash", "last_used_at", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Issuing needs the services layer (it shows the secret once); use the API or UI.
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


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
