"""The catalog says where gRPC is served and how Linkerd 1 names a service."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

pytestmark = pytest.mark.django_db


def test_catalog_shows_grpc_port_and_linkerd1_name(world, client_for):
    world.orders.ports = [8080, 9090]
    world.orders.grpc_port = 9090
    world.orders.save()
    alice = client_for(world.alice)
    orders = alice.get("/api/v1/services/orders").json()
    assert orders["grpcPort"] == 9090
    assert orders["linkerd1Name"] == ""
    assert alice.get("/api/v1/services/world").json()["linkerd1Name"] == "/host/world"


def test_grpc_port_must_be_a_port_and_names_must_be_dtab_paths(world):
    world.orders.grpc_port = 9090
    with pytest.raises(ValidationError) as caught:
        world.orders.full_clean()
    assert "grpc_port" in caught.value.message_dict
    world.world_svc.linkerd1_name = "host/world"
    world.world_svc.linkerd1_dst_prefix = "/srv/a b"
    with pytest.raises(ValidationError) as caught:
        world.world_svc.full_clean()
    assert set(caught.value.message_dict) == {"linkerd1_name", "linkerd1_dst_prefix"}
