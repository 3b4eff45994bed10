"""seed_demo: a demo team a new user understands, safe to run twice, refused in
production unless forced, and usable as seeded."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from sandboxes import services
from sandboxes.management.commands.seed_demo import DEMO_PASSWORD
from sandboxes.models import (
    BaselineService,
    DataAction,
    DataIsolationPolicy,
    DataIsolationRule,
    DataResource,
    Fork,
    Membership,
    Role,
    Sandbox,
    Team,
    Tenant,
    TenantKind,
)
from sandboxes.policies import plan_data_isolation

User = get_user_model()
SEEDED_MODELS = [
    User,
    Team,
    Membership,
    Tenant,
    BaselineService,
    DataResource,
    DataIsolationPolicy,
    DataIsolationRule,
]


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in SEEDED_MODELS}


@pytest.fixture
def seeded(db, settings):
    settings.DEBUG = True
    _seed()


def test_seed_creates_the_demo_team_people_and_tenants(seeded):
    team = Team.objects.get(slug="demo")
    roles = {m.user.username: m.role for m in team.memberships.select_related("user")}
    assert roles == {"lead": Role.LEAD, "dev": Role.MEMBER, "qa": Role.MEMBER}
    for username in roles:
        assert User.objects.get(username=username).check_password(DEMO_PASSWORD)
    tenants = {t.name: t for t in Tenant.objects.filter(team=team)}
    assert set(tenants) == {"lead", "dev", "qa", "ci"}
    assert tenants["dev"].owner.username == "dev"
    assert (tenants["ci"].kind, tenants["ci"].owner) == (TenantKind.CI, None)
    assert len({t.tenant_key for t in tenants.values()}) == 4
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert not Membership.objects.filter(user=admin).exists()


def test_seed_creates_the_catalog_and_the_default_policy(seeded):
    assert set(BaselineService.objects.values_list("name", flat=True)) == {
        "hello",
        "world",
        "frontend",
        "orders",
        "payments",
    }
    orders = BaselineService.objects.get(name="orders")
    assert {(r.name, r.kind, r.env_var) for r in orders.data_resources.all()} == {
        ("orders-db", "postgres", "DATABASE_URL"),
        ("orders-events", "kafka-topic", "ORDERS_TOPIC"),
    }
    policy = DataIsolationPolicy.objects.get(name="staging-default")
    assert policy.fallback_action == DataAction.DENY
    assert Team.objects.get(slug="demo").policy == policy
    assert policy.rules.count() >= 2


def test_seed_twice_creates_nothing_new(seeded):
    before = _counts()
    keys_before = set(Tenant.objects.values_list("tenant_key", flat=True))
    _seed()
    assert _counts() == before
    assert set(Tenant.objects.values_list("tenant_key", flat=True)) == keys_before


def test_without_debug_seed_refuses_and_writes_nothing(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        _seed()
    assert sum(_counts().values()) == 0


def test_force_seeds_without_debug(db, settings):
    settings.DEBUG = False
    assert "Demo ready" in _seed("--force")
    assert Team.objects.filter(slug="demo").exists()


def test_dev_can_fork_orders_from_the_seeded_data(seeded):
    dev = User.objects.get(username="dev")
    team = Team.objects.get(slug="demo")
    orders = BaselineService.objects.get(name="orders")
    decisions = {
        p.resource.name: p.decision.action for p in plan_data_isolation(team, orders, "dev")
    }
    assert decisions == {
        "orders-db": DataAction.ISOLATED_SCHEMA,
        "orders-events": DataAction.PREFIX,
    }

    sandbox = services.sandbox_create(
        actor=dev,
        tenant=Tenant.objects.get(team=team, name="dev"),
        name="try-orders",
        forks=[{"service": "orders", "image": "ghcr.io/acme/orders:pr-1"}],
    )
    assert Sandbox.objects.get(pk=sandbox.pk).created_by == dev
    assert list(Fork.objects.filter(sandbox=sandbox).values_list("baseline__name", flat=True)) == [
        "orders"
    ]
