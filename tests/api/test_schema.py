"""The OpenAPI schema validates with no warnings, and the docs pages render."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_spectacular_validates_without_warnings(tmp_path: Path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert "/api/v1/sandboxes/{name}/wait" in schema["paths"]
    put = schema["paths"]["/api/v1/sandboxes/{name}"]["put"]
    assert {"200", "201", "400", "404", "413", "415", "429"} <= set(put["responses"])
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_schema_and_docs_pages(client, world):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_browsable_api_with_a_session(client, world, make_sandbox):
    make_sandbox("pr-1")
    client.force_login(world.alice)
    for path in ("/api/v1/sandboxes", "/api/v1/sandboxes/pr-1", "/api/v1/tokens"):
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        assert b"pr-1" in response.content or path == "/api/v1/tokens"


def test_unknown_api_paths_use_the_error_shape(client):
    response = client.get("/api/v2/nothing")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "No such API endpoint.", "fields": {}}
    }
