# ruff: noqa: RUF001 - non-ASCII look-alikes are what some of these cases are about
"""Malformed requests: each answers 4xx in the one error shape, with the exact field
error. Nothing a client sends produces a 500."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db

FORK = {"service": "orders", "image": "ghcr.io/acme/orders:pr-1"}
DNS = (
    "Must be a DNS-1123 label: lowercase letters, digits and '-', "
    "starting and ending with a letter or digit."
)


ASCII = "An image reference is ASCII only (letters, digits, '.', '_', '-', '/', ':', '@')."
BAD_IMAGE = (
    "Not a valid image reference. Expected [registry[:port]/]name[:tag][@digest], "
    "e.g. ghcr.io/acme/orders:1.4.2 (lowercase repository name up to 255 characters, "
    "tag of letters, digits, '_', '.', '-' up to 128 characters, digest "
    "sha256:<64 lowercase hex> or sha512:<128 lowercase hex>)."
)
TTL_SHAPE = "Must be a whole number of seconds or a duration like 90m, 8h or 2d."


def with_fork(**fork):
    return {"name": "pr-1", "tenant": "alice", "forks": [{**FORK, **fork}]}


def doc(**overrides):
    return {"name": "pr-1", "tenant": "alice", "forks": [FORK], **overrides}


MATRIX = [
    ("name-upper", doc(name="PR-1"), {"name": [DNS]}),
    ("name-empty", doc(name=""), {"name": ["This field is required."]}),
    ("name-missing", {"forks": [FORK]}, {"name": ["This field is required."]}),
    ("name-long", doc(name="a" * 41), {"name": ["Must be at most 40 characters (got 41)."]}),
    ("name-number", doc(name=7), {"name": ["Must be a string."]}),
    (
        "image-bad",
        with_fork(image="ghcr.io/acme/Orders:pr 1"),
        {"forks[0].image": ["An image reference may not contain whitespace."]},
    ),
    (
        "image-registry",
        with_fork(image="quay.io/evil/orders:1"),
        {
            "forks[0].image": [
                "Registry not allowed for team shop (allowed: ghcr.io/acme, docker.io/library)."
            ]
        },
    ),
    (
        "env-name",
        with_fork(env=[{"name": "1BAD", "value": "x"}]),
        {
            "forks[0].env[0].name": [
                "Must be a C identifier: letters, digits and '_', not starting with a digit."
            ]
        },
    ),
    (
        "env-reserved",
        with_fork(env=[{"name": "SIDESTAGE_ROUTING_KEY", "value": "x"}]),
        {
            "forks[0].env[0].name": [
                "SIDESTAGE_ROUTING_KEY is set by Sidestage and cannot be overridden."
            ]
        },
    ),
    (
        "env-twice",
        with_fork(env=[{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]),
        {"forks[0].env[1].name": ["A is set twice."]},
    ),
    (
        "env-value-type",
        with_fork(env=[{"name": "A", "value": 1}]),
        {"forks[0].env[0].value": ["Must be a string."]},
    ),
    (
        "env-unknown-key",
        with_fork(env=[{"name": "A", "valu": "1"}]),
        {"forks[0].env[0].valu": ["Unknown field."]},
    ),
    ("env-not-list", with_fork(env={"A": "1"}), {"forks[0].env": ["Must be a list."]}),
    ("replicas-type", with_fork(replicas="2"), {"forks[0].replicas": ["Must be an integer."]}),
    (
        "replicas-range",
        with_fork(replicas=9),
        {"forks[0].replicas": ["Must be between 0 and 3 (the team's limit)."]},
    ),
    ("fork-typo", with_fork(replica=2), {"forks[0].replica": ["Unknown field."]}),
    ("ttl-zero", doc(ttl=0), {"ttl": ["Must be greater than 0 seconds."]}),
    ("ttl-long", doc(ttl="30d"), {"ttl": ["Must be at most 604800 seconds (the team's maximum)."]}),
    (
        "ttl-garbage",
        doc(ttl="soon"),
        {"ttl": ["Must be a whole number of seconds or a duration like 90m, 8h or 2d."]},
    ),
    (
        "ttl-bool",
        doc(ttl=True),
        {"ttl": ["Must be a whole number of seconds or a duration like 90m, 8h or 2d."]},
    ),
    (
        "service-unknown",
        with_fork(service="nope"),
        {
            "forks[0].service": [
                "Unknown service 'nope': not in the catalog of services team shop may fork "
                "(GET /api/v1/services lists them)."
            ]
        },
    ),
    (
        "namespace-forbidden",
        with_fork(service="indexer", image=""),
        {
            "forks[0].service": [
                "Unknown service 'indexer': not in the catalog of services team shop may fork "
                "(GET /api/v1/services lists them)."
            ]
        },
    ),
    (
        "service-twice",
        {"name": "pr-1", "tenant": "alice", "forks": [FORK, FORK]},
        {"forks[1].service": ["Service orders is forked twice."]},
    ),
    ("forks-empty", doc(forks=[]), {"forks": ["A sandbox needs at least one fork."]}),
    ("forks-not-list", doc(forks="orders"), {"forks": ["Must be a list."]}),
    ("forks-missing", {"name": "pr-1", "tenant": "alice"}, {"forks": ["This field is required."]}),
    ("profile", doc(profile="prod"), {"profile": ['"prod" is not a valid choice.']}),
    (
        "labels-key",
        doc(labels={"Bad Key": "x"}),
        {"labels": ["Label key 'Bad Key' must be a DNS-1123 label."]},
    ),
    ("labels-type", doc(labels=["a"]), {"labels": ["Must be an object."]}),
    (
        "description-long",
        doc(description="x" * 501),
        {"description": ["At most 500 characters (got 501)."]},
    ),
    ("nul", doc(description="a\x00b"), {"description": ["Null characters are not allowed."]}),
    # `$` in a regex also matches before a trailing newline; names must not.
    (
        "name-trailing-newline",
        doc(name="pr-1\n"),
        {
            "name": [
                "Must be a DNS-1123 label: lowercase letters, digits and '-', "
                "starting and ending with a letter or digit."
            ]
        },
    ),
    (
        "env-name-trailing-newline",
        with_fork(env=[{"name": "FOO\n", "value": "1"}]),
        {
            "forks[0].env[0].name": [
                "Must be a C identifier: letters, digits and '_', not starting with a digit."
            ]
        },
    ),
    ("ttl-huge", doc(ttl=10**20), {"ttl": ["Must be at most 1000000000 seconds."]}),
    # ASCII only, the OCI grammar, and the column's length: 400, never a 500.
    (
        "image-cyrillic-tag",
        with_fork(image="ghcr.io/acme/orders:тест"),
        {"forks[0].image": [ASCII]},
    ),
    ("image-arabic-digit", with_fork(image="ghcr.io/acme/orders:v١"), {"forks[0].image": [ASCII]}),
    (
        "image-digest-too-long",
        with_fork(image="ghcr.io/acme/orders@sha256:" + "a" * 600),
        {"forks[0].image": ["At most 512 characters (got 627)."]},
    ),
    (
        "image-digest-wrong-length",
        with_fork(image="ghcr.io/acme/orders@sha256:" + "a" * 65),
        {"forks[0].image": [BAD_IMAGE]},
    ),
    ("ttl-arabic-digits", doc(ttl="١٢"), {"ttl": [TTL_SHAPE]}),
    ("ttl-fullwidth-digits", doc(ttl="１２h"), {"ttl": [TTL_SHAPE]}),
    ("ttl-padded", doc(ttl=" 12"), {"ttl": [TTL_SHAPE]}),
    ("unknown-top", doc(spec={}), {"spec": ["Unknown field."]}),
    ("tenant-unknown", doc(tenant="nobody"), {"tenant": ["Unknown tenant 'nobody'."]}),
    ("not-an-object", [1, 2], {"body": ["Invalid data. Expected a dictionary, but got list."]}),
]


@pytest.mark.parametrize(("case", "body", "fields"), MATRIX, ids=[m[0] for m in MATRIX])
def test_malformed_sandbox_documents(client_for, world, case, body, fields):
    response = client_for(world.alice).post("/api/v1/sandboxes", body, format="json")
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid"
    assert error["fields"] == fields


def test_every_problem_is_reported_at_once(client_for, world):
    body = {
        "name": "Bad",
        "tenant": "alice",
        "ttl": -1,
        "forks": [{"service": "orders", "image": "no good", "replicas": -1}],
    }
    error = error_of(client_for(world.alice).post("/api/v1/sandboxes", body, format="json"))
    assert set(error["fields"]) == {"name", "ttl", "forks[0].image", "forks[0].replicas"}


def test_unknown_service_in_the_data_policy(client_for, world):
    # The default policy refuses what it does not know; orders' DB is isolated instead.
    body = with_fork()
    response = client_for(world.alice).post("/api/v1/sandboxes", body, format="json")
    assert response.status_code == 201


RAW = [
    ("broken-json", "application/json", b'{"name": "pr-1",', 400, "parse_error"),
    ("nan", "application/json", b'{"name": NaN}', 400, "parse_error"),
    ("deep", "application/json", b"[" * 100_000 + b"]" * 100_000, 400, "parse_error"),
    ("latin1", "application/json", '{"name": "é"}'.encode("latin-1"), 400, "parse_error"),
    ("lone-surrogate", "application/json", b'{"name": "\\ud800"}', 400, "invalid"),
    ("form", "application/x-www-form-urlencoded", b"name=pr-1", 415, "unsupported_media_type"),
    ("text", "text/plain", b"name: pr-1", 415, "unsupported_media_type"),
    ("yaml", "application/yaml", b"name: pr-1", 415, "unsupported_media_type"),
    ("bad-charset", "application/json; charset=nonsense", b"{}", 400, "invalid"),
]


@pytest.mark.parametrize(
    ("case", "ctype", "raw", "code", "error_code"), RAW, ids=[r[0] for r in RAW]
)
def test_malformed_bodies(client_for, world, case, ctype, raw, code, error_code):
    response = client_for(world.alice).generic("POST", "/api/v1/sandboxes", raw, content_type=ctype)
    assert response.status_code == code, response.content
    assert error_of(response)["code"] == error_code


def test_broken_json_names_the_body(client_for, world):
    response = client_for(world.alice).generic(
        "POST", "/api/v1/sandboxes", b"{", content_type="application/json"
    )
    assert error_of(response)["fields"] == {
        "body": [
            "JSON parse error - Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)"
        ]
    }


def test_lone_surrogate_names_the_field(client_for, world):
    response = client_for(world.alice).generic(
        "POST",
        "/api/v1/sandboxes",
        b'{"description": "\\udc00"}',
        content_type="application/json",
    )
    assert error_of(response)["fields"] == {
        "description": ["Not valid Unicode (a lone surrogate)."]
    }


@override_settings(SIDESTAGE_MAX_REQUEST_BYTES=1024, DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
@pytest.mark.parametrize("ctype", ["application/json", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize("path", ["/api/v1/sandboxes", "/api/v1/sandboxes/pr-1"])
def test_oversize_bodies_are_413(client_for, world, ctype, path):
    body = json.dumps(doc(description="x" * 2000)).encode()
    method = "POST" if path.endswith("sandboxes") else "PUT"
    response = client_for(world.alice).generic(method, path, body, content_type=ctype)
    assert response.status_code == 413, response.content
    assert error_of(response) == {
        "code": "payload_too_large",
        "message": "The request body is too large.",
        "fields": {},
    }


@override_settings(SIDESTAGE_MAX_REQUEST_BYTES=1024, DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_oversize_form_body_with_session_auth_is_413(client, world):
    # Session auth checks CSRF, which reads request.POST: Django's own limit fires there.
    client.force_login(world.alice)
    response = client.generic(
        "POST",
        "/api/v1/sandboxes",
        b"a=" + b"x" * 2000,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_a_body_that_lies_about_its_length_is_still_bounded(client_for, world, settings):
    settings.SIDESTAGE_MAX_REQUEST_BYTES = 100
    response = client_for(world.alice).generic(
        "POST",
        "/api/v1/sandboxes",
        b'{"name": "' + b"x" * 500 + b'"}',
        content_type="application/json",
        CONTENT_LENGTH="50",
    )
    assert response.status_code in (400, 413)


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        (
            "/api/v1/sandboxes?condition=Ready=Maybe",
            {"condition": ["'Ready=Maybe': expected Type or Type=True|False|Unknown."]},
        ),
        ("/api/v1/sandboxes?label=Bad%20Key", {"label": ["'Bad Key': expected key or key=value."]}),
        ("/api/v1/sandboxes?service=Orders", {"service": ["'Orders' is not a service name."]}),
        (
            "/api/v1/sandboxes?tenant=%00",
            {"tenant": ["Values may not contain NUL characters or exceed 200 characters."]},
        ),
        ("/api/v1/sandboxes?deleted=maybe", {"deleted": ["Must be true or false."]}),
        (
            "/api/v1/events?since=yesterday",
            {
                "since": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ),
        ("/api/v1/events?tenant=%00", {"tenant": ["Null characters are not allowed."]}),
    ],
)
def test_bad_query_parameters(client_for, world, path, fields):
    response = client_for(world.alice).get(path)
    assert response.status_code == 400, response.content
    assert error_of(response)["fields"] == fields


@pytest.mark.parametrize("name", ["%00", "UPPER", "a" * 64, "x%2Fy", "-x"])
def test_odd_names_in_the_path_are_404(client_for, world, name):
    response = client_for(world.alice).get(f"/api/v1/sandboxes/{name}")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_unauthenticated_and_bad_tokens(client, world):
    response = client.get("/api/v1/sandboxes")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="sidestage"'
    response = client.get("/api/v1/sandboxes", HTTP_AUTHORIZATION="Bearer sst_nope_nope")
    assert error_of(response) == {
        "code": "authentication_failed",
        "message": "Invalid API token.",
        "fields": {},
    }
    response = client.get("/api/v1/sandboxes", HTTP_AUTHORIZATION="Bearer garbage")
    assert error_of(response)["message"] == "Malformed API token."


def test_method_not_allowed(client_for, world):
    response = client_for(world.alice).put("/api/v1/services/orders", {}, format="json")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_a_huge_token_ttl_is_a_field_error(client_for, world):
    response = client_for(world.alice).post(
        "/api/v1/tokens", {"name": "ci", "ttl": 10**20}, format="json"
    )
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"ttl": ["Must be at most 1000000000 seconds."]}


def test_a_trailing_newline_in_a_tenant_name_is_refused(client_for, world):
    response = client_for(world.alice).post("/api/v1/tenants", {"name": "dev\n"}, format="json")
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["name"]


def test_wait_timeout_is_ascii(client_for, world, make_sandbox):
    make_sandbox("pr-1")
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/wait?timeout=١")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"timeout": ["Must be a whole number in ASCII digits."]}
