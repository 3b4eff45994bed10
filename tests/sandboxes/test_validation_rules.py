"""The pure validation rules, one behaviour at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandboxes.validation import (
    ENV_VALUE_MAX_BYTES,
    dns1123_label_errors,
    env_errors,
    image_reference_errors,
    labels_errors,
    parse_image_reference,
    registry_allowed,
    replicas_errors,
    ttl_errors,
)

DNS_MSG = (
    "Must be a DNS-1123 label: lowercase letters, digits and '-', "
    "starting and ending with a letter or digit."
)


@pytest.mark.parametrize("name", ["a", "pr-42", "a" * 40, "0abc", "x-1-y"])
def test_valid_sandbox_names(name):
    assert dns1123_label_errors(name, max_length=40) == []


@pytest.mark.parametrize(
    ("name", "errors"),
    [
        ("", ["This field is required."]),
        (None, ["This field is required."]),
        ("PR-42", [DNS_MSG]),
        ("-pr", [DNS_MSG]),
        ("pr-", [DNS_MSG]),
        ("pr_42", [DNS_MSG]),
        ("pr.42", [DNS_MSG]),
        ("a" * 41, ["Must be at most 40 characters (got 41)."]),
    ],
)
def test_invalid_sandbox_names(name, errors):
    assert dns1123_label_errors(name, max_length=40) == errors


@pytest.mark.parametrize(
    ("image", "registry", "path", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", None, None),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", None),
        ("acme/orders:pr-1", "docker.io", "acme/orders", "pr-1", None),
        ("ghcr.io/acme/orders:1.4.2", "ghcr.io", "acme/orders", "1.4.2", None),
        ("localhost/app", "localhost", "app", None, None),
        ("registry.local:5000/team/app:v1", "registry.local:5000", "team/app", "v1", None),
        ("[::1]:5000/app:dev", "[::1]:5000", "app", "dev", None),
        (
            "ghcr.io/acme/orders@sha256:" + "a" * 64,
            "ghcr.io",
            "acme/orders",
            None,
            "sha256:" + "a" * 64,
        ),
        ("ghcr.io/acme/my__app-x.y:Tag_1.0", "ghcr.io", "acme/my__app-x.y", "Tag_1.0", None),
    ],
)
def test_image_references_parse_like_distribution_reference(image, registry, path, tag, digest):
    assert image_reference_errors(image) == []
    ref = parse_image_reference(image)
    assert (ref.registry, ref.path, ref.tag, ref.digest) == (registry, path, tag, digest)


@pytest.mark.parametrize(
    "image",
    [
        "Nginx",  # uppercase repository
        "ghcr.io/Acme/orders",
        "orders:",  # empty tag
        "orders:-bad",  # tag cannot start with '-'
        "orders:" + "t" * 129,  # tag too long
        "orders@sha256:abc",  # digest too short
        "ghcr.io//orders",
        "orders/",
        "-orders",
        "orders..x",
        "a" * 256,
        "ghcr.io/acme/orders:1.0 ",
        "ghcr.io/acme/or ders",
        "https://ghcr.io/acme/orders",
    ],
)
def test_invalid_image_references(image):
    assert image_reference_errors(image)


def test_empty_image_means_keep_the_baseline_image():
    assert image_reference_errors("") == []


@pytest.mark.parametrize(
    ("image", "allowed", "ok"),
    [
        ("ghcr.io/acme/orders:1", ["ghcr.io/acme"], True),
        ("ghcr.io/acmecorp/orders:1", ["ghcr.io/acme"], False),
        ("nginx:1.27", ["docker.io/library"], True),
        ("evil/nginx:1.27", ["docker.io/library"], False),
        ("registry.local:5000/app", ["registry.local:5000"], True),
        ("registry.local:5001/app", ["registry.local:5000"], False),
        ("ghcr.io/acme/orders", [], False),
    ],
)
def test_registry_allow_list_matches_whole_path_components(image, allowed, ok):
    assert registry_allowed(image, allowed) is ok


def test_env_names_must_be_c_identifiers_and_unique():
    errors = env_errors(
        [
            {"name": "GOOD_1", "value": "x"},
            {"name": "1BAD", "value": "x"},
            {"name": "with-dash", "value": "x"},
            {"name": "GOOD_1", "value": "y"},
            {"name": "SIDESTAGE_ROUTING_KEY", "value": "y"},
            {"value": "no name"},
        ]
    )
    ident = "Must be a C identifier: letters, digits and '_', not starting with a digit."
    assert errors == {
        "env[1].name": [ident],
        "env[2].name": [ident],
        "env[3].name": ["GOOD_1 is set twice."],
        "env[4].name": ["SIDESTAGE_ROUTING_KEY is set by Sidestage and cannot be overridden."],
        "env[5].name": ["This field is required."],
    }


def test_env_values_are_size_capped_and_must_be_strings():
    big = "x" * (ENV_VALUE_MAX_BYTES + 1)
    errors = env_errors([{"name": "A", "value": big}, {"name": "B", "value": 3}])
    assert errors == {
        "env[0].value": [f"At most {ENV_VALUE_MAX_BYTES} bytes (got {ENV_VALUE_MAX_BYTES + 1})."],
        "env[1].value": ["Must be a string."],
    }
    assert env_errors("A=1") == {"env": ['Must be a list of {"name": ..., "value": ...} objects.']}


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        (0, []),
        (3, []),
        (4, ["Must be between 0 and 3 (the team's limit)."]),
        (-1, ["Must be between 0 and 3 (the team's limit)."]),
        ("2", ["Must be an integer."]),
        (True, ["Must be an integer."]),
    ],
)
def test_replicas_are_bounded(value, errors):
    assert replicas_errors(value, 3) == errors


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        (1, []),
        (3600, []),
        (0, ["Must be greater than 0 seconds."]),
        (-5, ["Must be greater than 0 seconds."]),
        (3601, ["Must be at most 3600 seconds (the team's maximum)."]),
        ("60", ["Must be a whole number of seconds."]),
        (1.5, ["Must be a whole number of seconds."]),
    ],
)
def test_ttl_is_positive_and_at_most_the_team_maximum(value, errors):
    assert ttl_errors(value, timedelta(hours=1)) == errors


def test_labels_are_dns_keys_and_short_string_values():
    assert labels_errors({"pr": "42", "repo": "shop"}) == []
    assert labels_errors({"Bad Key": "x"}) == ["Label key 'Bad Key' must be a DNS-1123 label."]
    assert labels_errors({"k": "v" * 64}) == [
        "Label 'k' must be a string of at most 63 characters."
    ]
    assert labels_errors(["x"]) == ["Must be an object of string keys to string values."]


def test_free_text_is_bounded_and_never_holds_nul():
    from sandboxes.validation import text_errors

    assert text_errors("fine", max_length=10) == []
    assert text_errors("a\x00b", max_length=10) == ["May not contain NUL characters."]
    assert text_errors("x" * 11, max_length=10) == ["At most 10 characters (got 11)."]
    assert text_errors("  ", max_length=10, required=True) == ["This field is required."]
    assert text_errors(3, max_length=10) == ["Must be a string."]
    assert dns1123_label_errors("pr-1\n", max_length=40) == [DNS_MSG]
