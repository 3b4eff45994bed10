# ruff: noqa: RUF001, RUF003 - non-ASCII look-alikes are what these tests are about
"""Validation is ASCII, follows the OCI reference grammar, and every length limit is the
database column's: nothing that passes validation can fail on PostgreSQL (a 500)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandboxes import models, services, validation
from sandboxes.api.fields import DurationSecondsField
from sandboxes.forms import SandboxDraft
from sandboxes.validation import (
    IMAGE_REFERENCE_MAX,
    ascii_int,
    dns1123_label_errors,
    env_errors,
    image_reference_errors,
    ttl_errors,
)

SHA256 = "sha256:" + "a" * 64
SHA512 = "sha512:" + "b" * 128
NON_ASCII = st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF, exclude_categories=["Cs"])


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/acme/orders:тест",
        "ghcr.io/acme/orders:v١",  # an Arabic-Indic digit, which \d matches
        "ghcr.io/acme/orders:vé",
        "ghcr.io/acme/ordérs:1",
        "ghcr.io/ａcme/orders:1",  # fullwidth
        "gһcr.io/acme/orders:1",  # Cyrillic һ in the registry host
        f"ghcr.io/acme/orders@sha256:{'a' * 63}١",
    ],
)
def test_non_ascii_image_references_are_refused(image):
    assert image_reference_errors(image) == [
        "An image reference is ASCII only (letters, digits, '.', '_', '-', '/', ':', '@')."
    ]


@pytest.mark.parametrize(
    "image",
    [
        f"ghcr.io/acme/orders@{SHA256}",
        f"ghcr.io/acme/orders:1.2@{SHA512}",
        "ghcr.io/acme/orders:" + "v" * 128,
    ],
)
def test_oci_digests_and_long_tags_are_accepted(image):
    assert image_reference_errors(image) == []


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/acme/orders@sha256:" + "a" * 65,  # too long for sha256
        "ghcr.io/acme/orders@sha256:" + "a" * 2000,  # would overflow the column
        "ghcr.io/acme/orders@sha256:" + "A" * 64,  # OCI: lowercase hex
        "ghcr.io/acme/orders@md5:" + "a" * 32,  # not a registered algorithm
        "ghcr.io/acme/orders:" + "v" * 129,  # tags stop at 128
        "ghcr.io/acme/orders:-v1",  # a tag cannot start with '-'
    ],
)
def test_digests_and_tags_outside_the_grammar_are_refused(image):
    assert image_reference_errors(image)


def test_the_longest_valid_reference_fits_the_column_and_longer_is_refused():
    name = "ghcr.io/" + "/".join(["a" * 60] * 4)  # 8 + 243 = 251 <= 255
    longest = f"{name}:{'t' * 128}@{SHA512}"
    assert len(longest) > IMAGE_REFERENCE_MAX
    assert image_reference_errors(longest) == [
        f"At most {IMAGE_REFERENCE_MAX} characters (got {len(longest)})."
    ]
    fits = f"{name}:{'t' * 100}@{SHA512}"
    assert len(fits) <= IMAGE_REFERENCE_MAX
    assert image_reference_errors(fits) == []


@given(st.text(alphabet=NON_ASCII, min_size=1, max_size=4))
def test_any_non_ascii_text_in_a_tag_is_refused(junk):
    assert image_reference_errors(f"ghcr.io/acme/orders:v1{junk}")


@given(st.text(alphabet=NON_ASCII, min_size=1, max_size=4))
def test_names_and_env_names_are_ascii(junk):
    assert dns1123_label_errors(f"pr{junk}1")
    assert env_errors([{"name": f"A{junk}", "value": ""}])


@given(st.integers(min_value=0, max_value=10**9))
def test_every_unicode_spelling_of_a_number_other_than_ascii_is_refused(number):
    arabic_indic = str(number).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    fullwidth = str(number).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert ascii_int(str(number)) == number
    assert ascii_int(arabic_indic) is None
    assert ascii_int(fullwidth) is None
    assert ascii_int(f" {number}") is None
    assert ascii_int("²") is None  # "²".isdigit() is True, int("²") raises


@pytest.mark.parametrize("value", ["١٢", "１２h", "12\n", " 12", "1_0", "١٢m"])
def test_ttl_strings_are_ascii(value):
    from rest_framework.exceptions import ValidationError

    with pytest.raises(ValidationError):
        DurationSecondsField().to_internal_value(value)


def test_ttl_in_the_form_is_ascii():
    draft = SandboxDraft(tenant_id=None, ttl_hours="١٫٥")
    assert draft.ttl_seconds() is None
    assert draft.errors == {"ttl": ["Enter a number of hours, e.g. 8 or 1.5."]}
    for junk in ("nan", "inf", "1_0", "８"):
        assert SandboxDraft(tenant_id=None, ttl_hours=junk).ttl_seconds() is None
    assert SandboxDraft(tenant_id=None, ttl_hours="1.5").ttl_seconds() == 5400


def test_ttl_rule_takes_only_integers():
    assert ttl_errors("12", timedelta(days=1)) == ["Must be a whole number of seconds."]


# --- Every limit is the column's ------------------------------------------------------------
def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


def test_length_limits_match_the_database_columns():
    assert _max_length(models.Sandbox, "name") == validation.SANDBOX_NAME_MAX
    assert _max_length(models.Tenant, "name") == validation.SANDBOX_NAME_MAX
    assert _max_length(models.Sandbox, "description") == validation.DESCRIPTION_MAX
    assert _max_length(models.Fork, "image") == validation.IMAGE_REFERENCE_MAX
    assert _max_length(models.Approval, "reason") == services.REASON_MAX
    assert _max_length(models.Approval, "request_note") == services.REASON_MAX
    assert _max_length(models.ApiToken, "name") == 100  # token_issue's limit


@pytest.mark.django_db
def test_a_maximal_image_is_stored_on_postgresql(world):
    image = "ghcr.io/acme/" + "o" * 200 + ":" + "t" * 128 + "@" + SHA512
    assert len(image) <= IMAGE_REFERENCE_MAX
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="pr-1",
        forks=[world.fork(image=image)],
    )
    assert sandbox.forks.get().image == image
