"""The sandbox document as the API returns it: the spec (the same shape clients send)
plus what Sidestage adds. Built from prefetched rows only, so a page of sandboxes
costs the same number of queries whatever its size."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.request import Request

from sandboxes.api.snippets import FORMATS
from sandboxes.conditions import condition_status
from sandboxes.models import Mesh, Sandbox

_NAME_PLACEHOLDER = "sandbox-name-placeholder"


class DocumentBuilder:
    """Renders many sandboxes for one request; URL prefixes are computed once."""

    def __init__(self, request: Request) -> None:
        self.request = request
        detail = reverse("api-sandbox-detail", kwargs={"name": _NAME_PLACEHOLDER})
        self._detail = request.build_absolute_uri(detail)

    def url(self, sandbox: Sandbox) -> str:
        return self._detail.replace(_NAME_PLACEHOLDER, sandbox.name) + (
            f"?tenant={sandbox.tenant.team.slug}/{sandbox.tenant.name}"
        )

    def snippet_links(self, sandbox: Sandbox, forks: list[Any]) -> dict[str, str]:
        base = self._detail.replace(_NAME_PLACEHOLDER, sandbox.name)
        query = f"?tenant={sandbox.tenant.team.slug}/{sandbox.tenant.name}"
        has_linkerd1 = any(f.baseline.mesh == Mesh.LINKERD1 for f in forks)
        links = {}
        for fmt in FORMATS:
            if (fmt == "dtab" and not has_linkerd1) or (fmt == "mirrord" and not forks):
                continue
            links[fmt] = f"{base}/snippets/{fmt}{query}"
        return links

    def document(self, sandbox: Sandbox) -> dict[str, Any]:
        # The spec is the document people send (the same shape in the API, the CLI's
        # YAML and the docs); the rest is what only the server knows.
        return {
            **sandbox.spec,
            "team": sandbox.tenant.team.slug,
            "routingKey": sandbox.routing_key,
            "generation": sandbox.generation,
            "observedGeneration": sandbox.observed_generation,
            "expiresAt": _iso(sandbox.expires_at),
            "createdAt": _iso(sandbox.created_at),
            "createdBy": getattr(sandbox.created_by, "username", None),
            "deletionRequestedAt": _iso(sandbox.deletion_requested_at),
            "deletedAt": _iso(sandbox.deleted_at),
            "status": {
                "conditions": [
                    {
                        "type": str(c.get("type", "")),
                        "status": str(c.get("status", "Unknown")),
                        "reason": str(c.get("reason", "")),
                        "message": str(c.get("message", "")),
                        "lastTransitionTime": str(c.get("lastTransitionTime", "")),
                        "observedGeneration": int(c.get("observedGeneration") or 0),
                    }
                    for c in sandbox.conditions or []
                ],
                "ready": condition_status(sandbox.conditions, "Ready"),
                "inProgress": sandbox.in_progress,
            },
            "snippets": self.snippet_links(sandbox, list(sandbox.forks.all())),
            "url": self.url(sandbox),
        }


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")
