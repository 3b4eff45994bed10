"""What a fleet of CI pipelines does to the API, on the real PostgreSQL, with threads.

Each thread has its own database connection (Django's connections are per thread), so
these are real concurrent transactions: row locks, foreign-key checks and unique
constraints interleave as they do under gunicorn with several workers and threads.
The tests are transactional (`transaction=True`): nothing here runs inside the
test-case transaction that would serialise everything.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from sandboxes import services
from sandboxes.models import ApiToken, AuditEvent, Sandbox, Tenant
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db(transaction=True)


def run_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Start `count` threads at once (a barrier), return each one's result or exception."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (a lock never released?)"
    return results


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def secrets_for(world: Any, count: int, *, user: Any = None, tenant: Any = None) -> list[str]:
    user = user or world.alice
    return [
        services.token_issue(
            actor=user, team=world.shop, name=f"t{i}-{user.username}", tenant=tenant
        ).secret
        for i in range(count)
    ]


def statuses(results: list[Any]) -> Counter:
    out: Counter = Counter()
    for r in results:
        if isinstance(r, BaseException):
            out[f"exception {type(r).__name__}: {r}"] += 1
        else:
            out[r.status_code] += 1
    return out


def doc(world: Any, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "tenant": "alice",
        "ttl": "2h",
        "labels": {"pr": name},
        "forks": [world.fork("orders")],
        **extra,
    }


@pytest.fixture(autouse=True)
def _no_broker(queued_reconciles: list[int]) -> None:
    """Reconciles are recorded, not run: these tests are about the web side."""


def test_create_list_delete_from_many_threads_never_fails(world):
    world.shop.max_sandboxes = 1000
    world.shop.save()
    tokens = secrets_for(world, 8)

    def work(i: int) -> list[int]:
        client = bearer(tokens[i])
        codes = []
        for round_ in range(6):
            name = f"t{i}-r{round_}"
            codes.append(client.post("/api/v1/sandboxes", doc(world, name), format="json"))
            codes.append(client.get("/api/v1/sandboxes?label=pr=" + name))
            codes.append(client.delete(f"/api/v1/sandboxes/{name}?tenant=alice"))
            # PATCH on another thread's sandbox: create, patch and delete interleave.
            other = f"t{(i + 1) % 8}-r{round_}"
            codes.append(
                client.patch(
                    f"/api/v1/sandboxes/{other}?tenant=alice",
                    {"description": f"by {i}"},
                    format="json",
                )
            )
        return [r.status_code for r in codes]

    results = run_threads(8, work)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    seen = Counter(code for codes in results for code in codes)
    # 404: the other thread's sandbox is not there yet; 409: it is being deleted.
    assert set(seen) <= {200, 201, 202, 404, 409}, seen
    assert Sandbox.objects.count() == 48
    assert Sandbox.objects.filter(deletion_requested_at__isnull=True).count() == 0
    assert AuditEvent.objects.filter(verb="sandbox.create").count() == 48
    assert AuditEvent.objects.filter(verb="sandbox.delete").count() == 48


def test_same_name_tokens_at_once_one_wins_the_rest_409(world):
    tokens = secrets_for(world, 8)

    results = run_threads(
        8, lambda i: bearer(tokens[i]).post("/api/v1/tokens", {"name": "ci"}, format="json")
    )
    assert statuses(results) == Counter({201: 1, 409: 7}), statuses(results)
    for r in results:
        if r.status_code == 409:
            assert error_of(r)["code"] == "conflict"
            assert error_of(r)["fields"] == {"name": ["Team shop already has a token named ci."]}
    assert ApiToken.objects.filter(name="ci").count() == 1


def test_same_name_tenants_at_once_one_wins_the_rest_409(world):
    tokens = secrets_for(world, 8)
    body = {"name": "pipeline", "kind": "ci", "team": "shop"}

    results = run_threads(
        8, lambda i: bearer(tokens[i]).post("/api/v1/tenants", body, format="json")
    )
    assert statuses(results) == Counter({201: 1, 409: 7}), statuses(results)
    assert {error_of(r)["code"] for r in results if r.status_code == 409} == {"conflict"}
    assert Tenant.objects.filter(name="pipeline").count() == 1


def test_a_sequential_duplicate_name_is_the_same_409(world, client_for):
    alice = client_for(world.alice)
    assert alice.post("/api/v1/tokens", {"name": "ci"}, format="json").status_code == 201
    again = alice.post("/api/v1/tokens", {"name": "ci"}, format="json")
    assert again.status_code == 409
    assert error_of(again)["fields"] == {"name": ["Team shop already has a token named ci."]}
    first = alice.post("/api/v1/sandboxes", doc(world, "pr-1"), format="json")
    assert first.status_code == 201
    dup = alice.post("/api/v1/sandboxes", doc(world, "pr-1"), format="json")
    assert dup.status_code == 409, dup.content
    assert error_of(dup)["fields"] == {"name": ["Tenant alice already has a sandbox named pr-1."]}


def test_parallel_creates_near_the_quota_never_exceed_it(world):
    world.shop.max_sandboxes = 5
    world.shop.save()
    services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="existing", forks=[world.fork()]
    )
    tokens = secrets_for(world, 10)

    results = run_threads(
        10,
        lambda i: bearer(tokens[i]).post("/api/v1/sandboxes", doc(world, f"q{i}"), format="json"),
    )
    assert statuses(results) == Counter({201: 4, 403: 6}), statuses(results)
    assert {error_of(r)["code"] for r in results if r.status_code == 403} == {"quota_exceeded"}
    assert Sandbox.objects.active().filter(tenant__team=world.shop).count() == 5


def test_ten_identical_puts_at_once_are_one_sandbox(world):
    tokens = secrets_for(world, 10)
    body = doc(world, "pr-42", description="PR 42")

    results = run_threads(
        10, lambda i: bearer(tokens[i]).put("/api/v1/sandboxes/pr-42", body, format="json")
    )
    assert statuses(results) == Counter({201: 1, 200: 9}), statuses(results)
    assert Sandbox.objects.filter(name="pr-42").count() == 1
    assert {r.json()["routingKey"] for r in results} == {Sandbox.objects.get().routing_key}
    assert {r.json()["generation"] for r in results} == {1}
    assert AuditEvent.objects.filter(verb="sandbox.create").count() == 1
    assert AuditEvent.objects.filter(verb="sandbox.update").count() == 0


def test_create_and_delete_racing_on_one_sandbox(world):
    tokens = secrets_for(world, 8)
    for round_ in range(4):
        name = f"race-{round_}"

        def work(i: int, name: str = name) -> Any:
            client = bearer(tokens[i])
            if i % 2:
                return client.delete(f"/api/v1/sandboxes/{name}?tenant=alice")
            return client.put(f"/api/v1/sandboxes/{name}", doc(world, name), format="json")

        results = run_threads(8, work)
        seen = statuses(results)
        assert set(seen) <= {200, 201, 202, 404, 409}, seen
        sandboxes = list(Sandbox.objects.filter(name=name))
        assert len(sandboxes) == 1, sandboxes
        # A delete that answered 202 left the sandbox deleting; a PUT after it got 409.
        deleting = sandboxes[0].deletion_requested_at is not None
        assert deleting == (seen[202] > 0)
        if not deleting:
            assert seen[404] == 4


def test_parallel_reads_with_one_token_write_last_used_once(world):
    """A GET must not write: of many requests that arrive together on a token whose
    `last_used_at` is stale, one records it and the rest only read."""
    secret = secrets_for(world, 1)[0]
    updates: list[str] = []

    def count_updates(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("UPDATE"):
            updates.append(sql)
        return execute(sql, params, many, context)

    def work(i: int) -> int:
        with connection.execute_wrapper(count_updates):
            return bearer(secret).get("/api/v1/sandboxes").status_code

    assert run_threads(10, work) == [200] * 10
    assert len(updates) == 1, updates
    assert 'UPDATE "sandboxes_apitoken"' in updates[0]
    assert ApiToken.objects.get(name="t0-alice").last_used_at is not None
