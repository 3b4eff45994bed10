"""The Django admin is no second write path: what it can change goes through the
services (an audit event, reconciles queued), the rest is read-only, and a tenant can
never get an empty key."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from routing.keys import is_valid_routing_key
from sandboxes import services
from sandboxes.models import AuditEvent, BaselineService, Sandbox, Team, Tenant
from sandboxes.routes import routable_forks

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def admin_client_(world: Any, client: Client) -> Client:
    admin = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123")
    client.force_login(admin)
    return client


@pytest.fixture
def sandbox(world: Any, queued_reconciles: list[int]) -> Sandbox:
    return services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="pr-1", forks=[world.fork("orders")]
    )


def test_tenants_written_outside_the_services_get_a_valid_distinct_key(world: Any) -> None:
    one = Tenant.objects.create(team=world.shop, name="ci-one")
    two = Tenant.objects.create(team=world.shop, name="ci-two")
    assert is_valid_routing_key(one.tenant_key)
    assert is_valid_routing_key(two.tenant_key)
    assert one.tenant_key != two.tenant_key


def test_tenant_and_token_admin_pages_are_read_only(admin_client_: Client, world: Any) -> None:
    assert admin_client_.get("/admin/sandboxes/tenant/add/").status_code == 403
    assert admin_client_.get("/admin/sandboxes/apitoken/add/").status_code == 403
    page = admin_client_.get(f"/admin/sandboxes/tenant/{world.alice_tenant.pk}/change/")
    assert page.status_code == 200
    assert b'name="name"' not in page.content  # shown, not editable
    response = admin_client_.post(
        f"/admin/sandboxes/tenant/{world.alice_tenant.pk}/change/",
        {"name": "renamed", "team": world.shop.pk, "kind": "developer"},
    )
    assert response.status_code == 403
    world.alice_tenant.refresh_from_db()
    assert world.alice_tenant.name == "alice"


def test_team_change_in_admin_is_audited_and_reconciles_its_sandboxes(
    admin_client_: Client,
    world: Any,
    sandbox: Sandbox,
    queued_reconciles: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    queued_reconciles.clear()
    page = admin_client_.get(f"/admin/sandboxes/team/{world.shop.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "members"}
    data.update(
        {
            "name": "Shop",
            "slug": "shop",
            "max_sandboxes": 5,
            "max_ttl": "7 00:00:00",
            "default_ttl": "08:00:00",
            "allowed_namespaces": "[]",
            "allowed_registries": "[]",
            "policy": world.policy.pk,
            "created_at_0": world.shop.created_at.strftime("%Y-%m-%d"),
            "created_at_1": world.shop.created_at.strftime("%H:%M:%S"),
        }
    )
    inline = page.context["inline_admin_formsets"][0].formset
    management = {
        f"{inline.prefix}-TOTAL_FORMS": str(inline.initial_form_count()),
        f"{inline.prefix}-INITIAL_FORMS": str(inline.initial_form_count()),
    }
    for i, sub in enumerate(inline.forms):
        if sub.instance.pk:
            management[f"{inline.prefix}-{i}-id"] = str(sub.instance.pk)
            management[f"{inline.prefix}-{i}-team"] = str(world.shop.pk)
            management[f"{inline.prefix}-{i}-user"] = str(sub.instance.user_id)
            management[f"{inline.prefix}-{i}-role"] = sub.instance.role
    data.update(management)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(f"/admin/sandboxes/team/{world.shop.pk}/change/", data)
    assert response.status_code == 302, (
        response.context["adminform"].form.errors,
        [f.errors for f in response.context["inline_admin_formsets"][0].formset.forms],
    )
    assert Team.objects.get(pk=world.shop.pk).max_sandboxes == 5
    event = AuditEvent.objects.filter(team=world.shop, verb="team.change").get()
    assert "max_sandboxes" in event.data["fields"]
    assert queued_reconciles == [sandbox.pk]


def test_catalog_change_reconciles_the_sandboxes_that_fork_it(
    world: Any,
    sandbox: Sandbox,
    queued_reconciles: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    queued_reconciles.clear()
    orders = BaselineService.objects.get(pk=world.orders.pk)
    orders.description = "The order service"
    with django_capture_on_commit_callbacks(execute=True):
        services.operator_save(actor=world.alice, obj=orders, changed=["description"])
    assert queued_reconciles == [sandbox.pk]
    assert AuditEvent.objects.filter(verb="catalog.change", team=world.shop).exists()
    with pytest.raises(services.Conflict):
        services.operator_delete(actor=world.alice, obj=orders)


def test_one_tenant_with_a_bad_key_never_stops_a_services_routes(
    world: Any, queued_reconciles: list[int]
) -> None:
    good = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="good", forks=[world.fork("orders")]
    )
    bad = services.sandbox_create(
        actor=world.bob, tenant=world.bob_tenant, name="bad", forks=[world.fork("orders")]
    )
    # As a row written by the old admin: an empty key (the migration repairs these).
    Tenant.objects.filter(pk=world.bob_tenant.pk).update(tenant_key="")
    forks = routable_forks(world.orders, require_deployed=False)
    by_sandbox = {f.sandbox: f for f in forks}
    assert set(by_sandbox) == {"alice/good", "bob/bad"}
    assert by_sandbox["alice/good"].tenant_key == world.alice_tenant.tenant_key
    assert by_sandbox["bob/bad"].tenant_key is None  # routed by its own sandbox key only
    assert by_sandbox["bob/bad"].routing_key == bad.routing_key
    assert good.pk != bad.pk
