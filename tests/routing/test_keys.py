import math

import pytest

from routing.keys import (
    ALPHABET,
    ROUTING_KEY_LENGTH,
    generate_routing_key,
    is_valid_routing_key,
)
from routing.plan import TenantKeyConflictError, plan_routes
from tests.routing.factories import ALICE_KEY, BOB_KEY, TENANT_KEY, fork


def test_generated_keys_are_lowercase_alphanumeric_and_long_enough():
    keys = {generate_routing_key() for _ in range(2000)}
    assert len(keys) == 2000
    for key in keys:
        assert len(key) == ROUTING_KEY_LENGTH
        assert set(key) <= set(ALPHABET)
        assert is_valid_routing_key(key)
    assert ROUTING_KEY_LENGTH * math.log2(len(ALPHABET)) >= 100


def test_generated_keys_use_the_whole_alphabet():
    chars = "".join(generate_routing_key() for _ in range(500))
    assert set(chars) == set(ALPHABET)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "A" * 20,
        "abcdefghijklmnop-rst",
        "abcdefghijklmnopqrs ",
        "x" * 41,
        None,
        12,
        "abcdefghijklmnopqrs\n",
        "ábcdefghijklmnopqrst",
    ],
)
def test_invalid_keys_are_rejected(value):
    assert not is_valid_routing_key(value)


def test_sixteen_characters_is_the_minimum():
    assert is_valid_routing_key("a" * 16)
    assert not is_valid_routing_key("a" * 15)


def test_plan_orders_routes_by_routing_key_whatever_the_input_order():
    forks = [fork(key=BOB_KEY), fork(key=ALICE_KEY)]
    plan_a = plan_routes("orders", forks)
    plan_b = plan_routes("orders", list(reversed(forks)))
    assert [r.fork.routing_key for r in plan_a.routes] == [ALICE_KEY, BOB_KEY]
    assert plan_a == plan_b


def test_tenant_key_routes_to_the_tenants_only_fork():
    plan = plan_routes("orders", [fork(key=ALICE_KEY, tenant_key=TENANT_KEY)])
    assert plan.routes[0].keys == (ALICE_KEY, TENANT_KEY)
    assert plan.conflicts == ()


def test_two_forks_of_one_tenant_conflict_but_sandbox_keys_still_route():
    forks = [
        fork(key=ALICE_KEY, sandbox="feature-a", tenant_key=TENANT_KEY),
        fork(key=BOB_KEY, sandbox="feature-b", tenant_key=TENANT_KEY),
    ]
    plan = plan_routes("orders", forks)
    assert [r.keys for r in plan.routes] == [(ALICE_KEY,), (BOB_KEY,)]
    (conflict,) = plan.conflicts
    assert conflict.sandboxes == ("feature-a", "feature-b")
    assert "feature-a, feature-b" in conflict.message
    assert "'orders'" in conflict.message
    assert TENANT_KEY not in conflict.message  # never leak a whole key into logs
    with pytest.raises(TenantKeyConflictError, match="cannot route service 'orders'"):
        raise TenantKeyConflictError(plan.conflicts)


def test_duplicate_sandbox_key_for_one_service_is_an_error():
    with pytest.raises(ValueError, match="appears twice"):
        plan_routes("orders", [fork(key=ALICE_KEY), fork(key=ALICE_KEY)])


def test_tenant_key_equal_to_another_sandbox_key_is_an_error():
    with pytest.raises(ValueError, match="equals a sandbox routing key"):
        plan_routes("orders", [fork(key=ALICE_KEY), fork(key=BOB_KEY, tenant_key=ALICE_KEY)])
