"""Run in a subprocess with `DATABASE_URL=sqlite:///...` (see tests/api/test_sqlite.py):
the embedded default's real SQLite, migrated from scratch. Builds the test world,
answers the list filters through the API, and lets several threads read and write at
once. Prints one JSON document on stdout."""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()
from django.test.utils import setup_test_environment  # noqa: E402

setup_test_environment()  # lets the test client's "testserver" host in

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from sandboxes import conditions as c  # noqa: E402
from sandboxes import services  # noqa: E402
from sandboxes.models import Sandbox  # noqa: E402
from tests.fixtures.world import build_world  # noqa: E402


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(item["name"] for item in response.json()["results"])


def main() -> None:
    assert settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
    call_command("migrate", verbosity=0)
    world = build_world()
    world.shop.max_sandboxes = 100
    world.shop.save()
    token = services.token_issue(actor=world.alice, team=world.shop, name="ci").secret
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    for name, labels in (("a", {"pr": "1"}), ("b", {"pr": "2"}), ("c", {"team": "x", "42": "y"})):
        services.sandbox_create(
            actor=world.alice,
            tenant=world.alice_tenant,
            name=name,
            forks=[world.fork()],
            labels=labels,
        )
    for name, status in (("a", "True"), ("b", "False")):
        sandbox = Sandbox.objects.get(name=name)
        sandbox.conditions = c.set_condition(
            sandbox.conditions,
            type_=c.READY,
            status=status,
            reason="Test",
            message="Test.",
            generation=sandbox.generation,
            now=timezone.now(),
        )
        sandbox.save(update_fields=["conditions"])
    out: dict[str, Any] = {
        "label_kv": names(client.get("/api/v1/sandboxes?label=pr=1")),
        "label_key": names(client.get("/api/v1/sandboxes?label=pr")),
        "ready": names(client.get("/api/v1/sandboxes?condition=Ready")),
        "not_ready": names(client.get("/api/v1/sandboxes?condition=Ready=False")),
        "unknown": names(client.get("/api/v1/sandboxes?condition=Ready=Unknown")),
        "numeric_key": names(client.get("/api/v1/sandboxes?label=42=y")),
        "numeric_has": names(client.get("/api/v1/sandboxes?label=42")),
        "both": names(client.get("/api/v1/sandboxes?condition=Ready=False&label=pr=2")),
    }

    # Readers and writers at once: WAL, the busy timeout and IMMEDIATE transactions
    # must turn contention into waiting, never into "database is locked".
    failures: list[str] = []
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        try:
            mine = APIClient()
            mine.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            barrier.wait()
            for round_ in range(5):
                name = f"w{i}-{round_}"
                doc = {"tenant": "alice", "forks": [world.fork()], "labels": {"pr": name}}
                path = f"/api/v1/sandboxes/{name}"
                for op, method, url, body in (
                    ("put", "put", path, doc),
                    (
                        "list",
                        "get",
                        f"/api/v1/sandboxes?label=pr={name}&condition=Ready=Unknown",
                        None,
                    ),
                    ("patch", "patch", path, {"description": "x"}),
                    ("delete", "delete", path, None),
                ):
                    try:
                        response = getattr(mine, method)(url, body, format="json")
                    except Exception as exc:
                        failures.append(f"{op} {name}: {exc!r}")
                        continue
                    if response.status_code >= 300:
                        failures.append(f"{op}: {response.status_code} {response.content[:200]!r}")
        except Exception as exc:
            failures.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out["concurrent_failures"] = failures
    out["concurrent_sandboxes"] = Sandbox.objects.filter(name__startswith="w").count()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
