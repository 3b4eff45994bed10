# ruff: noqa: RUF001 - non-ASCII digits are what some cases are about
"""The OpenAPI document describes what the services accept: unknown keys refused,
ASCII patterns and the database's lengths. And query parameters the schema calls
integers or date-times are refused when they are not (schemathesis found both)."""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from sandboxes import validation
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schemas() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]


def test_every_request_body_refuses_unknown_keys(schemas):
    bodies = {name: s for name, s in schemas.items() if name.endswith("Request")}
    assert len(bodies) >= 8
    for name, schema in bodies.items():
        assert schema["additionalProperties"] is False, name


def test_echoed_read_only_keys_are_documented_as_ignored(schemas):
    props = schemas["SandboxDocumentInRequest"]["properties"]
    assert props["status"]["description"] == "Read-only; ignored on input."


def test_patterns_and_lengths_are_the_services(schemas):
    doc = schemas["SandboxDocumentInRequest"]["properties"]
    assert doc["name"]["maxLength"] == validation.SANDBOX_NAME_MAX
    assert doc["description"]["maxLength"] == validation.DESCRIPTION_MAX
    fork = schemas["ForkInRequest"]["properties"]
    assert fork["image"]["maxLength"] == validation.IMAGE_REFERENCE_MAX
    # The schema's patterns agree with the services' on ASCII.
    name = re.compile(doc["name"]["pattern"].replace("$", r"\Z"))
    assert name.match("pr-1") and not name.match("pr-١")
    image = re.compile(fork["image"]["pattern"].replace("$", r"\Z"))
    assert image.match("ghcr.io/acme/orders:1") and not image.match("ghcr.io/acme/orders:тест")
    ttl = schemas["SandboxDocumentInRequest"]["properties"]["ttl"]["oneOf"][1]["pattern"]
    assert "\\d" not in ttl


@pytest.mark.parametrize("value", ["null", "0", "-1", "١", ""])
def test_a_bad_page_size_is_refused_not_ignored(client_for, world, value):
    response = client_for(world.alice).get(f"/api/v1/services?page_size={value}")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"page_size": ["Must be a whole number from 1."]}


def test_a_big_page_size_is_capped(client_for, world):
    assert client_for(world.alice).get("/api/v1/services?page_size=5000").status_code == 200


def test_an_empty_date_filter_is_refused(client_for, world):
    response = client_for(world.alice).get("/api/v1/events?until=")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"until": ["Must not be empty."]}
