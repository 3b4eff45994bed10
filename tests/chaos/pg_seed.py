"""Run in a subprocess against a private PostgreSQL (tests/chaos/test_postgres.py):
build the test world, a catalog entry for the baseline `web` in the given namespace,
and `count` sandboxes through the services, whose on_commit enqueues reach the worker.
Prints the sandboxes as JSON lines."""

from __future__ import annotations

import json
import sys

import django


def main(namespace: str, count: int) -> None:
    django.setup()
    from django.db import transaction

    from sandboxes import services
    from sandboxes.models import Mesh
    from tests import factories
    from tests.fixtures.world import build_world

    with transaction.atomic():
        world = build_world()
        world.shop.allowed_namespaces = [*world.shop.allowed_namespaces, namespace]
        world.shop.save()
        factories.BaselineServiceFactory(name="web", namespace=namespace, mesh=Mesh.ISTIO)
    for i in range(count):
        sandbox = services.sandbox_create(
            actor=world.alice,
            tenant=world.alice_tenant,
            name=f"pg-{i}",
            forks=[{"service": "web"}],
        )
        print(json.dumps({"pk": sandbox.pk, "key": sandbox.routing_key, "name": sandbox.name}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
