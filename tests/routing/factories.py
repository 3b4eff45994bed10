"""Small builders for routing inputs."""

from __future__ import annotations

from routing.keys import generate_routing_key
from routing.model import BaselineService, Fork, ServicePort
from routing.names import fork_object_name

ALICE_KEY = "alice0000000000000k1"
BOB_KEY = "bob00000000000000k22"
TENANT_KEY = "tenant00000000000t01"


def baseline(
    mesh: str = "istio", name: str = "orders", ports: tuple[int, ...] = (8080,)
) -> BaselineService:
    return BaselineService(
        name=name,
        namespace="shop",
        service_name=name,
        ports=tuple(ServicePort(p, name=f"http-{p}") for p in ports),
        mesh=mesh,
    )


def fork(
    service: str = "orders",
    key: str | None = None,
    sandbox: str | None = None,
    tenant_key: str | None = None,
) -> Fork:
    key = key or generate_routing_key()
    return Fork(
        sandbox=sandbox or f"sbx-{key[:5]}",
        routing_key=key,
        fork_service=fork_object_name(service, key),
        tenant_key=tenant_key,
    )
