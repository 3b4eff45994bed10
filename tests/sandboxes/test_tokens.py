"""API tokens: issued once, scoped to the team, revoked by the right people, and
checked by `portal.auth.BearerTokenAuthentication`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from portal.auth import BearerTokenAuthentication
from sandboxes import services
from sandboxes.errors import NotAllowed, ValidationFailed
from sandboxes.models import ApiToken, AuditEvent


def _authenticate(header: str | None):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    request = Request(APIRequestFactory().get("/api/v1/sandboxes", **extra))
    return BearerTokenAuthentication().authenticate(request)


@pytest.fixture
def bobs_token(world) -> services.IssuedToken:
    return services.token_issue(actor=world.bob, team=world.shop, name="bob-laptop")


# --- Issuing -----------------------------------------------------------------------------
def test_issue_returns_the_secret_once_and_records_no_copy_of_it(world):
    issued = services.token_issue(
        actor=world.alice, team=world.shop, name="alice-ci", tenant=world.alice_tenant
    )
    token = issued.token
    assert issued.secret.startswith(f"sst_{token.lookup_id}_")
    assert len(issued.secret) > len(f"sst_{token.lookup_id}_") + 30
    # Reading it back gives the hash only; the audit trail does not leak it either.
    fresh = ApiToken.objects.get(pk=token.pk)
    assert not hasattr(fresh, "secret")
    assert fresh.matches(issued.secret)
    event = AuditEvent.objects.get(verb="token.issue")
    assert (event.actor, event.team, event.data) == (world.alice, world.shop, {"tenant": "alice"})
    assert issued.secret not in f"{event.target} {event.data}"
    # Two tokens never share a secret or a lookup id.
    other = services.token_issue(actor=world.alice, team=world.shop, name="alice-ci-2")
    assert other.secret != issued.secret
    assert other.token.lookup_id != token.lookup_id


def test_a_token_cannot_be_scoped_to_another_teams_tenant(world):
    with pytest.raises(ValidationFailed) as caught:
        services.token_issue(
            actor=world.alice, team=world.shop, name="sneaky", tenant=world.charlie_tenant
        )
    assert list(caught.value.fields) == ["tenant"]
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(verb="token.issue").exists()


def test_only_members_issue_tokens_for_their_team(world):
    with pytest.raises(NotAllowed):
        services.token_issue(actor=world.charlie, team=world.shop, name="x")
    assert not ApiToken.objects.exists()


def test_a_token_name_is_unique_per_team_and_required(world, bobs_token):
    with pytest.raises(ValidationFailed) as caught:
        services.token_issue(actor=world.alice, team=world.shop, name="bob-laptop")
    assert list(caught.value.fields) == ["name"]
    with pytest.raises(ValidationFailed):
        services.token_issue(actor=world.alice, team=world.shop, name="  ")
    # Another team may use the same name.
    services.token_issue(actor=world.charlie, team=world.search, name="bob-laptop")


# --- Revoking ----------------------------------------------------------------------------
def test_the_owner_revokes_their_token_and_it_is_audited(world, bobs_token):
    token = services.token_revoke(actor=world.bob, token=bobs_token.token)
    assert token.revoked_at is not None
    assert ApiToken.objects.get(pk=token.pk).revoked_at == token.revoked_at
    event = AuditEvent.objects.get(verb="token.revoke")
    assert (event.actor, event.team, event.target) == (world.bob, world.shop, str(token))


def test_a_lead_revokes_a_members_token(world, bobs_token):
    services.token_revoke(actor=world.alice, token=bobs_token.token)
    assert ApiToken.objects.get(pk=bobs_token.token.pk).revoked_at is not None
    assert AuditEvent.objects.get(verb="token.revoke").actor == world.alice


def test_revoking_twice_keeps_the_first_time_and_one_event(world, bobs_token):
    first = services.token_revoke(actor=world.bob, token=bobs_token.token).revoked_at
    again = services.token_revoke(actor=world.alice, token=bobs_token.token).revoked_at
    assert again == first
    assert AuditEvent.objects.filter(verb="token.revoke").count() == 1


@pytest.mark.parametrize("who", ["bob", "charlie"])
def test_another_member_or_an_outsider_cannot_revoke(world, who):
    issued = services.token_issue(actor=world.alice, team=world.shop, name="alice-ci")
    with pytest.raises(NotAllowed):
        services.token_revoke(actor=getattr(world, who), token=issued.token)
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is None
    assert not AuditEvent.objects.filter(verb="token.revoke").exists()


# --- Authenticating ----------------------------------------------------------------------
def test_the_secret_authenticates_as_the_tokens_user(world, bobs_token):
    user, token = _authenticate(f"Bearer {bobs_token.secret}")
    assert user == world.bob
    assert token == bobs_token.token
    assert token.team == world.shop


def test_the_scheme_is_case_insensitive(world, bobs_token):
    user, _ = _authenticate(f"bearer {bobs_token.secret}")
    assert user == world.bob


def test_no_header_or_another_scheme_leaves_it_to_other_authenticators(db):
    assert _authenticate(None) is None
    assert _authenticate("Basic Ym9iOnNlY3JldA==") is None


def test_a_wrong_secret_is_refused(world, bobs_token):
    lookup = bobs_token.token.lookup_id
    for wrong in (
        bobs_token.secret[:-1] + ("A" if bobs_token.secret[-1] != "A" else "B"),
        f"sst_{lookup}_not-the-secret",
        "sst_000000000000_" + bobs_token.secret.rsplit("_", 1)[1],
    ):
        with pytest.raises(AuthenticationFailed, match="Invalid API token"):
            _authenticate(f"Bearer {wrong}")


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Bearer garbage", "Bearer sst_nounderscore"]
)
def test_a_malformed_header_is_refused(db, header):
    with pytest.raises(AuthenticationFailed):
        _authenticate(header)


def test_a_revoked_token_is_refused(world, bobs_token):
    services.token_revoke(actor=world.bob, token=bobs_token.token)
    with pytest.raises(AuthenticationFailed, match="revoked or expired"):
        _authenticate(f"Bearer {bobs_token.secret}")


def test_an_expired_token_is_refused(world):
    issued = services.token_issue(
        actor=world.bob, team=world.shop, name="short", ttl=timedelta(hours=1)
    )
    assert _authenticate(f"Bearer {issued.secret}")[0] == world.bob
    ApiToken.objects.filter(pk=issued.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(AuthenticationFailed, match="revoked or expired"):
        _authenticate(f"Bearer {issued.secret}")


def test_an_inactive_users_token_is_refused(world, bobs_token):
    world.bob.is_active = False
    world.bob.save(update_fields=["is_active"])
    with pytest.raises(AuthenticationFailed, match="inactive"):
        _authenticate(f"Bearer {bobs_token.secret}")


def test_last_used_at_is_written_at_most_once_a_minute(
    world, bobs_token, django_assert_num_queries
):
    pk, header = bobs_token.token.pk, f"Bearer {bobs_token.secret}"
    assert ApiToken.objects.get(pk=pk).last_used_at is None

    with django_assert_num_queries(2):  # look up, then record the first use
        _authenticate(header)
    first_use = ApiToken.objects.get(pk=pk).last_used_at
    assert first_use is not None

    with django_assert_num_queries(1):  # a read stays a read within the minute
        _authenticate(header)
    assert ApiToken.objects.get(pk=pk).last_used_at == first_use

    stale = timezone.now() - timedelta(minutes=2)
    ApiToken.objects.filter(pk=pk).update(last_used_at=stale)
    _, token = _authenticate(header)
    refreshed = ApiToken.objects.get(pk=pk).last_used_at
    assert refreshed > stale
    assert token.last_used_at == refreshed


def test_a_token_cannot_mint_a_token_that_outlives_it(world):
    from datetime import timedelta

    parent = services.token_issue(
        actor=world.alice, team=world.shop, name="short", ttl=timedelta(minutes=5)
    ).token
    child = services.token_issue(
        actor=world.alice, team=world.shop, name="forever", via_token=parent
    ).token
    assert child.expires_at == parent.expires_at
    longer = services.token_issue(
        actor=world.alice,
        team=world.shop,
        name="longer",
        ttl=timedelta(days=1),
        via_token=parent,
    ).token
    assert longer.expires_at == parent.expires_at
