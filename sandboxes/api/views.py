"""`/api/v1/sandboxes`: views parse the input, find the sandbox through the lookup
rules (see `lookup.py`), call one service, and render the document. No rule about
what is allowed lives here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from sandboxes import selectors, services
from sandboxes.api import lookup
from sandboxes.api import serializers as s
from sandboxes.api import snippets as sn
from sandboxes.api import traffic as tr
from sandboxes.api.documents import DocumentBuilder
from sandboxes.api.filters import SandboxFilter
from sandboxes.api.idempotency import IDEMPOTENCY_PARAM, idempotent
from sandboxes.api.parsers import BodyLimitMixin, SafeJSONParser
from sandboxes.api.wait import MAX_WAIT_SECONDS, clamp_timeout, wait_for_sandbox
from sandboxes.errors import Conflict, NameTaken, ValidationFailed
from sandboxes.models import ApprovalState, Sandbox
from sandboxes.telemetry import sandbox_traffic_document
from sandboxes.validation import DNS1123_LABEL_RE

TENANT_PARAM = OpenApiParameter(
    "tenant",
    str,
    OpenApiParameter.QUERY,
    description="The sandbox's tenant, `name` or `team/name`; needed only when the name "
    "is ambiguous (see docs/api.md, 'Finding a sandbox by name').",
)


def parse(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def plain(value: Any) -> Any:
    """OrderedDicts and ReturnLists to plain dicts and lists, as services expect JSON."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@extend_schema(tags=["sandboxes"])
class SandboxViewSet(BodyLimitMixin, viewsets.GenericViewSet):
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    serializer_class = s.SandboxOut
    filter_backends = [SandboxFilter]
    parser_classes = [SafeJSONParser]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Sandbox.objects.none()
        return selectors.sandboxes_for_user(self.request.user, self.token)

    @property
    def token(self) -> Any:
        return lookup.request_token(self.request)

    def tenant_ref(self) -> str | None:
        return parse(s.TenantQueryIn, self.request.query_params).get("tenant") or None

    def get_sandbox(self, name: str) -> Sandbox:
        return lookup.sandbox_for_request(self.request, name, self.tenant_ref())

    def render(self, sandbox: Sandbox, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.sandbox_get(self.request.user, token=self.token, pk=sandbox.pk)
        return Response(DocumentBuilder(self.request).document(fresh), status=code)

    # --- CRUD -------------------------------------------------------------------------------
    @extend_schema(summary="List sandboxes", responses=s.SandboxOut(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        builder = DocumentBuilder(request)
        return self.get_paginated_response([builder.document(sb) for sb in page or []])

    @extend_schema(
        summary="Create a sandbox",
        request=s.SandboxDocumentIn,
        responses={201: s.SandboxOut},
        parameters=[TENANT_PARAM, IDEMPOTENCY_PARAM],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        doc = parse(s.SandboxDocumentIn, request.data)
        tenant = lookup.tenant_for_create(
            request, lookup.agreed_tenant_ref(self.tenant_ref(), doc.get("tenant"))
        )
        sandbox = self._create(tenant, doc["name"], doc)
        response = self.render(sandbox, status.HTTP_201_CREATED)
        response["Location"] = response.data["url"]
        return response

    def _create(self, tenant: Any, name: str, doc: dict[str, Any]) -> Sandbox:
        return services.sandbox_create(
            actor=self.request.user,
            tenant=tenant,
            name=name,
            forks=plain(doc.get("forks")),
            profile=doc.get("profile", "dev"),
            ttl_seconds=doc.get("ttl"),
            description=doc.get("description", ""),
            labels=plain(doc.get("labels", {})),
            via_token=self.token,
        )

    @extend_schema(summary="Get a sandbox", parameters=[TENANT_PARAM])
    def retrieve(self, request: Request, name: str) -> Response:
        return Response(DocumentBuilder(request).document(self.get_sandbox(name)))

    @extend_schema(
        summary="Create or update a sandbox by name (idempotent)",
        request=s.SandboxPutIn,
        responses={200: s.SandboxOut, 201: s.SandboxOut},
        parameters=[TENANT_PARAM],
    )
    def update(self, request: Request, name: str) -> Response:
        doc = parse(s.SandboxPutIn, request.data)
        if doc.get("name") not in (None, name):
            raise ValidationFailed(
                {"name": [f"The path says {name!r} but the document says {doc['name']!r}."]}
            )
        tenant = lookup.tenant_for_create(
            request, lookup.agreed_tenant_ref(self.tenant_ref(), doc.get("tenant"))
        )
        existing = None
        valid_name = len(name) <= 63 and DNS1123_LABEL_RE.match(name)
        if valid_name:
            existing = lookup.sandbox_for_put(request, name, tenant)
        if existing is None:
            try:
                return self.render(self._create(tenant, name, doc), status.HTTP_201_CREATED)
            except NameTaken:
                # A concurrent PUT of the same name created it first (the create waited
                # for that one's team lock and saw its row): this PUT is an update.
                existing = lookup.sandbox_for_put(request, name, tenant) if valid_name else None
                if existing is None:
                    raise
        # Replace semantics: what the document leaves out goes back to its default.
        return self._update(
            existing,
            {
                "profile": doc.get("profile", "dev"),
                "description": doc.get("description", ""),
                "labels": doc.get("labels", {}),
                "forks": doc.get("forks"),
                "ttl": doc.get("ttl"),
            },
        )

    @extend_schema(
        summary="Change some fields of a sandbox",
        request=s.SandboxPatchIn,
        parameters=[TENANT_PARAM],
    )
    def partial_update(self, request: Request, name: str) -> Response:
        doc = parse(s.SandboxPatchIn, request.data)
        return self._update(self.get_sandbox(name), doc)

    def _update(self, sandbox: Sandbox, doc: dict[str, Any]) -> Response:
        """One transaction: a bad TTL must not leave a half-applied spec behind. The TTL
        is applied only when it differs, so re-applying a document changes nothing."""
        with transaction.atomic():
            sandbox = services.sandbox_update(
                actor=self.request.user,
                sandbox=sandbox,
                forks=plain(doc.get("forks")),
                profile=doc.get("profile"),
                description=doc.get("description"),
                labels=plain(doc.get("labels")),
                via_token=self.token,
            )
            ttl = doc.get("ttl")
            if ttl is not None and ttl != int(sandbox.ttl.total_seconds()):
                sandbox = services.sandbox_extend(
                    actor=self.request.user, sandbox=sandbox, ttl_seconds=ttl, via_token=self.token
                )
        return self.render(sandbox)

    @extend_schema(
        summary="Delete a sandbox",
        description="Marks it for deletion; the reconciler takes everything down. "
        "Idempotent. Answers 202 with the document.",
        parameters=[TENANT_PARAM],
        responses={202: s.SandboxOut},
    )
    def destroy(self, request: Request, name: str) -> Response:
        sandbox = services.sandbox_delete(
            actor=request.user, sandbox=self.get_sandbox(name), via_token=self.token
        )
        return self.render(sandbox, status.HTTP_202_ACCEPTED)

    # --- Actions ----------------------------------------------------------------------------
    @extend_schema(
        summary="Extend a sandbox's lifetime",
        request=s.ExtendIn,
        responses=s.SandboxOut,
        parameters=[TENANT_PARAM],
    )
    @action(detail=True, methods=["post"])
    def extend(self, request: Request, name: str) -> Response:
        body = parse(s.ExtendIn, request.data)
        sandbox = services.sandbox_extend(
            actor=request.user,
            sandbox=self.get_sandbox(name),
            ttl_seconds=body["ttl"],
            via_token=self.token,
        )
        return self.render(sandbox)

    @extend_schema(
        summary="Approve a prod-like sandbox (leads only, never their own request)",
        request=s.DecisionIn,
        responses=s.ApprovalOut,
        parameters=[TENANT_PARAM],
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, name: str) -> Response:
        return self._decide(name, approve=True)

    @extend_schema(
        summary="Reject a prod-like sandbox (leads only, never their own request)",
        request=s.DecisionIn,
        responses=s.ApprovalOut,
        parameters=[TENANT_PARAM],
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, name: str) -> Response:
        return self._decide(name, approve=False)

    def _decide(self, name: str, *, approve: bool) -> Response:
        body = parse(s.DecisionIn, self.request.data)
        sandbox = self.get_sandbox(name)
        approval = selectors.approval_current(sandbox)
        if approval is None or approval.state != ApprovalState.PENDING:
            raise Conflict(f"Sandbox {sandbox.name} has no pending approval request.")
        extra: dict[str, Any] = {}
        if approve and body.get("validFor") is not None:
            valid_for = body["validFor"]
            if not -(10**9) < valid_for < 10**9:
                raise ValidationFailed({"validFor": ["Must be between 1 second and 30 days."]})
            extra["valid_for"] = timedelta(seconds=valid_for)
        try:
            decided = services.approval_decide(
                actor=self.request.user,
                approval=approval,
                approve=approve,
                reason=body["reason"],
                via_token=self.token,
                **extra,
            )
        except ValidationFailed as exc:
            fields = {("validFor" if k == "valid_for" else k): v for k, v in exc.fields.items()}
            raise ValidationFailed(fields) from exc
        return Response(s.ApprovalOut(decided).data)

    @extend_schema(
        summary="Wait until the sandbox is Ready, has failed, or the timeout passes",
        description=(
            f"A long-poll of at most {MAX_WAIT_SECONDS} seconds per request; loop for "
            "longer waits. Always 200: read `result` (ready, rendered, failed, timeout). "
            "Rendered: render-only mode wrote the manifests (no cluster), done. A prod-like "
            "sandbox awaiting approval keeps waiting (timeout reason AwaitingApproval). Failed "
            "means a condition of the current generation carries a terminal reason, or "
            "the sandbox is being deleted."
        ),
        parameters=[
            TENANT_PARAM,
            OpenApiParameter(
                "timeout",
                int,
                OpenApiParameter.QUERY,
                description=f"Seconds to wait, 0 to {MAX_WAIT_SECONDS} (default 30).",
            ),
        ],
        responses=s.WaitOut,
    )
    @action(detail=True, methods=["get"])
    def wait(self, request: Request, name: str) -> Response:
        query = parse(s.WaitQueryIn, request.query_params)
        sandbox = self.get_sandbox(name)
        outcome = wait_for_sandbox(
            user=request.user,
            token=self.token,
            sandbox_id=sandbox.pk,
            timeout=clamp_timeout(query.get("timeout")),
        )
        return Response(
            {
                "result": outcome.result,
                "reason": outcome.reason,
                "message": outcome.message,
                "waited": outcome.waited,
                "sandbox": DocumentBuilder(request).document(outcome.sandbox),
            }
        )

    @extend_schema(
        summary="Every header snippet of a sandbox",
        parameters=[
            TENANT_PARAM,
            OpenApiParameter("url", str, description="The URL the snippets call."),
            OpenApiParameter("service", str, description="The fork mirrord steals from."),
        ],
        responses=s.SnippetsOut,
    )
    @action(detail=True, methods=["get"])
    def snippets(self, request: Request, name: str) -> Response:
        query = parse(s.SnippetQueryIn, request.query_params)
        sandbox = self.get_sandbox(name)
        url = query.get("url") or sn.default_url(sandbox)
        return Response(
            {
                "routingKey": sandbox.routing_key,
                "url": url,
                "snippets": sn.sandbox_snippets(sandbox, url=url, service=query.get("service")),
            }
        )

    @extend_schema(
        summary="One snippet of a sandbox",
        operation_id="sandboxes_snippet_retrieve",
        parameters=[
            TENANT_PARAM,
            OpenApiParameter(
                "fmt", str, OpenApiParameter.PATH, enum=[*sn.FORMATS], description="Format."
            ),
            OpenApiParameter("url", str, description="The URL the snippet calls."),
            OpenApiParameter("service", str, description="The fork mirrord steals from."),
        ],
        responses=s.SnippetOut,
    )
    @action(detail=True, methods=["get"], url_path=r"snippets/(?P<fmt>[^/]+)")
    def snippet(self, request: Request, name: str, fmt: str) -> Response:
        query = parse(s.SnippetQueryIn, request.query_params)
        sandbox = self.get_sandbox(name)
        if fmt not in sn.FORMATS:
            raise exceptions.NotFound(
                f"Unknown snippet format {fmt!r}; one of: {', '.join(sn.FORMATS)}."
            )
        try:
            content = sn.sandbox_snippet(
                sandbox, fmt, url=query.get("url"), service=query.get("service")
            )
        except sn.SnippetNotReady as exc:
            raise Conflict(str(exc)) from exc
        except sn.SnippetUnavailable as exc:
            raise exceptions.NotFound(str(exc)) from exc
        return Response({"format": fmt, "routingKey": sandbox.routing_key, "content": content})

    @extend_schema(
        summary="Which hop dropped the routing key: the mesh's request counts per fork",
        description=(
            "Reads the mesh's own request counts (Istio `istio_requests_total`, Linkerd "
            "`response_total`) from the configured Prometheus API over `window` and reports, "
            "per fork, the requests it received and from whom; per call between two forked "
            "services, whether it reached the fork or the baseline; and which fork dropped "
            "the key. `telemetry.state` is `not_configured` when no backend is set. "
            "503 when the backend is down, slow or refuses the query. See docs/routing.md."
        ),
        parameters=[
            TENANT_PARAM,
            OpenApiParameter(
                "window",
                str,
                OpenApiParameter.QUERY,
                enum=[*tr.WINDOWS],
                description=f"How far back to count requests (default {tr.DEFAULT_WINDOW}).",
            ),
        ],
        responses={
            200: tr.TrafficOut,
            503: OpenApiResponse(
                response={"$ref": "#/components/schemas/Error"},
                description="The telemetry backend is down, slow, or refused the query; "
                "`error.code` is `telemetry_unavailable`.",
            ),
        },
    )
    @action(detail=True, methods=["get"])
    def traffic(self, request: Request, name: str) -> Response:
        query = parse(tr.TrafficQueryIn, request.query_params)
        sandbox = self.get_sandbox(name)
        curl = sn.sandbox_snippet(sandbox, "curl") if sandbox.forks.all() else ""
        return Response(sandbox_traffic_document(sandbox, window=query["window"], curl=curl))
