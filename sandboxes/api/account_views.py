"""`/api/v1/services`, `tenants`, `tokens` and `events`: the catalog, routing
identities, API tokens and the audit log. Scoped like everything else: a request with
an API token sees only the token's team (and tenant, for a tenant-scoped token)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from sandboxes import selectors, services
from sandboxes.api import serializers as s
from sandboxes.api.filters import EventFilter
from sandboxes.api.idempotency import IDEMPOTENCY_PARAM, idempotent
from sandboxes.api.lookup import request_token, tenant_from_ref
from sandboxes.api.parsers import BodyLimitMixin, SafeJSONParser
from sandboxes.api.views import parse
from sandboxes.errors import ValidationFailed
from sandboxes.models import ApiToken, AuditEvent, BaselineService, Team, Tenant
from sandboxes.validation import DNS1123_LABEL_RE

FAKE = "swagger_fake_view"


def team_for_write(request: Any, slug: str | None) -> Team:
    """The team a new tenant or token belongs to: the one named, the token's, or the
    caller's only team."""
    token = request_token(request)
    teams = selectors.teams_for_user(request.user)
    if token is not None:
        teams = teams.filter(pk=token.team_id)
    if slug:
        team = teams.filter(slug=slug).first()
        if team is None:
            raise ValidationFailed({"team": [f"Unknown team {slug!r}."]})
        return team
    found = list(teams[:2])
    if len(found) != 1:
        raise ValidationFailed({"team": ["You are in several teams; say which with `team`."]})
    return found[0]


@extend_schema(tags=["catalog"])
class ServiceViewSet(BodyLimitMixin, viewsets.ReadOnlyModelViewSet):
    """The catalog of baseline services your teams may fork. Read-only over the API."""

    serializer_class = s.ServiceOut
    lookup_field = "name"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> Any:
        if getattr(self, FAKE, False):
            return BaselineService.objects.none()
        qs = selectors.baseline_services_for_user(self.request.user)
        token = request_token(self.request)
        if token is not None:
            qs = qs.filter(namespace__in=token.team.allowed_namespaces or [])
        return qs

    def get_object(self) -> BaselineService:
        name = self.kwargs["name"]
        if len(name) > 63 or not DNS1123_LABEL_RE.match(name):
            raise exceptions.NotFound(f"Service {name!r} not found.")
        return super().get_object()


@extend_schema(tags=["tenants"])
class TenantViewSet(BodyLimitMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Routing identities: one per developer or test client."""

    serializer_class = s.TenantOut
    parser_classes = [SafeJSONParser]

    def get_queryset(self) -> Any:
        if getattr(self, FAKE, False):
            return Tenant.objects.none()
        return selectors.tenants_for_user(self.request.user, request_token(self.request))

    @extend_schema(
        summary="Create a tenant",
        request=s.TenantIn,
        responses={201: s.TenantOut},
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        body = parse(s.TenantIn, request.data)
        tenant = services.tenant_create(
            actor=request.user,
            team=team_for_write(request, body.get("team")),
            name=body["name"],
            kind=body.get("kind", "developer"),
            via_token=request_token(request),
        )
        return Response(s.TenantOut(tenant).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["tokens"])
class TokenViewSet(
    BodyLimitMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """API tokens. The secret is in the response to `POST` and nowhere else, ever."""

    serializer_class = s.TokenOut
    parser_classes = [SafeJSONParser]
    lookup_value_regex = "[0-9]{1,18}"

    def get_queryset(self) -> Any:
        if getattr(self, FAKE, False):
            return ApiToken.objects.none()
        qs = selectors.tokens_for_user(self.request.user)
        token = request_token(self.request)
        if token is not None:
            qs = qs.filter(team_id=token.team_id)
            if token.tenant_id is not None:
                qs = qs.filter(tenant_id=token.tenant_id)
        return qs

    @extend_schema(
        summary="Issue a token (the secret is shown once)",
        request=s.TokenIn,
        responses={201: s.TokenIssuedOut},
    )
    def create(self, request: Request) -> Response:
        body = parse(s.TokenIn, request.data)
        team = team_for_write(request, body.get("team"))
        tenant = None
        if body.get("tenant"):
            tenant = tenant_from_ref(request, body["tenant"])
            if tenant.team_id != team.pk:
                raise ValidationFailed({"tenant": ["The tenant must belong to the token's team."]})
        ttl = body.get("ttl")
        issued = services.token_issue(
            actor=request.user,
            team=team,
            name=body["name"],
            tenant=tenant,
            ttl=timedelta(seconds=ttl) if ttl is not None else None,
            via_token=request_token(request),
        )
        data = dict(s.TokenOut(issued.token).data, secret=issued.secret)
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke a token", responses={200: s.TokenOut})
    def destroy(self, request: Request, pk: str) -> Response:
        token = self.get_object()
        revoked = services.token_revoke(
            actor=request.user, token=token, via_token=request_token(request)
        )
        return Response(s.TokenOut(revoked).data)


@extend_schema(tags=["events"])
class EventViewSet(BodyLimitMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The audit log of your teams, newest first."""

    serializer_class = s.EventOut
    filter_backends = [EventFilter]

    def get_queryset(self) -> Any:
        if getattr(self, FAKE, False):
            return AuditEvent.objects.none()
        return selectors.audit_events_for_user(self.request.user, request_token(self.request))
