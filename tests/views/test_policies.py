"""The data-isolation policies: readable by every member of a team that uses them."""

from __future__ import annotations

from django.urls import reverse

from tests.factories import PolicyFactory, TeamFactory

URL = reverse("policies")


def test_members_read_their_policy_and_rules(login, world):
    body = login(world.bob).get(URL).content.decode()
    assert "default" in body
    assert "isolated-schema" in body and "prefix" in body
    assert "Shop" in body


def test_policies_of_other_teams_are_not_shown(login, world):
    TeamFactory(slug="other", policy=PolicyFactory(name="secret-policy"))
    body = login(world.bob).get(URL).content.decode()
    assert "secret-policy" not in body


def test_a_team_without_policy_is_explained(login, world):
    world.shop.policy = None
    world.shop.save()
    body = login(world.bob).get(URL).content.decode()
    assert "has no policy" in body


def test_read_only(login, world):
    assert login(world.alice).post(URL).status_code == 405
