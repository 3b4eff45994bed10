"""Fork-level rules that need the catalog, the team and the policy, with their exact
messages and field paths."""

from __future__ import annotations

import pytest

from sandboxes import services
from sandboxes.errors import ValidationFailed
from sandboxes.models import DataAction, DataKind
from tests import factories


def _errors(world, forks, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as err:
        services.sandbox_create(
            actor=world.alice, tenant=world.alice_tenant, name="pr-1", forks=forks, **kwargs
        )
    return err.value.fields


UNKNOWN = (
    "Unknown service {!r}: not in the catalog of services team shop may fork "
    "(GET /api/v1/services lists them)."
)


def test_unknown_service(world):
    assert _errors(world, [world.fork("nope")]) == {"forks[0].service": [UNKNOWN.format("nope")]}


def test_another_teams_service_reads_exactly_like_an_unknown_one(world):
    """Otherwise a team could enumerate the names (and namespaces) of every other team's
    catalog entries by trying them."""
    hidden = _errors(world, [world.fork("indexer")])
    missing = _errors(world, [world.fork("nope")])
    assert hidden == {"forks[0].service": [UNKNOWN.format("indexer")]}
    assert (
        hidden["forks[0].service"][0].replace("indexer", "nope") == (missing["forks[0].service"][0])
    )
    assert "search" not in hidden["forks[0].service"][0]


def test_the_same_service_cannot_be_forked_twice(world):
    assert _errors(world, [world.fork("payments"), world.fork("payments")]) == {
        "forks[1].service": ["Service payments is forked twice."]
    }


def test_registry_outside_the_allow_list(world):
    fields = _errors(world, [world.fork("payments", image="quay.io/acme/payments:1")])
    assert fields == {
        "forks[0].image": [
            "Registry not allowed for team shop (allowed: ghcr.io/acme, docker.io/library)."
        ]
    }


def test_bad_image_env_and_replicas_are_all_reported_at_once(world):
    fields = _errors(
        world,
        [
            world.fork(
                "payments",
                image="ghcr.io/acme/Payments",
                env=[{"name": "9X", "value": "1"}],
                replicas=9,
            )
        ],
    )
    assert set(fields) == {"forks[0].image", "forks[0].env[0].name", "forks[0].replicas"}
    assert fields["forks[0].replicas"] == ["Must be between 0 and 3 (the team's limit)."]


def test_ttl_bounds(world):
    assert _errors(world, [world.fork("payments")], ttl_seconds=0) == {
        "ttl": ["Must be greater than 0 seconds."]
    }
    assert _errors(world, [world.fork("payments")], ttl_seconds=8 * 24 * 3600) == {
        "ttl": ["Must be at most 604800 seconds (the team's maximum)."]
    }


def test_no_forks_and_too_many_forks(world):
    assert _errors(world, []) == {"forks": ["A sandbox needs at least one fork."]}
    world.shop.max_forks_per_sandbox = 1
    world.shop.save()
    assert _errors(world, [world.fork("payments"), world.fork("frontend")]) == {
        "forks": ["At most 1 forks per sandbox (the team's limit)."]
    }


def test_unknown_profile_and_fork_keys(world):
    assert _errors(world, [{"service": "payments", "imgae": "x"}], profile="prod") == {
        "profile": ["Must be one of: dev, prod-like."],
        "forks[0]": ["Unknown keys: imgae."],
    }


def test_a_deny_rule_refuses_the_fork(world):
    factories.RuleFactory(
        policy=world.policy,
        kind=DataKind.KAFKA_TOPIC,
        baseline=world.orders,
        resource_name="orders-events",
        action=DataAction.DENY,
    )
    fields = _errors(world, [world.fork("orders")])
    assert fields == {
        "forks[0].service": [
            "The data-isolation policy denies forks of orders access to orders-events "
            "(Kafka topic, $ORDERS_TOPIC); rule: orders:orders-events [*] -> deny."
        ]
    }


def test_a_team_without_a_policy_refuses_services_with_data(world):
    world.shop.policy = None
    world.shop.save()
    fields = _errors(world, [world.fork("orders")])
    assert len(fields["forks[0].service"]) == 2
    assert "rule: policy fallback" in fields["forks[0].service"][0]
    # A service without data resources needs no policy.
    services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="ok", forks=[world.fork("payments")]
    )


def test_policy_actions_follow_specificity(world):
    from sandboxes.policies import plan_data_isolation

    plans = {
        p.resource.name: p.action for p in plan_data_isolation(world.shop, world.orders, "dev")
    }
    assert plans == {"orders-db": "isolated-schema", "orders-events": "prefix"}
    factories.RuleFactory(
        policy=world.policy, kind=DataKind.POSTGRES, profile="prod-like", action="read-only"
    )
    prod = {
        p.resource.name: p.action
        for p in plan_data_isolation(world.shop, world.orders, "prod-like")
    }
    assert prod == {"orders-db": "read-only", "orders-events": "prefix"}


def test_a_fork_cannot_override_an_env_var_the_data_policy_decides(world):
    fields = _errors(
        world, [world.fork("orders", env=[{"name": "DATABASE_URL", "value": "postgres://x"}])]
    )
    assert fields == {
        "forks[0].env[0].name": [
            "DATABASE_URL points at orders-db; the data-isolation policy decides its value, "
            "so a fork cannot override it."
        ]
    }
