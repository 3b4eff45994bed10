"""Data isolation: the fork's env from the policy (pure), and the schemas and databases
created per sandbox in the real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from sandboxes.data_isolation import (
    DataIsolationError,
    Provision,
    deprovision,
    plan_fork_data,
    provision,
    with_database,
    with_search_path,
)
from sandboxes.models import DataAction, DataKind
from sandboxes.policies import plan_data_isolation
from tests import factories

KEY = "k7f3q9x2m4p8w1z6c5v0"
BASE_URL = "postgres://orders:pw@db.shop:5432/orders?sslmode=require"


def test_env_rewrites_keep_what_the_baseline_had():
    assert with_search_path(BASE_URL, "sbx_x") == (
        "postgres://orders:pw@db.shop:5432/orders?sslmode=require&options=-csearch_path%3Dsbx_x"
    )
    with_options = "postgres://h/db?options=-cstatement_timeout%3D5s%20-csearch_path%3Dold"
    assert with_search_path(with_options, "sbx_x") == (
        "postgres://h/db?options=-cstatement_timeout%3D5s%20-csearch_path%3Dsbx_x"
    )
    assert with_database(BASE_URL, "sbx_x") == (
        "postgres://orders:pw@db.shop:5432/sbx_x?sslmode=require"
    )


def test_the_policy_decides_each_variable(world):
    world.orders.data_resources.filter(name="orders-db").update(provisioner_dsn_env="DSN")
    env, provisions = plan_fork_data(
        plan_data_isolation(world.shop, world.orders, "dev"),
        {"DATABASE_URL": BASE_URL, "ORDERS_TOPIC": "orders"},
        KEY,
    )
    assert env == {
        "DATABASE_URL": with_search_path(BASE_URL, f"sbx_{KEY}"),
        "ORDERS_TOPIC": f"sbx-{KEY}-orders",
    }
    assert provisions == [Provision("orders-db", "schema", f"sbx_{KEY}", "DSN")]


def test_what_cannot_be_realised_is_said_plainly(world):
    plans = plan_data_isolation(world.shop, world.orders, "dev")
    with pytest.raises(DataIsolationError) as err:  # no provisioner configured
        plan_fork_data(plans, {"DATABASE_URL": BASE_URL}, KEY)
    assert err.value.reason == "NoProvisionerCredentials"
    world.orders.data_resources.filter(name="orders-db").update(provisioner_dsn_env="DSN")
    plans = plan_data_isolation(world.shop, world.orders, "dev")
    with pytest.raises(DataIsolationError) as err:  # the URL comes from a Secret
        plan_fork_data(plans, {"DATABASE_URL": None}, KEY)
    assert err.value.reason == "EnvNotRewritable"
    factories.RuleFactory(
        policy=world.policy,
        kind=DataKind.POSTGRES,
        profile="prod-like",
        action=DataAction.READ_ONLY,
    )
    plans = plan_data_isolation(world.shop, world.orders, "prod-like")
    with pytest.raises(DataIsolationError) as err:  # read-only, but no replica configured
        plan_fork_data(plans, {"DATABASE_URL": BASE_URL}, KEY)
    assert err.value.reason == "NoReadOnlyEndpoint"


@pytest.fixture
def admin_dsn(monkeypatch):
    s = connection.settings_dict
    dsn = f"postgresql://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
    monkeypatch.setenv("SIDESTAGE_TEST_ADMIN_DSN", dsn)
    return dsn


def _exists(dsn: str, query: str, name: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query, [name]).fetchone() is not None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("kind", "query"),
    [
        ("schema", "SELECT 1 FROM pg_namespace WHERE nspname = %s"),
        ("database", "SELECT 1 FROM pg_database WHERE datname = %s"),
    ],
)
def test_provisioning_is_real_and_idempotent(admin_dsn, kind, query):
    item = Provision("orders-db", kind, f"sbx_{KEY}_{kind}", "SIDESTAGE_TEST_ADMIN_DSN")
    try:
        provision(item)
        provision(item)  # twice is fine
        assert _exists(admin_dsn, query, item.name)
    finally:
        deprovision(item)
        deprovision(item)  # and so is dropping twice
    assert not _exists(admin_dsn, query, item.name)


def test_provisioning_errors_name_what_failed(monkeypatch, admin_dsn):
    # A server that does not answer: retried (a restart, a failover), not terminal.
    monkeypatch.setenv("SIDESTAGE_TEST_ADMIN_DSN", "postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(DataIsolationError) as err:
        provision(Provision("orders-db", "schema", "sbx_x", "SIDESTAGE_TEST_ADMIN_DSN"))
    assert (err.value.reason, err.value.transient) == ("DataUnreachable", True)
    assert err.value.message.startswith("creating schema sbx_x:")
    # A server that answers "no" (here: no such database): a person must act.
    monkeypatch.setenv("SIDESTAGE_TEST_ADMIN_DSN", admin_dsn.rsplit("/", 1)[0] + "/no_such_db")
    with pytest.raises(DataIsolationError) as err:
        provision(Provision("orders-db", "schema", "sbx_x", "SIDESTAGE_TEST_ADMIN_DSN"))
    assert (err.value.reason, err.value.transient) == ("DataProvisioningFailed", False)
    assert err.value.message.startswith("creating schema sbx_x:")
    monkeypatch.delenv("SIDESTAGE_TEST_ADMIN_DSN")
    with pytest.raises(DataIsolationError) as err:
        provision(Provision("orders-db", "schema", "sbx_x", "SIDESTAGE_TEST_ADMIN_DSN"))
    assert err.value.reason == "NoProvisionerCredentials"
