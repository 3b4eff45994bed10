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

# Only on operations that take an `Idempotency-Key` header.
IDEMPOTENCY_REUSED = "This Idempotency-Key was already used for a different request."

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


# What the services accept, written into the request schemas so that the OpenAPI
# document is the contract (schemathesis checks both directions). The services remain
# the judge and give the field-level messages; these only describe the same rules.
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_NO_NUL = r"^[^\u0000]*$"
_NAME_40 = {"minLength": 1, "maxLength": 40, "pattern": _DNS_LABEL}
_TENANT_REF = {"minLength": 1, "maxLength": 104, "pattern": r"^([a-z0-9-]{1,63}/)?[a-z0-9-]{1,40}$"}
_DESCRIPTION = {"maxLength": 500, "pattern": _NO_NUL}
_LABELS = {
    "maxProperties": 32,
    "additionalProperties": {"type": "string", "maxLength": 63, "pattern": _NO_NUL},
}
_SANDBOX_DOC = {
    "name": _NAME_40,
    "tenant": _TENANT_REF,
    "description": _DESCRIPTION,
    "labels": _LABELS,
}
INPUT_RULES: dict[str, dict[str, dict[str, Any]]] = {
    "SandboxDocumentInRequest": _SANDBOX_DOC,
    "SandboxPutInRequest": _SANDBOX_DOC,
    "PatchedSandboxPatchInRequest": {"description": _DESCRIPTION, "labels": _LABELS},
    "ForkInRequest": {
        "service": _NAME_40,
        # ASCII, no whitespace: the OCI reference grammar is checked by the service.
        "image": {"maxLength": 512, "pattern": r"^[\x21-\x7e]*$"},
        "replicas": {"minimum": 0},
        "env": {"maxItems": 100},
    },
    "EnvVarInRequest": {
        "name": {"minLength": 1, "maxLength": 128, "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
        "value": {"maxLength": 32768, "pattern": _NO_NUL},
    },
    "DecisionInRequest": {
        "reason": {"minLength": 1, "maxLength": 500, "pattern": r"^[^\u0000]*\S[^\u0000]*$"},
        "validFor": {"minimum": 1, "maximum": 30 * 86400},
    },
    "TenantInRequest": {"name": _NAME_40},
    "TokenInRequest": {"name": {"minLength": 1, "maxLength": 100, "pattern": _NO_NUL}},
    "ExtendInRequest": {},
}


def describe_input_rules(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: request bodies refuse unknown keys
    (`additionalProperties: false`, as StrictSerializer does) and carry the services'
    patterns and lengths. Keys the API ignores on input (read-only fields a client may
    echo back from a response) are listed as such, so they are not "unknown"."""
    from sandboxes.api.serializers import READ_ONLY_DOCUMENT_KEYS

    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if not name.endswith("Request") or schema.get("type") != "object":
            continue
        schema["additionalProperties"] = False
        properties = schema.setdefault("properties", {})
        for field, rules in INPUT_RULES.get(name, {}).items():
            if field in properties:
                properties[field].update(rules)
        if name in ("SandboxDocumentInRequest", "SandboxPutInRequest"):
            ignored = READ_ONLY_DOCUMENT_KEYS
        elif name == "PatchedSandboxPatchInRequest":
            ignored = READ_ONLY_DOCUMENT_KEYS | {"name", "tenant"}
        else:
            ignored = frozenset()
        for key in sorted(ignored - set(properties)):
            properties[key] = {"description": "Read-only; ignored on input."}
    return result


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation may answer the error shape."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            statuses = dict(ERROR_STATUSES)
            if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])):
                statuses["422"] = IDEMPOTENCY_REUSED
            for code, text in statuses.items():
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
