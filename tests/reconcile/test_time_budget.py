"""The time budget, against a server that accepts connections and never answers (what
a SIGSTOPped kube-apiserver looks like from the client): one layer of retries, calls
that stop at the run's deadline, and a condition that says what the run was doing.
Also: a lost database connection is re-established and the reconcile retried."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from kubernetes import client

from sandboxes import services
from sandboxes.budget import Deadline, deadline_scope
from sandboxes.cluster import Cluster, ClusterError
from sandboxes.reconcile import reconcile
from tests.support.slow_proxy import HoldingProxy


@pytest.fixture
def hung_server():
    """Accepts TCP connections and never sends a byte."""
    proxy = HoldingProxy("127.0.0.1", 9, max_hold=600)
    proxy.hold.set()
    yield proxy
    proxy.close()


def _cluster(server: HoldingProxy, **kwargs) -> Cluster:
    configuration = client.Configuration(host=f"http://127.0.0.1:{server.port}")
    return Cluster(client.ApiClient(configuration), **kwargs)


def test_one_layer_of_retries_against_a_hung_server(hung_server):
    """urllib3 would retry each idempotent request three more times on its own, each
    waiting out the read timeout; with its retries off, attempts are ours alone."""
    cluster = _cluster(hung_server, retries=2, backoff_seconds=0.01, timeout=(0.5, 0.5))
    with pytest.raises(ClusterError) as caught:
        cluster.get("apps/v1", "Deployment", "web", "shop")
    assert caught.value.transient and caught.value.reason == "ClusterUnreachable"
    # Discovery is the first request; it has a timeout too, and three attempts.
    assert "API discovery failed after 3 attempt(s)" in caught.value.message
    assert hung_server.accepted == 3


def test_a_call_never_outlasts_the_run_s_deadline(hung_server):
    cluster = _cluster(hung_server, retries=5, backoff_seconds=0.5, timeout=(5, 5))
    deadline = Deadline(1.0)
    with deadline_scope(deadline), pytest.raises(ClusterError) as caught:
        cluster.list("apps/v1", "Deployment", label_selector="a=b")
    # The read timeout was cut to what was left; no second attempt fits in the budget.
    assert hung_server.accepted == 1
    assert "no time left to retry" in caught.value.message
    assert deadline.doing == "API discovery"
    # Once the budget is spent, no call starts at all.
    with deadline_scope(deadline), pytest.raises(ClusterError) as caught:
        cluster.list("apps/v1", "Deployment", label_selector="a=b")
    assert hung_server.accepted == 1
    assert "used up its 1 s time budget and stopped before: API discovery" in (caught.value.message)


def test_a_reconcile_against_a_hung_server_records_what_it_was_doing(world, hung_server):
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="hung", forks=[world.fork()]
    )
    cluster = _cluster(hung_server, retries=2, backoff_seconds=0.01, timeout=(3, 3))
    outcome = reconcile(sandbox.pk, cluster=cluster, deadline=Deadline(1.5))
    assert outcome.status == "retry" and outcome.transient is not None
    sandbox.refresh_from_db()
    ready = next(c for c in sandbox.conditions if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ClusterUnreachable")
    assert "API discovery" in ready["message"]
    # Committed as it is: the outage is what a person sees, for this generation.
    assert sandbox.observed_generation == sandbox.generation


def test_a_lost_database_connection_is_reopened_and_the_reconcile_retried(world, transactional_db):
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="dbgone", forks=[world.fork()]
    )
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"], port=s["PORT"], user=s["USER"], password=s["PASSWORD"],
        dbname=s["NAME"], autocommit=True,
    ) as admin:  # fmt: skip
        # What a PostgreSQL restart or a failover does to an idle pooled connection.
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    outcome = reconcile(sandbox.pk, cluster=None)
    assert outcome.status == "render-only"
    assert connection.connection.info.backend_pid != pid
    sandbox.refresh_from_db()
    assert sandbox.observed_generation == sandbox.generation
