"""Validate rendered manifests against the real schemas.

* Istio kinds: the CRD ``openAPIV3Schema`` from ``istio.io/api``.
* Gateway API kinds: the standard-channel CRDs from ``sigs.k8s.io/gateway-api``.
* ``policy.linkerd.io`` HTTPRoute: Linkerd's CRD is not a Go module we fetch, and its
  spec is the Gateway API HTTPRoute's; it is checked against that schema.
* Core kinds (Deployment, Service, ...): ``kubernetes_validate``.

The CRDs come from ``scripts/fetch-crds`` (a cache outside the repository). JSON
Schema does not run the CRDs' CEL rules; the renderers check those limits in code.

Usage::

    validate_manifest(obj)            # raises ManifestInvalid with a clear message
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


class ManifestInvalid(AssertionError):
    """A manifest that does not validate; the message names kind, name and the path."""


@functools.cache
def crd_dir() -> Path:
    """Run ``scripts/fetch-crds`` once per process and return its cache directory."""
    out = subprocess.run(
        [str(REPO / "scripts" / "fetch-crds")],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    return Path(out.stdout.strip().splitlines()[-1])


@functools.cache
def _crd_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> openAPIV3Schema for every CRD version we fetched."""
    root = crd_dir()
    files = [root / "istio.yaml", *sorted((root / "gateway-api").glob("*.yaml"))]
    schemas: dict[tuple[str, str], dict] = {}
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group = doc["spec"]["group"]
            kind = doc["spec"]["names"]["kind"]
            for version in doc["spec"]["versions"]:
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema:
                    schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def _strict(schema: Any) -> Any:
    """Forbid unknown fields like the API server's structural pruning + strict decoding.

    Without this a misspelt field validates and is silently dropped by the server.
    """
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def _validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    lookup = api_version
    if api_version.startswith("policy.linkerd.io/") and kind == "HTTPRoute":
        lookup = "gateway.networking.k8s.io/v1"
    schema = _crd_schemas().get((lookup, kind))
    if schema is None:
        raise ManifestInvalid(f"no fetched CRD schema for {api_version} {kind}")
    schema = _strict(schema)
    # The CRDs omit apiVersion/kind/metadata (the API server owns them).
    props = schema.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props.setdefault("metadata", {"type": "object"})
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def _check_metadata(obj: dict) -> None:
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    if not name or len(name) > 253:
        raise ManifestInvalid(f"{obj.get('kind')}: metadata.name {name!r} is missing or too long")
    for key, value in (meta.get("labels") or {}).items():
        if not isinstance(value, str) or len(value) > 63:
            raise ManifestInvalid(f"{obj['kind']} {name}: label {key}={value!r} is invalid")


@pytest.fixture(scope="session")
def crds() -> Path:
    """The CRD cache directory, fetched once per test session."""
    try:
        return crd_dir()
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"scripts/fetch-crds failed: {exc}")


def validate_manifest(obj: dict) -> None:
    """Raise :class:`ManifestInvalid` unless ``obj`` validates against its real schema."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    where = f"{api_version} {kind} {(obj.get('metadata') or {}).get('name')!r}"
    if "." not in api_version.split("/")[0] or "/" not in api_version:
        import kubernetes_validate

        try:
            kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise ManifestInvalid(f"{where}: {exc}") from exc
        return
    _check_metadata(obj)
    errors = sorted(_validator(api_version, kind).iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        lines = [
            f"  at {'.'.join(str(p) for p in e.path) or '<root>'}: {e.message}" for e in errors[:10]
        ]
        raise ManifestInvalid(f"{where} does not match its CRD schema:\n" + "\n".join(lines))
