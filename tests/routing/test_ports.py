"""Service port -> container port resolution for mirrord's http_filter.ports."""

from __future__ import annotations

import pytest

from routing.ports import UnresolvedPorts, resolve_target_ports


def service(*ports: dict) -> dict:
    return {"kind": "Service", "spec": {"ports": list(ports)}}


def deployment(*containers: dict, init: tuple[dict, ...] = ()) -> dict:
    return {
        "kind": "Deployment",
        "spec": {
            "template": {"spec": {"containers": list(containers), "initContainers": list(init)}}
        },
    }


APP = {
    "name": "app",
    "ports": [
        {"name": "http", "containerPort": 8080},
        {"name": "grpc", "containerPort": 9090},
        {"name": "dns", "containerPort": 5353, "protocol": "UDP"},
    ],
}


def test_numeric_target_port_is_the_container_port():
    assert resolve_target_ports(service({"port": 80, "targetPort": 8080}), None) == [8080]
    # The API server may hand back an int-or-string as a digit string.
    assert resolve_target_ports(service({"port": 80, "targetPort": "8081"}), None) == [8081]


def test_missing_target_port_means_the_same_as_port():
    assert resolve_target_ports(service({"port": 7778}), None) == [7778]


def test_named_target_port_is_looked_up_in_the_pod_template():
    svc = service({"port": 80, "targetPort": "http"}, {"port": 9000, "targetPort": "grpc"})
    assert resolve_target_ports(svc, deployment(APP)) == [8080, 9090]


def test_named_port_of_a_sidecar_init_container_counts_but_a_plain_init_does_not():
    sidecar = {
        "name": "proxy",
        "restartPolicy": "Always",
        "ports": [{"name": "admin", "containerPort": 9901}],
    }
    plain = {"name": "migrate", "ports": [{"name": "setup", "containerPort": 7000}]}
    dep = deployment(APP, init=(sidecar, plain))
    assert resolve_target_ports(service({"port": 1, "targetPort": "admin"}), dep) == [9901]
    with pytest.raises(UnresolvedPorts, match="no container port"):
        resolve_target_ports(service({"port": 1, "targetPort": "setup"}), dep)


def test_two_service_ports_on_one_container_port_are_listed_once():
    svc = service({"port": 80, "targetPort": 8080}, {"port": 8080, "targetPort": "http"})
    assert resolve_target_ports(svc, deployment(APP)) == [8080]


def test_udp_ports_are_not_http():
    svc = service(
        {"port": 53, "targetPort": "dns", "protocol": "UDP"},
        {"port": 80, "targetPort": 8080, "protocol": "TCP"},
    )
    assert resolve_target_ports(svc, deployment(APP)) == [8080]
    with pytest.raises(UnresolvedPorts, match="no TCP ports"):
        resolve_target_ports(service({"port": 53, "protocol": "UDP"}), deployment(APP))


@pytest.mark.parametrize(
    ("svc", "dep", "message"),
    [
        (None, deployment(APP), "Service does not exist"),
        (service(), deployment(APP), "no TCP ports"),
        (service({"port": 80, "targetPort": "web"}), deployment(APP), "no container port"),
        (service({"port": 80, "targetPort": "http"}), None, "Deployment does not exist"),
        # A UDP container port of that name is not where TCP traffic goes.
        (service({"port": 53, "targetPort": "dns"}), deployment(APP), "no container port"),
        (
            service({"port": 80, "targetPort": "http"}),
            deployment(APP, {"name": "b", "ports": [{"name": "http", "containerPort": 8081}]}),
            "several container ports",
        ),
    ],
)
def test_unresolvable_ports_are_an_error_never_a_guess(svc, dep, message):
    with pytest.raises(UnresolvedPorts, match=message):
        resolve_target_ports(svc, dep)
