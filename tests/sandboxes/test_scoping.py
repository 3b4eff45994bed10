"""Every read is scoped to the user's teams (and the token's tenant or team)."""

from __future__ import annotations

import pytest

from sandboxes import selectors, services
from sandboxes.models import Sandbox


@pytest.fixture
def sandboxes(world):
    def make(actor, tenant, name):
        return services.sandbox_create(
            actor=actor, tenant=tenant, name=name, forks=[world.fork("payments")]
        )

    return {
        "alice": make(world.alice, world.alice_tenant, "a1"),
        "bob": make(world.bob, world.bob_tenant, "b1"),
        "charlie": services.sandbox_create(
            actor=world.charlie,
            tenant=world.charlie_tenant,
            name="c1",
            forks=[{"service": "indexer"}],
        ),
    }


def _names(qs) -> set[str]:
    return set(qs.values_list("name", flat=True))


def test_teammates_see_each_others_sandboxes_and_charlie_sees_only_his(world, sandboxes):
    assert _names(selectors.sandboxes_for_user(world.alice)) == {"a1", "b1"}
    assert _names(selectors.sandboxes_for_user(world.bob)) == {"a1", "b1"}
    assert _names(selectors.sandboxes_for_user(world.charlie)) == {"c1"}


def test_a_single_lookup_outside_the_scope_is_not_found(world, sandboxes):
    with pytest.raises(Sandbox.DoesNotExist):
        selectors.sandbox_get(world.charlie, pk=sandboxes["alice"].pk)
    assert selectors.sandbox_get(world.bob, pk=sandboxes["alice"].pk).name == "a1"


def test_tenants_events_catalog_and_approvals_are_scoped(world, sandboxes):
    assert set(selectors.tenants_for_user(world.charlie).values_list("name", flat=True)) == {
        "charlie"
    }
    assert {e.sandbox.name for e in selectors.audit_events_for_user(world.charlie)} == {"c1"}
    assert set(
        selectors.baseline_services_for_user(world.charlie).values_list("name", flat=True)
    ) == {"indexer"}
    assert "indexer" not in set(
        selectors.baseline_services_for_user(world.alice).values_list("name", flat=True)
    )


def test_a_tenant_scoped_token_sees_only_its_tenant(world, sandboxes):
    issued = services.token_issue(
        actor=world.alice, team=world.shop, name="alice-ci", tenant=world.alice_tenant
    )
    assert _names(selectors.sandboxes_for_user(world.alice, issued.token)) == {"a1"}
    team_token = services.token_issue(actor=world.alice, team=world.shop, name="team-ci").token
    assert _names(selectors.sandboxes_for_user(world.alice, team_token)) == {"a1", "b1"}


def test_pending_approvals_show_to_other_leads_only(world):
    services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="p",
        profile="prod-like",
        forks=[world.fork("payments")],
    )
    assert selectors.approvals_pending_for_lead(world.alice).count() == 0
    assert selectors.approvals_pending_for_lead(world.dana).count() == 1
    assert selectors.approvals_pending_for_lead(world.bob).count() == 0
    assert selectors.approvals_pending_for_lead(world.charlie).count() == 0
