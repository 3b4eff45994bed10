"""OpenAPI additions: the one error shape, documented on every operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

ERROR_STATUSES: dict[str, str] = {
    "400": "Invalid input; `error.fields` names each bad field by its dotted path.",
    "401": "Missing or bad credentials.",
    "403": "Not allowed: role, four-eyes rule, token scope or quota.",
    "404": "Not found, or not yours: other teams' objects are never revealed.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflict with the sandbox's current state.",
    "413": "Request body too large.",
    "415": "Unsupported media type: send application/json.",
    "429": "Throttled (per API token).",
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation may answer the error shape."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, text in ERROR_STATUSES.items():
                responses.setdefault(
                    code, {"description": text, "content": {"application/json": {"schema": ref}}}
                )
    return result


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token, `sst_<id>_<secret>` (POST /api/v1/tokens).",
        }
